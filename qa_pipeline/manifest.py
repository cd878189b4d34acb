"""Call metadata: a manifest CSV, a filename pattern, or just the file stem."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .i18n import t
from .safe import readable
from .types import CallMetadata

MANIFEST_COLUMNS = ("call_id", "path", "agent_id", "agent_name", "team", "started_at", "queue", "transferred_at")
_KNOWN_FIELDS = {"call_id", "agent_id", "agent_name", "team", "started_at", "queue", "transferred_at"}


class ManifestError(ValueError):
    """The manifest as a whole is unusable (missing file, no header, no path column)."""


@dataclass(frozen=True)
class CallJob:
    """One call to score; `error` is set when its metadata is already known to be bad."""

    path: Path
    metadata: CallMetadata
    error: str | None = None


def discover_audio(inputs: list[Path], recursive: bool = True) -> list[Path]:
    """Audio files named directly or found in the given folders (sorted, transcript/truth files skipped).

    Entries with an audio name that cannot be read as a file (a dangling symlink, a folder named `x.wav`) are
    listed too, so that the batch reports them (see `input_problem`) instead of skipping them silently."""
    found: list[Path] = []
    for p in inputs:
        if p.is_dir():
            it = p.rglob("*") if recursive else p.glob("*")
            found += sorted(
                f
                for f in it
                if f.suffix.lower() in AUDIO_EXTENSIONS
                and ".mono." not in f.name
                and (f.is_file() or f.is_symlink() or f.is_dir())
            )
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def input_problem(path: Path) -> str | None:
    """Why `path` cannot be scored as a recording, or None."""
    if path.is_symlink() and not path.exists():
        return t("manifest.error.broken_link", file=readable(str(path)), target=readable(str(path.readlink())))
    if path.is_dir():
        return t("audio.error.is_directory", file=readable(str(path)))
    return None


_INNER_SUFFIXES = (".mono", ".stereo", ".agent", ".customer")


def recording_stem(path: Path) -> str:
    """The call's name in its file name: the name without its extension (and without a `.mono`-style marker);
    `a..b.flac` → `a..b`, `x.mono.flac` → `x`."""
    name = path.name
    stem = name[: -len(path.suffix)] if path.suffix and len(path.suffix) < len(name) else name
    for inner in _INNER_SUFFIXES:
        if stem.lower().endswith(inner) and len(stem) > len(inner):
            return stem[: -len(inner)]
    return stem


def compile_name_pattern(pattern: str) -> re.Pattern[str]:
    """'{date}_{agent_id}_{call_id}' → a regex with named groups matched against the file stem."""
    fields = re.findall(r"{(\w+)}", pattern)
    if not fields:
        raise ValueError(t("manifest.error.pattern_no_fields", pattern=pattern))
    regex = ""
    for literal, name in re.findall(r"([^{]*)(?:{(\w+)})?", pattern):
        regex += re.escape(literal)
        if name:
            regex += f"(?P<{name}>.+?)"
    return re.compile(f"^{regex}$")


def metadata_from_name(path: Path, pattern: re.Pattern[str] | None) -> CallMetadata:
    stem = readable(recording_stem(path))
    if pattern is None:
        return CallMetadata(call_id=stem)
    m = pattern.match(stem)
    if not m:
        return CallMetadata(call_id=stem, extra={"name_pattern": "no match"})
    return _metadata(m.groupdict(), default_id=stem)


def _metadata(fields: dict[str, str], default_id: str) -> CallMetadata:
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items() if v not in (None, "")}
    transferred = values.pop("transferred_at", None)
    if "date" in values and "started_at" not in values:
        values["started_at"] = _iso_date(values["date"])
    extra = {k: str(v) for k, v in values.items() if k not in _KNOWN_FIELDS}
    known = {k: v for k, v in values.items() if k in _KNOWN_FIELDS}
    known.setdefault("call_id", default_id)
    return CallMetadata(
        transferred_at=float(transferred) if transferred is not None else None,
        extra=extra,
        **known,
    )


def _iso_date(value: str) -> str:
    m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", value)
    return f"{m[1]}-{m[2]}-{m[3]}" if m else value


def read_manifest(path: Path) -> list[CallJob]:
    """Jobs from a manifest CSV; a bad row becomes a job with an error, the others go on."""
    if not path.exists():
        raise ManifestError(t("manifest.error.not_found", file=path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(t("manifest.error.encoding", file=path)) from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "path" not in reader.fieldnames:
        raise ManifestError(t("manifest.error.header", file=path, columns=", ".join(MANIFEST_COLUMNS)))
    jobs: list[CallJob] = []
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        raw_path = (row.get("path") or "").strip()
        audio = (path.parent / raw_path) if raw_path and not Path(raw_path).is_absolute() else Path(raw_path)
        default_id = audio.stem if raw_path else f"manifest-line-{line_no}"
        if None in row:  # more cells than header columns
            jobs.append(
                CallJob(
                    audio, CallMetadata(call_id=default_id), t("manifest.error.extra_cells", file=path, line=line_no)
                )
            )
            continue
        if not raw_path:
            jobs.append(
                CallJob(
                    audio,
                    CallMetadata(call_id=row.get("call_id") or default_id),
                    t("manifest.error.empty_path", file=path, line=line_no),
                )
            )
            continue
        try:
            md = _metadata({k: v for k, v in row.items() if k != "path"}, default_id)
        except ValueError:
            jobs.append(
                CallJob(
                    audio,
                    CallMetadata(call_id=row.get("call_id") or default_id),
                    t("manifest.error.transferred_at", file=path, line=line_no, value=row.get("transferred_at")),
                )
            )
            continue
        if md.call_id in seen:
            dup = CallMetadata(call_id=f"{md.call_id}~line{line_no}")
            problem = t("manifest.error.duplicate_id", file=path, line=line_no, call_id=md.call_id)
            jobs.append(CallJob(audio, dup, problem))
            continue
        seen.add(md.call_id)
        jobs.append(CallJob(audio, md))
    return jobs
