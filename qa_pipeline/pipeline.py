"""One call through every stage: ingest → timeline → transcribe → detect → score → CallResult.

`score_call` is pure (a path and options in, a result out, nothing written) so that a process pool
now, or a distributed engine later, can run it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .asr import AsrOptions, ModelNotInstalledError, TranscriptError, load_engine
from .audio import AudioError, IngestOptions, load_call
from .diarize import DIARIZER_VERSION, DiarizeOptions, diarize_and_transcribe
from .judging import JudgeInputs, canonical_transcript, judge, stored_timeline, timeline_from_stored
from .privacy import RedactOptions, redact_result, redaction_info
from .result import CallResult, EngineInfo
from .rubric import Rubric, RubricError, load_rubric
from .timeline import NoSpeechError, VadOptions, build_timeline
from .types import CallMetadata

EXPECTED_ERRORS = (AudioError, NoSpeechError, TranscriptError, ModelNotInstalledError, RubricError)


@dataclass(frozen=True)
class PipelineOptions:
    rubric: str = "10086"
    asr: AsrOptions = field(default_factory=AsrOptions)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    diarize: DiarizeOptions | None = field(default_factory=DiarizeOptions)
    """Mono calls: find the speakers and their roles (None: leave them "unknown" → needs_review)."""
    redact: RedactOptions = field(default_factory=RedactOptions)
    """PII redaction of everything the result carries (on by default; docs/privacy.md)."""


def engine_info(options: PipelineOptions, rubric: Rubric) -> EngineInfo:
    """How a result is produced; equal EngineInfo + audio hash means a call need not be re-scored."""
    a = options.asr
    model = a.model if a.engine != "transcript" else ""
    compute = a.compute_type if a.engine == "faster-whisper" else ("" if a.engine == "transcript" else "float32")
    return EngineInfo(
        asr=a.engine,
        model=model,
        compute_type=compute,
        rubric=rubric.id,
        rubric_version=rubric.version,
        package_version=__version__,
        vad="silero-vad",
        options={
            **({"beam_size": a.beam_size, "chunking": a.chunking, "pad_s": a.pad_s} if model else {}),
            "agent_channel": options.ingest.agent_channel,
            # mono calls are diarized; a different diarizer means different speakers → re-score
            "diarizer": DIARIZER_VERSION if options.diarize is not None else None,
            # redacted or not, and how: a result redacted differently is not up to date
            "redaction": redaction_info(options.redact),
        },
    )


def score_call(path: Path, metadata: CallMetadata, options: PipelineOptions) -> CallResult:
    """Score one recording; expected failures (bad audio, no speech, missing model) become a failed result."""
    timings: dict[str, float] = {}
    rubric = load_rubric(options.rubric)
    engine = engine_info(options, rubric)
    audio = None
    try:
        t0 = time.perf_counter()
        audio = load_call(path, metadata, options.ingest)
        t1 = time.perf_counter()
        timeline = build_timeline(audio, options.vad)
        t2 = time.perf_counter()
        asr = load_engine(options.asr)
        t3 = time.perf_counter()
        diarized = None
        if timeline.layout == "mono" and options.diarize is not None and options.asr.engine != "transcript":
            # mono: diarize → ASR per provisional speaker → roles from the text (docs/diarization.md)
            timeline, transcript, diarized = diarize_and_transcribe(audio, timeline, asr, options.diarize)
        else:
            transcript = asr.transcribe(audio, timeline)
        t4 = time.perf_counter()
        # judged from the stored form of the timeline and transcript, so `callqa rescore` reproduces it exactly
        suspects = diarized["info"].get("overlap_suspects") if diarized is not None else None
        stored = stored_timeline(timeline, None, None, suspects)
        inputs = JudgeInputs(
            timeline_from_stored(stored),
            canonical_transcript(transcript),
            metadata,
            None if suspects is None else tuple((float(a), float(b)) for a, b in stored["overlap_suspects"]),
        )
        judged = judge(inputs, rubric)
        t5 = time.perf_counter()
        timings = {"decode": t1 - t0, "vad": t2 - t1, "model_load": t3 - t2, "asr": t4 - t3, "checks": t5 - t4}
        if diarized is not None:
            timings["diarize"] = diarized["info"]["timings"]["diarize"]
            timings["asr"] -= timings["diarize"]
        result = CallResult(
            call_id=metadata.call_id,
            status="ok",
            metadata=metadata,
            audio=audio.source,
            engine=engine,
            transcript=inputs.transcript,
            events=judged.events,
            checks=judged.findings,
            score=judged.score,
            timings=timings,
            timeline=stored_timeline(inputs.timeline, inputs.transcript, metadata, inputs.overlap_suspects),
            tags=judged.tags,
            diarization=diarized["info"] if diarized is not None else None,
        )
        # before anything is written: JSON, database, search index, calls.csv and reports all get this
        return redact_result(result, options.redact)
    except EXPECTED_ERRORS as exc:
        failed = CallResult(
            metadata.call_id, "failed", metadata, error=str(exc), audio=audio.source if audio else None, engine=engine
        )
        return redact_result(failed, options.redact)
