import csv
import json
from pathlib import Path

import jsonschema
import pytest
from helpers import real_clip, render_stereo

from qa_pipeline.asr import AsrOptions
from qa_pipeline.batch import call_path, run_batch
from qa_pipeline.manifest import CallJob, discover_audio, metadata_from_name
from qa_pipeline.pipeline import PipelineOptions
from qa_pipeline.result import SCHEMA_PATH

OPTIONS = PipelineOptions(asr=AsrOptions(engine="transcript"))


def _write_call(folder: Path, stem: str, greeting: str) -> Path:
    agent = real_clip("funasr_asr_example_zh.wav")  # 5.5 s
    cust = real_clip("paddlespeech_zh.wav") * 3  # 5.0 s
    path = render_stereo(
        folder / f"{stem}.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("agent", 13.0, agent)], 20.0
    )
    utts = [
        {"speaker": "agent", "start": 0.5, "end": 6.0, "text": greeting},
        {"speaker": "customer", "start": 7.0, "end": 12.0, "text": "我想查一下这个月的话费"},
        {"speaker": "agent", "start": 13.0, "end": 18.5, "text": "请问还有什么可以帮您？感谢您的来电，再见"},
    ]
    (folder / f"{stem}.transcript.json").write_text(
        json.dumps({"utterances": utts}, ensure_ascii=False), encoding="utf-8"
    )
    return path


@pytest.fixture
def day(tmp_path: Path) -> Path:
    d = tmp_path / "2026-11-22"
    d.mkdir()
    _write_call(d, "good", "您好，很高兴为您服务")
    _write_call(d, "nogreet", "喂")
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    (d / "empty.wav").write_bytes(b"")
    (d / "notaudio.mp3").write_text("this is not audio")
    return d


def _jobs(folder: Path) -> list[CallJob]:
    return [CallJob(p, metadata_from_name(p, None)) for p in discover_audio([folder])]


