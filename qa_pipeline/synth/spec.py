"""Dialogue spec (YAML) parsing. The format is documented in docs/samples.md.

Minimal example::

    id: bill_query_perfect
    topic: 话费查询
    turns:
      - agent: 您好，很高兴为您服务，请问有什么可以帮您？
        tags: [greeting, polite]
      - customer: 我想查一下这个月的话费。
        gap: 0.6                 # seconds of silence after everything before has ended
      - agent: 好的，请您稍等，我帮您查询一下。
        tags: [hold_notice]
      - hold: 35                 # hold music on the agent channel for 35 s
      - agent: 让您久等了，您本月话费是五十八元。
        tags: [hold_apology]
      - customer: 嗯
        overlap: 0.4             # starts 0.4 s before the previous turn ends
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SPEAKERS = ("agent", "customer")
KNOWN_TAGS = {
    "greeting",
    "closing",  # thanks / goodbye (感谢您的来电, 再见)
    "closing_ask",  # the ask for further needs (请问还有什么可以帮您)
    "polite",
    "honorific_title",
    "forbidden",
    "colloquial",
    "hold_notice",
    "hold_apology",
    "transfer_phrase",
    "confirm",
    "repeated_question",
    "backchannel",
}
DEFAULT_GAP = 0.5
DEFAULT_HOLD_GAP = 0.3
DEFAULT_TRANSFER_GAP = 2.5


@dataclass
class TurnSpec:
    speaker: str
    text: str
    gap: float | None = None
    overlap: float | None = None
    offset: float | None = None
    speed: float = 1.0
    volume_db: float = 0.0
    tags: list[str] = field(default_factory=list)
    tag_values: dict[str, list[str]] = field(default_factory=dict)
    clip: str | None = None
    voice: str | None = None


@dataclass
class HoldSpec:
    seconds: float
    gap: float | None = None


@dataclass
class SilenceSpec:
    seconds: float


@dataclass
class TransferSpec:
    target: str
    gap: float | None = None


Item = TurnSpec | HoldSpec | SilenceSpec | TransferSpec


@dataclass
class DialogueSpec:
    id: str
    title: str = ""
    topic: str = ""
    quality: str | None = None
    seed: int = 0
    snr_db: float = 40.0
    lead_in: float = 0.6
    tail: float = 1.0
    voices: dict[str, dict[str, Any]] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    items: list[Item] = field(default_factory=list)
    source: str = ""


def _tags(raw: Any) -> tuple[list[str], dict[str, list[str]]]:
    tags: list[str] = []
    values: dict[str, list[str]] = {}
    for t in raw or []:
        if isinstance(t, dict):
            for k, v in t.items():
                if str(k) not in tags:
                    tags.append(str(k))
                values.setdefault(str(k), []).append(str(v))
        else:
            tags.append(str(t))
    bad = [t for t in tags if t not in KNOWN_TAGS]
    if bad:
        raise ValueError(f"unknown tag(s) {bad}; known: {sorted(KNOWN_TAGS)}")
    return tags, values


def parse_item(raw: dict[str, Any], where: str) -> Item:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: each turn must be a mapping, got {raw!r}")
    if "hold" in raw:
        return HoldSpec(float(raw["hold"]), _opt(raw.get("gap", raw.get("gap_before"))))
    if "silence" in raw:
        return SilenceSpec(float(raw["silence"]))
    if "transfer" in raw:
        return TransferSpec(str(raw["transfer"]), _opt(raw.get("gap", raw.get("gap_before"))))
    speaker = raw.get("speaker")
    text = raw.get("text")
    for s in SPEAKERS:
        if s in raw:
            speaker, text = s, raw[s]
    if speaker not in SPEAKERS:
        raise ValueError(
            f"{where}: needs `agent: TEXT`, `customer: TEXT`, `hold: S`, `silence: S` or `transfer: TARGET`"
        )
    if not text or not str(text).strip():
        raise ValueError(f"{where}: empty text")
    if raw.get("overlap") is not None and raw.get("offset") is not None:
        raise ValueError(f"{where}: use either overlap or offset, not both")
    tags, values = _tags(raw.get("tags"))
    return TurnSpec(
        speaker=speaker,
        text=str(text).strip(),
        gap=_opt(raw.get("gap", raw.get("gap_before"))),
        overlap=_opt(raw.get("overlap")),
        offset=_opt(raw.get("offset")),
        speed=float(raw.get("speed", 1.0)),
        volume_db=float(raw.get("volume_db", 0.0)),
        tags=tags,
        tag_values=values,
        clip=raw.get("clip"),
        voice=raw.get("voice"),
    )


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def load_spec(path: Path | str) -> DialogueSpec:
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "turns" not in data:
        raise ValueError(f"{path}: a spec needs a `turns:` list")
    items = [parse_item(t, f"{path.name} turn {i + 1}") for i, t in enumerate(data["turns"])]
    if not any(isinstance(i, TurnSpec) for i in items):
        raise ValueError(f"{path}: no speech turns")
    return DialogueSpec(
        id=str(data.get("id", path.stem)),
        title=str(data.get("title", "")),
        topic=str(data.get("topic", "")),
        quality=data.get("quality"),
        seed=int(data.get("seed", 0)),
        snr_db=float(data.get("snr_db", 40.0)),
        lead_in=float(data.get("lead_in", 0.6)),
        tail=float(data.get("tail", 1.0)),
        voices=dict(data.get("voices") or {}),
        expect=dict(data.get("expect") or {}),
        notes=str(data.get("notes", "")),
        items=items,
        source=str(path),
    )
