"""Judging: everything after transcription, from data that is stored with every result.

The pipeline, `callqa rescore` and `callqa rules test` all judge through `judge()`, over the *stored form* of
the timeline and transcript (`stored_timeline` / `timeline_from_stored`, times rounded exactly as the result
JSON and the database keep them). So a call re-judged later from its stored data gets exactly the findings
and score it got when it was first scored — no audio, no ASR.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .detect import qualify_mono_findings, run_checks, timeline_events
from .rules.model import Tag
from .types import CallMetadata, Event, Finding, Score, SpeechSegment, Timeline, Transcript, Utterance, Word

if TYPE_CHECKING:
    from .rubric import Rubric

TIMELINE_VERSION = 1


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


@dataclass(frozen=True)
class Judgement:
    findings: tuple[Finding, ...]
    events: tuple[Event, ...]
    score: Score
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True)
class JudgeInputs:
    """What judging needs, as stored: timeline, transcript, metadata, and mono overlap suspects."""

    timeline: Timeline
    transcript: Transcript
    metadata: CallMetadata
    overlap_suspects: tuple[tuple[float, float], ...] | None = None
    """Mono diarized calls only (None for stereo): where overlapped speech is suspected."""
    baseline: Any = None
    """baseline.Baselines: stored averages for the handling-time item (None: not known here)."""


# ------------------------------------------------------------------------------------------ stored form


def canonical_transcript(transcript: Transcript) -> Transcript:
    """The transcript as the result JSON stores it (times to the millisecond)."""
    utts = tuple(
        Utterance(
            u.speaker,
            _r(u.start),  # type: ignore[arg-type]
            _r(u.end),  # type: ignore[arg-type]
            u.text,
            tuple(Word(w.text, _r(w.start), _r(w.end), w.probability) for w in u.words),  # type: ignore[arg-type]
        )
        for u in transcript.utterances
    )
    return replace(transcript, utterances=utts)


def stored_timeline(
    timeline: Timeline,
    transcript: Transcript | None = None,
    metadata: CallMetadata | None = None,
    overlap_suspects: Sequence[Sequence[float]] | None = None,
    judged_with: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The timeline as stored with every result: each party's speech segments with loudness, plus the holds
    and the transfer moment found from it (derived, kept so that readers need not recompute them)."""
    out: dict[str, Any] = {
        "version": TIMELINE_VERSION,
        "duration": _r(timeline.duration),
        "layout": timeline.layout,
        "vad": timeline.vad,
        "speech": [[s.speaker, _r(s.start), _r(s.end), s.loudness_dbfs] for s in timeline.speech],
    }
    if overlap_suspects is not None:
        out["overlap_suspects"] = [[_r(a), _r(b)] for a, b in overlap_suspects]
    if transcript is not None and timeline.has_roles:
        from .holds import transfer_moment, waits

        out["holds"] = [[_r(w.start), _r(w.end), w.announced] for w in waits(timeline, transcript)]
        moment = transfer_moment(timeline, transcript, metadata or CallMetadata(call_id=""))
        out["transfer_at"] = _r(moment)
    if judged_with is not None:
        out["judged_with"] = dict(judged_with)
    return out


def timeline_from_stored(data: Mapping[str, Any]) -> Timeline:
    """Rebuild the Timeline (silences, overlaps, turn changes are derived from the speech segments)."""
    from .timeline import timeline_from_segments

    speech = [
        SpeechSegment(s[0], float(s[1]), float(s[2]), None if s[3] is None else float(s[3])) for s in data["speech"]
    ]
    tl = timeline_from_segments(speech, float(data["duration"]), str(data.get("layout") or "stereo"))
    return replace(tl, vad=str(data.get("vad") or tl.vad))


def canonical_timeline(timeline: Timeline) -> Timeline:
    """The timeline exactly as it will be rebuilt from storage."""
    return timeline_from_stored(stored_timeline(timeline))


def transcript_from_stored(utterances: Sequence[Mapping[str, Any]], engine: Mapping[str, Any] | None) -> Transcript:
    engine = engine or {}
    return Transcript(
        tuple(
            Utterance(
                u.get("speaker") or "unknown",
                float(u["start"]),
                float(u["end"]),
                u.get("text") or "",
                tuple(
                    Word(w["text"], float(w["start"]), float(w["end"]), w.get("probability"))
                    for w in (u.get("words") or [])
                ),
            )
            for u in utterances
        ),
        engine=str(engine.get("asr") or ""),
        model=str(engine.get("model") or ""),
        compute_type=str(engine.get("compute_type") or ""),
    )


_MD_FIELDS = ("agent_name", "team", "started_at", "queue", "transferred_at")


def metadata_from_stored(call_id: str, agent_id: str | None, md: Mapping[str, Any]) -> CallMetadata:
    extra = {k: str(v) for k, v in md.items() if k not in _MD_FIELDS and k != "agent_id" and v is not None}
    ta = md.get("transferred_at")
    return CallMetadata(
        call_id=call_id,
        agent_id=agent_id,
        agent_name=md.get("agent_name"),
        team=md.get("team"),
        started_at=None if md.get("started_at") is None else str(md.get("started_at")),
        queue=md.get("queue"),
        transferred_at=None if ta is None else float(ta),
        extra=extra,
    )


