"""Engine that reads an existing transcript instead of running ASR (vendor transcripts, hand corrections).

Looked up as `<stem>.transcript.json` / `<stem>.transcript.csv` / `<stem>.csv` in `transcripts_dir`, else
beside the recording. JSON: {"utterances": [{"speaker": "agent", "start": 1.5, "end": 3.2, "text": "您好"}]};
CSV: header speaker,start,end,text. Text is normalised to Simplified Chinese.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, get_args

from qa_pipeline.asr.engine import sort_utterances
from qa_pipeline.asr.filters import to_simplified
from qa_pipeline.asr.options import AsrDescription, AsrOptions, TranscriptError
from qa_pipeline.types import CallAudio, Speaker, Timeline, Transcript, Utterance

SPEAKERS: tuple[str, ...] = get_args(Speaker)
SUFFIXES = (".transcript.json", ".transcript.csv", ".json", ".csv")


def find_transcript(recording: str | Path, transcripts_dir: Path | None = None) -> Path:
    """The transcript file for a recording; TranscriptError listing every place looked at when absent."""
    rec = Path(recording)
    stem = rec.name.split(".")[0] if rec.suffix else rec.name
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
    raise TranscriptError(f"no transcript for {rec}: looked for {', '.join(str(p) for p in tried)}")


def _utterance(row: dict[str, Any], where: str) -> Utterance:
    try:
        speaker = str(row["speaker"]).strip().lower()
        start, end = float(row["start"]), float(row["end"])
        text = "" if row["text"] is None else str(row["text"])
    except KeyError as e:
        raise TranscriptError(f"{where}: missing field {e.args[0]!r} (need speaker,start,end,text)") from None
    except (TypeError, ValueError) as e:
        raise TranscriptError(f"{where}: bad start/end ({e})") from None
    if speaker not in SPEAKERS:
        raise TranscriptError(f"{where}: speaker {speaker!r} is not one of {', '.join(SPEAKERS)}")
    if not (0 <= start <= end):
        raise TranscriptError(f"{where}: need 0 <= start <= end, got {start}..{end}")
    return Utterance(speaker, start, end, to_simplified(text.strip()))  # type: ignore[arg-type]


def read_transcript(path: Path) -> tuple[Utterance, ...]:
    """Parse a JSON or CSV transcript file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise TranscriptError(f"cannot read transcript {path}: {e}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise TranscriptError(f"{path}: invalid JSON ({e})") from None
        rows = data.get("utterances") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise TranscriptError(f'{path}: expected {{"utterances": [...]}}')
        if not all(isinstance(r, dict) for r in rows):
            raise TranscriptError(f"{path}: every utterance must be an object")
        utts = [_utterance(r, f"{path} utterance {i}") for i, r in enumerate(rows)]
    else:
        reader = csv.DictReader(raw.splitlines())
        missing = {"speaker", "start", "end", "text"} - set(reader.fieldnames or [])
        if missing:
            raise TranscriptError(f"{path}: CSV header lacks {', '.join(sorted(missing))}")
        utts = [_utterance(r, f"{path} line {i + 2}") for i, r in enumerate(reader)]
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
        return Transcript(utterances=read_transcript(path), engine=self.name, options={"file": str(path)})