def test_batch_scores_good_calls_and_records_bad_ones(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    summary = run_batch(_jobs(day), out, OPTIONS)
    assert (summary.ok, summary.failed) == (2, 3)
    schema = json.loads(SCHEMA_PATH.read_text())
    for cid in ("good", "nogreet", "corrupt", "empty", "notaudio"):
        data = json.loads(call_path(out, cid).read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)
    good = json.loads(call_path(out, "good").read_text(encoding="utf-8"))
    bad = json.loads(call_path(out, "nogreet").read_text(encoding="utf-8"))
    status = {c["check"]: c["status"] for c in good["checks"]}
    assert status["greeting"] == "pass" and status["closing"] == "pass"
    assert {c["check"]: c["status"] for c in bad["checks"]}["greeting"] == "fail"
    assert good["score"]["total"] > bad["score"]["total"]
    assert {"speech", "silence"} <= {e["type"] for e in good["events"]}
    # the search index's tokens, computed once here for `callqa import` (store/tokens.py): a fresh tokenisation
    from qa_pipeline.store.tokens import carried_forms, index_columns

    texts = [u["text"] for u in good["utterances"]]
    assert len(texts) == 3 and carried_forms(good) == [index_columns(t) for t in texts]
    assert "search_tokens" not in json.loads(call_path(out, "corrupt").read_text(encoding="utf-8"))
    for cid, reason in (("corrupt", "corrupt.wav"), ("empty", "空文件"), ("notaudio", "不是可读取的音频文件")):
        data = json.loads(call_path(out, cid).read_text(encoding="utf-8"))
        assert data["status"] == "failed" and reason in data["error"]
        # the decoder's own "[Errno 1094995529] Invalid data …: '<path>'" is said as one readable reason
        assert "Errno" not in data["error"] and data["error"].count("notaudio.mp3") <= 1
    rows = list(csv.DictReader((out / "calls.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {r["call_id"]: r["status"] for r in rows} == {
        "corrupt": "failed",
        "empty": "failed",
        "good": "ok",
        "nogreet": "ok",
        "notaudio": "failed",
    }
    assert next(r for r in rows if r["call_id"] == "nogreet")["fail_greeting"] == "1"
    assert not list(out.rglob("*.tmp"))


def test_resume_skips_unchanged_calls_and_rescores_changed_ones(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run_batch(_jobs(day), out, OPTIONS)
    again = run_batch(_jobs(day), out, OPTIONS)
    assert again.skipped == 2 and again.ok == 0 and again.failed == 3  # failures are retried
    _write_call(day, "good", "您好，很高兴为您服务")  # same bytes → still skipped
    assert run_batch(_jobs(day), out, OPTIONS).skipped == 2
    p = day / "good.wav"
    p.write_bytes(p.read_bytes()[:-800])  # changed audio → rescored
    assert run_batch(_jobs(day), out, OPTIONS).skipped == 1
    assert run_batch(_jobs(day), out, OPTIONS, resume=False).skipped == 0


def test_interrupted_batch_leaves_complete_files_and_resumes(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    seen: list[str] = []

    def stop_after_first(result: dict) -> None:  # type: ignore[type-arg]
        seen.append(result["call_id"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(_jobs(day), out, OPTIONS, on_result=stop_after_first)
    files = list((out / "calls").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text(encoding="utf-8"))["call_id"] == seen[0]
    assert (out / "calls.csv").exists()
    summary = run_batch(_jobs(day), out, OPTIONS)
    assert summary.ok + summary.failed + summary.skipped == 5


def test_worker_processes_give_the_same_results(day: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    run_batch(_jobs(day), one, OPTIONS, workers=1)
    summary = run_batch(_jobs(day), two, OPTIONS, workers=2)
    assert (summary.ok, summary.failed) == (2, 3)
    for f in (one / "calls").glob("*.json"):
        a, b = (
            json.loads(f.read_text(encoding="utf-8")),
            json.loads((two / "calls" / f.name).read_text(encoding="utf-8")),
        )
        assert a["checks"] == b["checks"] and a["score"] == b["score"]


def test_missing_transcript_fails_that_call_only(day: Path, tmp_path: Path) -> None:
    (day / "nogreet.transcript.json").unlink()
    summary = run_batch(_jobs(day), tmp_path / "r", OPTIONS)
    assert summary.ok == 1
    err = json.loads(call_path(tmp_path / "r", "nogreet").read_text(encoding="utf-8"))["error"]
    assert "找不到转写文件" in err and "nogreet" in err


def test_calls_csv_when_no_result_file_parses(tmp_path: Path) -> None:
    from qa_pipeline.batch import CALLS_CSV_COLUMNS, calls_table_row, write_calls_csv

    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "calls" / "partial.json").write_text('{"status": "ok"}', encoding="utf-8")
    target = write_calls_csv(tmp_path)  # used to raise IndexError on rows[0]
    assert target is not None
    rows = list(csv.reader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert rows == [CALLS_CSV_COLUMNS]
    assert list(calls_table_row({"call_id": "x", "status": "failed"})) == CALLS_CSV_COLUMNS
    assert not list((tmp_path).glob(".calls.csv*"))  # no temporary file left behind


def test_failure_reasons_follow_the_chosen_language_in_worker_processes(day: Path, tmp_path: Path) -> None:
    """Reasons come from the catalog: Chinese by default, English under --lang en — also from spawned workers,
    which do not inherit the parent's in-process language setting by themselves."""
    from qa_pipeline.i18n import set_language

    set_language("en")
    try:
        run_batch(_jobs(day), tmp_path / "en", OPTIONS, workers=2)
    finally:
        set_language(None)
    run_batch(_jobs(day), tmp_path / "zh", OPTIONS, workers=1)
    en = json.loads(call_path(tmp_path / "en", "empty").read_text(encoding="utf-8"))["error"]
    zh = json.loads(call_path(tmp_path / "zh", "empty").read_text(encoding="utf-8"))["error"]
    assert "empty file (0 bytes)" in en and "空文件" not in en
    assert "空文件（0 字节）" in zh