def inputs_from_result(result: Mapping[str, Any]) -> JudgeInputs:
    """Judge inputs from a result JSON (raises KeyError/ValueError when it has no stored timeline)."""
    tl = result.get("timeline")
    if not tl:
        raise ValueError(f"{result.get('call_id')}: result has no stored timeline (scored before timelines were kept)")
    suspects = tl.get("overlap_suspects")
    return JudgeInputs(
        timeline_from_stored(tl),
        transcript_from_stored(result.get("utterances") or [], result.get("engine")),
        metadata_from_stored(str(result["call_id"]), result.get("agent_id"), result.get("metadata") or {}),
        None if suspects is None else tuple((float(a), float(b)) for a, b in suspects),
    )


# ------------------------------------------------------------------------------------------------ judge


def check_fingerprints(rubric: Rubric) -> dict[str, str]:
    """Per built-in check: a hash of the code version and the parameters it runs with. Stored with every
    result (`timeline.judged_with`) so that rescoring can keep a check's stored findings when neither changed."""
    from . import __version__
    from .checks.registry import get_check

    out = {}
    for name in rubric.check_names:
        params = {**get_check(name).defaults, **rubric.check_params.get(name, {})}
        if name == "handling_time" and params.get("baseline"):
            continue  # judged against the archive's averages, which change: always re-judged
        blob = json.dumps([__version__, name, params], sort_keys=True, ensure_ascii=False, default=str)
        out[name] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return out


def judge(
    inputs: JudgeInputs,
    rubric: Rubric,
    *,
    reuse: Mapping[str, Sequence[Finding]] | None = None,
    with_events: bool = True,
) -> Judgement:
    """Checks + rules → findings, events, tags and the score. Pure: same inputs, same judgement.

    `reuse`: stored findings of checks whose code and parameters are unchanged (rescoring), used instead of
    running those checks again; `with_events=False` skips the timeline events (rescoring keeps the stored ones)."""
    from .rubric import score_findings
    from .rules.engine import run_rules

    tl, tr, md = inputs.timeline, inputs.transcript, inputs.metadata
    rule_findings, tags = run_rules(rubric.rules, tl, tr, md)
    params = rubric.check_params
    ht = params.get("handling_time") or {}
    if ht.get("baseline") and inputs.baseline is not None:
        params = {**params, "handling_time": {**ht, "stored_average": stored_average(ht["baseline"], md, tags, inputs)}}
    findings: list[Finding] = []
    for name in rubric.check_names:
        if reuse is not None and name in reuse:
            findings.extend(reuse[name])
            continue
        fresh = run_checks([name], tl, tr, md, params)
        if inputs.overlap_suspects is not None:
            fresh = qualify_mono_findings(fresh, inputs.overlap_suspects)
        findings.extend(fresh)
    findings = [*findings, *rule_findings]
    events = timeline_events(tl, tr, md) if with_events else []
    score = score_findings(findings, rubric)
    return Judgement(tuple(findings), tuple(events), score, tuple(tags))


def warm_up(rubric: Rubric) -> Judgement | None:
    """Judge a two-turn call once, so that what judging loads on first use (jieba's dictionary, about 1–1.5 s;
    the lexicons; the phrase model; compiled rules) is loaded when a worker starts, beside the ASR model, and not
    inside the first call's `checks` time: a per-worker cost, not a per-call one. An error here is left for the
    first real call, which reports it with its file (None is returned)."""
    from .timeline import timeline_from_segments

    speech = [SpeechSegment("agent", 0.0, 2.0), SpeechSegment("customer", 2.5, 4.0)]
    transcript = Transcript(
        (
            Utterance("agent", 0.0, 2.0, "您好，请问有什么可以帮您？"),
            Utterance("customer", 2.5, 4.0, "我想查一下话费。"),
        ),
        engine="warm-up",
    )
    try:
        return judge(JudgeInputs(timeline_from_segments(speech, 5.0), transcript, CallMetadata("warm-up")), rubric)
    except Exception:  # noqa: BLE001 — see the docstring: the real call reports it
        return None


def stored_average(
    cfg: Mapping[str, Any], md: CallMetadata, tags: Sequence[Tag], inputs: JudgeInputs
) -> dict[str, Any]:
    """The handling-time yardstick for this call: mean duration of stored calls of its queue or topic."""
    by = cfg.get("by", "queue")
    window, min_calls = int(cfg.get("window_days", 30)), int(cfg.get("min_calls", 20))
    key = md.queue if by == "queue" else next((t.tag for t in tags if t.topic), None)
    avg, n = inputs.baseline.average(key, md.started_at, window)
    out: dict[str, Any] = {"average_by": by, "average_key": key, "average_calls": n, "window_days": window}
    if key is None:
        out["reason"] = "no_average_group"
    elif avg is None or n < min_calls:
        out["reason"], out["min_calls"] = "few_stored_calls", min_calls
    else:
        out["average_s"] = round(avg, 1)
    return out
