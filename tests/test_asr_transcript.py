"""The transcript engine: reads <stem>.transcript.json / .csv, Simplified output, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from asr_helpers import make_call

from qa_pipeline.asr import AsrOptions, TranscriptError, load_engine


def call(path: Path):  # type: ignore[no-untyped-def]
    return make_call({"agent": np.zeros(16000 * 10, np.float32)}, [], path=str(path))


def test_json_beside_recording(tmp_path: Path) -> None:
    rec = tmp_path / "c1.wav"
    (tmp_path / "c1.transcript.json").write_text(
        json.dumps(
            {
                "utterances": [
                    {"speaker": "customer", "start": 4.0, "end": 5.0, "text": "我的話費怎麼這麼多"},
                    {"speaker": "agent", "start": 1.5, "end": 3.2, "text": "您好，很高興為您服務"},
                ]
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    tr = load_engine(AsrOptions(engine="transcript")).transcribe(*call(rec))
    assert [u.speaker for u in tr.utterances] == ["agent", "customer"]  # sorted by time
    assert tr.utterances[0].text == "您好，很高兴为您服务" and tr.utterances[1].text == "我的话费怎么这么多"
    assert tr.engine == "transcript" and tr.options["file"].endswith("c1.transcript.json")


def test_csv_in_transcripts_dir(tmp_path: Path) -> None:
    d = tmp_path / "tx"
    d.mkdir()
    (d / "c2.transcript.csv").write_text(
        "speaker,start,end,text\nagent,0.5,2,您好\ncustomer,2.5,3.0,查話費\n", encoding="utf-8"
    )
    tr = load_engine(AsrOptions(engine="transcript", transcripts_dir=d)).transcribe(*call(tmp_path / "c2.wav"))
    assert [(u.speaker, u.start, u.text) for u in tr.utterances] == [
        ("agent", 0.5, "您好"),
        ("customer", 2.5, "查话费"),
    ]


def test_missing_transcript_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match=r"c3\.transcript\.json"):
        load_engine(AsrOptions(engine="transcript")).transcribe(*call(tmp_path / "c3.wav"))


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("c4.transcript.json", "{not json", "JSON 格式错误"),
        ("c4.transcript.json", '{"utterances": [{"speaker": "boss", "start": 0, "end": 1, "text": "x"}]}', "speaker"),
        (
            "c4.transcript.json",
            '{"utterances": [{"speaker": "agent", "start": 0, "text": "x"}]}',
            "缺少字段 end",
        ),
        (
            "c4.transcript.json",
            '{"utterances": [{"speaker": "agent", "start": 2, "end": 1, "text": "x"}]}',
            "start ≤ end",
        ),
        ("c4.transcript.csv", "who,start,end,text\nagent,0,1,x\n", "表头缺少 speaker"),
        ("c4.transcript.csv", "speaker,start,end,text\nagent,zero,1,x\n", "第 2 行"),
    ],
)
def test_bad_transcript_names_the_file(tmp_path: Path, name: str, content: str, match: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(TranscriptError, match=match) as e:
        load_engine(AsrOptions(engine="transcript")).transcribe(*call(tmp_path / "c4.wav"))
    assert name in str(e.value)
