"""Engine that reads an existing transcript instead of running ASR (vendor transcripts, hand corrections).

Looked up as `<stem>.transcript.json` / `<stem>.transcript.csv` / `<stem>.csv` in `transcripts_dir`, else
beside the recording. JSON: {"utterances": [{"speaker": "agent", "start": 1.5, "end": 3.2, "text": "您好"}]};
CSV: header speaker,start,end,text. Text is normalised to Simplified Chinese.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, get_args

from qa_pipeline.asr.engine import sort_utterances
from qa_pipeline.asr.options import AsrDescription, AsrOptions, TranscriptError
from qa_pipeline.config_errors import show
from qa_pipeline.i18n import t
from qa_pipeline.text import to_simplified
from qa_pipeline.types import CallAudio, Speaker, Timeline, Transcript, Utterance

SPEAKERS: tuple[str, ...] = get_args(Speaker)
SUFFIXES = (".transcript.json", ".transcript.csv", ".json", ".csv")
MAX_UTTERANCE_CHARS = 2000
"""A Whisper segment is at most ~30 s (~200 characters); a 64 000-character "utterance" is a broken file, and
phrase matching over it costs minutes (bounded work, issue 15)."""
END_TOLERANCE_S = 1.0
"""An utterance may end this much after the audio (rounding, a trailing word); later is a wrong transcript."""


def find_transcript(recording: str | Path, transcripts_dir: Path | None = None) -> Path:
    """The transcript file for a recording; TranscriptError listing every place looked at when absent."""
    rec = Path(recording)
    from qa_pipeline.manifest import recording_stem

    stem = recording_stem(rec)
    dirs = ([Path(transcripts_dir)] if transcripts_dir else []) + [rec.parent]
    tried: list[Path] = []
    for d in dirs:
        for suf in SUFFIXES:
            p = d / f"{stem}{suf}"
            if p.resolve() == rec.resolve():
                continue
            tried.append(p)
            if p.is_file():
                return p
    raise TranscriptError(t("transcript.error.not_found", file=rec, tried=", ".join(str(p) for p in tried)))


def _seconds(value: Any, name: str, where: str) -> float:
    """A finite number of seconds (JSON number or CSV text); booleans, null, NaN and Infinity are refused."""
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise TranscriptError(t("transcript.error.seconds", where=where, field=name, value=show(value)))
    try:
        x = float(value)
    except ValueError:
        raise TranscriptError(t("transcript.error.seconds", where=where, field=name, value=show(value))) from None
    if not math.isfinite(x):
        raise TranscriptError(t("transcript.error.seconds", where=where, field=name, value=show(value)))
    return x


def _utterance(row: dict[str, Any], where: str) -> Utterance:
    missing = [k for k in ("speaker", "start", "end", "text") if k not in row]
    if missing:
        raise TranscriptError(t("transcript.error.missing_field", where=where, field=missing[0]))
    if not isinstance(row["speaker"], str):
        raise TranscriptError(t("transcript.error.speaker_type", where=where, value=show(row["speaker"])))
    speaker = row["speaker"].strip().lower()
    start, end = _seconds(row["start"], "start", where), _seconds(row["end"], "end", where)
    text = row["text"]
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise TranscriptError(t("transcript.error.text_type", where=where, value=show(text)))
    if len(text) > MAX_UTTERANCE_CHARS:
        raise TranscriptError(t("transcript.error.too_long", where=where, chars=len(text), limit=MAX_UTTERANCE_CHARS))
    if speaker not in SPEAKERS:
        raise TranscriptError(t("transcript.error.speaker", where=where, speaker=speaker, speakers=", ".join(SPEAKERS)))
    if not (0 <= start <= end):
        raise TranscriptError(t("transcript.error.times", where=where, start=start, end=end))
    return Utterance(speaker, start, end, to_simplified(text.strip()))  # type: ignore[arg-type]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def read_transcript(path: Path) -> tuple[Utterance, ...]:
    """Parse a JSON or CSV transcript file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise TranscriptError(t("transcript.error.unreadable", file=path, reason=e)) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw, parse_constant=_no_constant)  # NaN / Infinity are not JSON numbers
        except (ValueError, RecursionError) as e:
            raise TranscriptError(t("transcript.error.json", file=path, reason=str(e)[:200])) from None
        rows = data.get("utterances") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise TranscriptError(t("transcript.error.shape", file=path))
        if not all(isinstance(r, dict) for r in rows):
            raise TranscriptError(t("transcript.error.not_object", file=path))
        utts = [_utterance(r, t("transcript.where.utterance", file=path, index=i)) for i, r in enumerate(rows)]
    else:
        reader = csv.DictReader(raw.splitlines())
        missing = {"speaker", "start", "end", "text"} - set(reader.fieldnames or [])
        if missing:
            raise TranscriptError(t("transcript.error.csv_header", file=path, missing=", ".join(sorted(missing))))
        utts = [_utterance(r, t("transcript.where.line", file=path, line=i + 2)) for i, r in enumerate(reader)]
    return sort_utterances(utts)


class TranscriptEngine:
    """Reads `<stem>.transcript.json|csv` for the recording; ignores the audio and timeline."""

    name = "transcript"
    model = ""
    compute_type = ""

    def __init__(self, options: AsrOptions) -> None:
        self.options = options

    @classmethod
    def describe(cls, options: AsrOptions) -> AsrDescription:
        return AsrDescription(cls.name, "", "", {}, transcribes_segments=False)

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript:
        path = find_transcript(audio.source.path, self.options.transcripts_dir)
        utterances = read_transcript(path)
        limit = audio.duration + END_TOLERANCE_S
        for i, u in enumerate(utterances):
            if audio.duration > 0 and u.end > limit:
                raise TranscriptError(
                    t(
                        "transcript.error.after_end",
                        file=path,
                        index=i,
                        start=f"{u.start:g}",
                        end=f"{u.end:g}",
                        duration=f"{audio.duration:.1f}",
                    )
                )
        return Transcript(utterances=utterances, engine=self.name, options={"file": str(path)})
