"""One call through every stage: ingest → timeline → [mono: diarize] → transcribe → [mono: roles] → detect →
score → CallResult.

`score_call` is pure (a path and options in, a result out, nothing written) so that a process pool
now, or a distributed engine later, can run it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__
from .asr import (
    AsrDescription,
    AsrEngine,
    AsrOptions,
    ModelNotInstalledError,
    TranscriptError,
    describe_engine,
    load_engine,
)
from .audio import AudioError, IngestOptions, load_call
from .diarize import DIARIZER_VERSION, DiarizeOptions, diarize, provisional_timeline
from .judging import (
    JudgeInputs,
    canonical_transcript,
    check_fingerprints,
    judge,
    stored_timeline,
    timeline_from_stored,
)
from .privacy import RedactOptions, redact_result, redaction_info
from .result import CallResult, EngineInfo
from .roles import apply_roles
from .rubric import Rubric, RubricError, load_rubric
from .timeline import NoSpeechError, VadOptions, build_timeline
from .turntaking import resolve_speakers
from .types import CallAudio, CallMetadata, DiarizationInfo, Timeline, Transcript

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
    asr = describe_engine(options.asr)
    return EngineInfo(
        asr=asr.engine,
        model=asr.model,
        compute_type=asr.compute_type,
        rubric=rubric.id,
        rubric_version=rubric.version,
        package_version=__version__,
        vad="silero-vad",
        options={
            **asr.options,
            "agent_channel": options.ingest.agent_channel,
            # mono calls are diarized; a different diarizer means different speakers → re-score
            "diarizer": DIARIZER_VERSION if options.diarize is not None else None,
            # redacted or not, and how: a result redacted differently is not up to date
            "redaction": redaction_info(options.redact),
        },
    )


@dataclass(frozen=True)
class Transcribed:
    """What the transcription stage hands on: the timeline with roles, the transcript, and for a diarized mono
    call how its speakers were found."""

    timeline: Timeline
    transcript: Transcript
    diarization: DiarizationInfo | None = None


def transcribe_call(
    audio: CallAudio, timeline: Timeline, engine: AsrEngine, asr: AsrDescription, diarize_options: DiarizeOptions | None
) -> Transcribed:
    """Stereo (or no diarization): the engine transcribes each party's speech. Mono: diarize (audio → speaker
    turns) → transcribe per provisional speaker → assign roles from the text → apply roles
    (docs/diarization.md). An engine that reads existing transcripts already names its speakers."""
    if timeline.layout != "mono" or diarize_options is None or not asr.transcribes_segments:
        return Transcribed(timeline, engine.transcribe(audio, timeline))
    samples = next(iter(audio.parties.values()))
    t0 = time.perf_counter()
    diar = diarize(samples, timeline, diarize_options)
    t1 = time.perf_counter()
    transcript = engine.transcribe(audio, provisional_timeline(timeline, diar))
    t2 = time.perf_counter()
    # one-cluster calls (similar voices): turns decoded from turn-taking + text cues + voices (turntaking.py)
    diar, utterances, roles = resolve_speakers(diar, transcript.utterances, diarize_options)
    timeline, transcript = apply_roles(timeline, diar, replace(transcript, utterances=utterances), roles)
    t3 = time.perf_counter()  # speaker turns and roles after the ASR are diarization time too
    info = DiarizationInfo(
        method=diar.method,
        n_speakers=diar.n_speakers,
        speaker_seconds=diar.speaker_seconds,
        centroid_similarity=None if diar.centroid_similarity is None else round(diar.centroid_similarity, 3),
        roles=roles.roles,
        role_confidence=roles.confidence,
        role_reason=roles.reason,
        role_evidence=roles.evidence,
        overlap_suspects=diar.overlap_suspects,
        timings={"diarize": round(t1 - t0 + t3 - t2, 3), "asr": round(t2 - t1, 3)},
    )
    return Transcribed(timeline, transcript, info)


def score_call(
    path: Path,
    metadata: CallMetadata,
    options: PipelineOptions,
    *,
    engine: AsrEngine | None = None,
    rubric: Rubric | None = None,
) -> CallResult:
    """Score one recording; expected failures (bad audio, no speech, missing model) become a failed result.

    `engine` and `rubric` are the loaded `options.asr` engine and `options.rubric` when the caller holds them
    (a batch worker loads both once); otherwise they are loaded here."""
    timings: dict[str, float] = {}
    rubric = rubric or load_rubric(options.rubric)
    info = engine_info(options, rubric)
    audio = None
    try:
        t0 = time.perf_counter()
        audio = load_call(path, metadata, options.ingest)
        t1 = time.perf_counter()
        timeline = build_timeline(audio, options.vad)
        t2 = time.perf_counter()
        engine = engine or load_engine(options.asr)
        t3 = time.perf_counter()
        done = transcribe_call(audio, timeline, engine, describe_engine(options.asr), options.diarize)
        timeline, transcript, diarization = done.timeline, done.transcript, done.diarization
        t4 = time.perf_counter()
        # judged from the stored form of the timeline and transcript, so `callqa rescore` reproduces it exactly
        suspects = None if diarization is None else [list(x) for x in diarization.overlap_suspects]
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
        if diarization is not None:
            timings["diarize"] = diarization.timings["diarize"]
            timings["asr"] -= timings["diarize"]
        result = CallResult(
            call_id=metadata.call_id,
            status="ok",
            metadata=metadata,
            audio=audio.source,
            engine=info,
            transcript=inputs.transcript,
            events=judged.events,
            checks=judged.findings,
            score=judged.score,
            timings=timings,
            timeline=stored_timeline(
                inputs.timeline, inputs.transcript, metadata, inputs.overlap_suspects, check_fingerprints(rubric)
            ),
            tags=judged.tags,
            diarization=diarization,
        )
        # before anything is written: JSON, database, search index, calls.csv and reports all get this
        return redact_result(result, options.redact)
    except EXPECTED_ERRORS as exc:
        failed = CallResult(
            metadata.call_id, "failed", metadata, error=str(exc), audio=audio.source if audio else None, engine=info
        )
        return redact_result(failed, options.redact)
