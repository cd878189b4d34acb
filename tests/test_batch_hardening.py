"""Issue 15 hardening of the batch: every problem is that call's failure, never the batch's; nothing lost or leaked."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import real_clip, render_stereo

from qa_pipeline.asr import AsrOptions
from qa_pipeline.batch import call_path, run_batch, write_calls_csv
from qa_pipeline.manifest import CallJob, discover_audio, input_problem, metadata_from_name, read_manifest
from qa_pipeline.pipeline import PipelineOptions
from qa_pipeline.safe import safe_file_stem, spreadsheet_cell
from qa_pipeline.store import open_store
from qa_pipeline.types import CallMetadata

OPTIONS = PipelineOptions(asr=AsrOptions(engine="transcript"))
UTTS = [
    {"speaker": "agent", "start": 0.5, "end": 6.0, "text": "您好，很高兴为您服务"},
    {"speaker": "customer", "start": 7.0, "end": 12.0, "text": "我的手机号是13812345678，查一下话费"},
    {"speaker": "agent", "start": 13.0, "end": 18.5, "text": "请问还有什么可以帮您？感谢您的来电，再见"},
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("template")
    agent = real_clip("funasr_asr_example_zh.wav")
    cust = real_clip("paddlespeech_zh.wav") * 3
    return render_stereo(d / "t.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("agent", 13.0, agent)], 20.0)


def _call(template: Path, folder: Path, stem: str | bytes, utts: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    raw = stem if isinstance(stem, bytes) else stem.encode()
    audio = Path(os.fsdecode(os.fsencode(folder) + b"/" + raw + b".wav"))
    shutil.copyfile(template, audio)
    tr = Path(os.fsdecode(os.fsencode(folder) + b"/" + raw + b".transcript.json"))
    tr.write_text(json.dumps({"utterances": utts or UTTS}, ensure_ascii=False), encoding="utf-8")
    return audio


def _jobs(folder: Path) -> list[CallJob]:
    return [CallJob(p, metadata_from_name(p, None), input_problem(p)) for p in discover_audio([folder])]


def _csv_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "calls.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_gbk_file_name_long_id_and_markup_id_are_scored(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    _call(template, day, "测试".encode("gbk"))  # not UTF-8: Python sees lone surrogates
    _call(template, day, "x[b]")
    long_id = "长" * 77 + "a" * 6  # 237 bytes of UTF-8: the temp file name used to be too long
    _call(template, day, long_id)
    out = tmp_path / "out"
    summary = run_batch(_jobs(day), out, OPTIONS)
    assert (summary.ok, summary.failed) == (3, 0), summary.failures
    ids = {json.loads(f.read_text(encoding="utf-8"))["call_id"] for f in (out / "calls").glob("*.json")}
    assert ids == {"测试", "x[b]", long_id}
    assert all(len(f.name.encode()) < 200 for f in (out / "calls").iterdir())


def test_cli_progress_with_markup_in_call_id(template: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qa_pipeline.cli import app

    day = tmp_path / "day"
    audio = _call(template, day, "[bold]y")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"call_id,path\nx[/b],{audio}\n[bold]y,{audio}\n", encoding="utf-8")
    o = str(tmp_path / "o")
    res = CliRunner().invoke(app, ["score", "--manifest", str(manifest), "-o", o, "--engine", "transcript"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["score", str(day), "-o", o, "--engine", "transcript"])
    assert res.exit_code == 0, res.output
    assert "MarkupError" not in res.output and "Traceback" not in res.output


def test_distinct_ids_never_share_a_file_and_true_duplicates_are_errors(template: Path, tmp_path: Path) -> None:
    audio = _call(template, tmp_path / "a", "one")
    ids = ["a/b", "a_b", "a\\b", "a:b", "a?b", "a_b-0", "."]
    rows = "\n".join(f"{i},{audio}" for i in ids)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"call_id,path\n{rows}\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = run_batch(read_manifest(manifest), out, OPTIONS)
    assert summary.ok == len(ids)
    assert len({safe_file_stem(i) for i in ids}) == len(ids)
    stored = {json.loads(f.read_text(encoding="utf-8"))["call_id"] for f in (out / "calls").glob("*.json")}
    assert stored == set(ids)
    assert sorted(r["call_id"] for r in _csv_rows(out)) == sorted(ids)

    # the same call id for two different recordings: the second is an error, the first result is kept
    day = tmp_path / "days"
    _call(template, day / "d1", "same")
    _call(template, day / "d2", "same")
    out2 = tmp_path / "out2"
    s2 = run_batch(_jobs(day), out2, OPTIONS)
    assert (s2.ok, s2.failed) == (1, 1)
    assert "通话ID「same」重复" in s2.failures[0][1]
    assert json.loads(call_path(out2, "same").read_text(encoding="utf-8"))["status"] == "ok"


def test_store_failure_is_that_calls_failure_and_resume_repairs_the_database(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    for i in range(3):
        _call(template, day, f"c{i}")
    out = tmp_path / "out"

    class LockedStore:  # the edge: a database whose write lock another process holds
        def source_hashes(self) -> dict[str, str]:
            return {}

        def upsert_call(self, result: dict) -> None:
            if result["call_id"] == "c1":
                raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    import qa_pipeline.batch as B

    B_sleep = B.time.sleep
    B.time.sleep = lambda s: None  # type: ignore[assignment]
    try:
        summary = run_batch(_jobs(day), out, OPTIONS, store=LockedStore())
    finally:
        B.time.sleep = B_sleep  # type: ignore[assignment]
    assert (summary.ok, summary.failed) == (2, 1)
    assert "database is locked" in summary.failures[0][1] and "Traceback" not in summary.failures[0][1]

    # an earlier --no-db run, then a real database: resume stores every call without re-scoring it
    store = open_store(out / "callqa.db")
    try:
        again = run_batch(_jobs(day), out, OPTIONS, store=store)
        assert (again.skipped, again.failed) == (3, 0)
        with store.read() as conn:
            n = conn.execute(sa.text("select count(*) from calls")).scalar()
        assert n == 3
    finally:
        store.close()


@pytest.mark.slow
def test_killed_worker_costs_no_call(template: Path, tmp_path: Path) -> None:
    import multiprocessing
    import signal

    day = tmp_path / "day"
    for i in range(4):
        _call(template, day, f"k{i}")
    killed = []

    def kill_workers(done: int, total: int, call_id: str) -> None:
        if not killed:  # the OOM killer takes the workers once
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
                killed.append(child.pid)

    out = tmp_path / "out"
    summary = run_batch(_jobs(day), out, OPTIONS, workers=2, progress=kill_workers)
    assert killed
    assert summary.ok == 4, summary.failures
    assert len(list((out / "calls").glob("*.json"))) == 4


def test_time_budget_fails_only_that_call(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    _call(template, day, "slow")
    summary = run_batch(_jobs(day), tmp_path / "out", OPTIONS, time_budget_s=0.001)
    assert summary.failed == 1 and "超过单通处理时限" in summary.failures[0][1]


def test_resume_honours_corrected_transcript_and_metadata(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    audio = _call(template, day, "c1")
    out = tmp_path / "out"
    assert run_batch(_jobs(day), out, OPTIONS).ok == 1
    assert run_batch(_jobs(day), out, OPTIONS).skipped == 1
    fixed = [dict(UTTS[0], text="喂"), *UTTS[1:]]
    (day / "c1.transcript.json").write_text(json.dumps({"utterances": fixed}, ensure_ascii=False), encoding="utf-8")
    assert run_batch(_jobs(day), out, OPTIONS).ok == 1  # corrected transcript → re-scored
    data = json.loads(call_path(out, "c1").read_text(encoding="utf-8"))
    assert data["utterances"][0]["text"] == "喂"
    job = CallJob(audio, CallMetadata(call_id="c1", agent_name="张三", team="一组"))
    assert run_batch([job], out, OPTIONS).ok == 1  # corrected metadata → re-scored
    assert json.loads(call_path(out, "c1").read_text(encoding="utf-8"))["metadata"]["team"] == "一组"
    assert run_batch([job], out, OPTIONS).skipped == 1


def test_formula_injection_is_neutralised_in_calls_csv(template: Path, tmp_path: Path) -> None:
    audio = _call(template, tmp_path / "a", "c1")
    md = CallMetadata(call_id="=1+2", agent_id="@SUM(A1)", agent_name='=HYPERLINK("http://x.example","a")', team="-2+3")
    out = tmp_path / "out"
    run_batch([CallJob(audio, md)], out, OPTIONS)
    row = _csv_rows(out)[0]
    for col in ("call_id", "agent_id", "agent_name", "team"):
        assert row[col].startswith("'"), row
    assert spreadsheet_cell("-3.5") == "-3.5" and spreadsheet_cell(12) == 12


def test_smaller_things(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    _call(template, day, "a..b")
    (day / "folder.wav").mkdir()
    (day / "dangling.wav").symlink_to(day / "missing.wav")
    out = tmp_path / "out"
    (out / "calls").mkdir(parents=True)
    orphan = out / "calls" / ".x.json.999999999.abc.tmp"  # a writer killed with -9
    orphan.write_text("{")
    summary = run_batch(_jobs(day), out, OPTIONS)
    assert summary.ok == 1 and summary.failed == 2
    reasons = " ".join(e for _, e in summary.failures)
    assert "符号链接已失效" in reasons and "这是文件夹" in reasons
    assert call_path(out, "a..b").exists()
    assert not orphan.exists() and not list(out.rglob("*.tmp"))
    modes = {stat.S_IMODE(f.stat().st_mode) for f in [*(out / "calls").glob("*.json"), out / "calls.csv"]}
    assert len(modes) == 1 and modes.pop() & 0o044  # one mode for every file, readable like the rest
    write_calls_csv(out)  # rebuilding twice (as concurrent batches do) leaves no temp file behind
    assert not list(out.rglob("*.tmp"))


def test_result_is_redacted_everywhere_it_is_written(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    _call(template, day, "pii")
    out = tmp_path / "out"
    store = open_store(out / "callqa.db")
    try:
        run_batch(_jobs(day), out, OPTIONS, store=store)
        with store.read() as conn:
            texts = [r[0] for r in conn.execute(sa.text("select text from utterances"))]
    finally:
        store.close()
    assert any("[手机号]" in t for t in texts) and not any("13812345678" in t for t in texts)
    assert b"13812345678" not in (out / "callqa.db").read_bytes()  # nor in the search index
    data = json.loads(call_path(out, "pii").read_text(encoding="utf-8"))
    assert "13812345678" not in json.dumps(data, ensure_ascii=False)
    assert data["engine"]["options"]["redaction"]["categories"]
    # --no-redact is a different result: not up to date, re-scored verbatim
    plain = PipelineOptions(asr=AsrOptions(engine="transcript"), redact=type(OPTIONS.redact)(enabled=False))
    assert run_batch(_jobs(day), out, plain).ok == 1
    assert "13812345678" in call_path(out, "pii").read_text(encoding="utf-8")


def test_oversized_utterance_fails_that_call_with_a_reason(template: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"
    huge = [dict(UTTS[0], text="您好" * 32_000), *UTTS[1:]]  # 64 000 characters in one "utterance"
    _call(template, day, "huge", huge)
    _call(template, day, "fine")
    summary = run_batch(_jobs(day), tmp_path / "out", OPTIONS)
    assert (summary.ok, summary.failed) == (1, 1)
    assert "文本长 64000 字" in summary.failures[0][1]


def test_max_duration_must_be_positive(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qa_pipeline.cli import app

    for value in ("0", "-1", "nan"):
        res = CliRunner().invoke(app, ["score", str(tmp_path), "--max-duration", value, "--engine", "transcript"])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
