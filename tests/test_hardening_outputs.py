"""Issue 15 hardening of what leaves callqa: spreadsheets (formula injection), search bounds, clips (bounds, PII)."""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pytest
import soundfile as sf
import typer
from fixtures_store import make_result
from typer.testing import CliRunner

from qa_pipeline.cli.store import clip_command, search_command
from qa_pipeline.privacy import PII_CHECK
from qa_pipeline.report import build_scorecard, write_scorecard
from qa_pipeline.store import open_store
from qa_pipeline.store.clip import ClipError, clip_call, masked_audio
from qa_pipeline.store.query import QueryError, parse_query
from qa_pipeline.store.search import search

SR = 8000
EVIL_NAME = '=HYPERLINK("http://evil.example/x","点我")'


@pytest.fixture()
def db(tmp_path):
    n = SR * 30
    wav = tmp_path / "audio" / "k1.wav"
    wav.parent.mkdir()
    sf.write(wav, np.full((n, 2), 0.5, dtype="float32"), SR, subtype="FLOAT")
    r = make_result(
        "=cmd|' /C calc'!A0",
        "A001",
        "2026-11-03T09:00:00+08:00",
        80.0,
        {},
        audio_path=str(wav),
        duration=30.0,
        utterances=[("agent", 1.0, 3.0, "您好，很高兴为您服务"), ("customer", 4.0, 8.0, "我的号码是[手机号]")],
        checks=[(PII_CHECK, "pass", 6.0, 7.5, "[手机号]")],
    )
    r["metadata"].update(agent_name=EVIL_NAME, team="+SUM(1,2)")
    r["agent_id"] = "@A001"
    k1 = make_result(
        "k1",
        "A002",
        "2026-11-03T10:00:00+08:00",
        90.0,
        {},
        audio_path=str(wav),
        duration=30.0,
        utterances=[("agent", 1.0, 3.0, "您好"), ("customer", 4.0, 8.0, "我的号码是[手机号]，谢谢")],
        checks=[(PII_CHECK, "pass", 6.0, 7.5, "[手机号]")],
    )
    path = tmp_path / "callqa.db"
    store = open_store(path)
    store.upsert_call(r)
    store.upsert_call(k1)
    store.close()
    return path


def test_scorecards_never_carry_live_formulas(db, tmp_path):
    card = build_scorecard(db, date_from="2026-11-01", date_to="2026-11-30")
    xlsx = write_scorecard(card, "xlsx", tmp_path / "card.xlsx")[0]
    wb = openpyxl.load_workbook(xlsx)
    texts = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(c.value == EVIL_NAME for c in texts)  # shown as the text it is
    assert all(c.data_type != "f" for c in texts) and not any(c.hyperlink for c in texts)
    for path in write_scorecard(card, "csv", tmp_path / "card.csv"):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))):
            assert not any(cell.startswith(("=", "+", "@")) for cell in row), (path.name, row)


def test_search_csv_is_neutralised_and_bounds_are_clear_errors(db):
    app = typer.Typer()
    app.command("search")(search_command)
    app.command("clip")(clip_command)
    r = CliRunner().invoke(app, ["search", "您好", "--format", "csv", "--db", str(db)])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert len(rows) == 3 and not any(cell.startswith(("=", "+", "@")) for row in rows[1:] for cell in row)
    for args in (["--limit", "100000000000000000000"], ["--context", "100000000000000000000"], ["--limit", "1e20"]):
        r = CliRunner().invoke(app, ["search", "您好", *args, "--db", str(db)])
        assert r.exit_code == 2 and "Traceback" not in r.output
    for query in ("[/x] 您好", "您好 " * 1000, "(" * 400 + "您好" + ")" * 400, "NOT 您好"):
        r = CliRunner().invoke(app, ["search", query, "--db", str(db)])
        assert (
            r.exit_code in (0, 2)
            and "Traceback" not in r.output
            and r.exception is None
            or isinstance(r.exception, SystemExit)
        ), r.output


def test_query_bounds_and_not_semantics(db):
    with pytest.raises(QueryError, match="NOT"):
        parse_query("NOT 您好")
    with pytest.raises(QueryError, match="词项太多"):
        parse_query("好 " * 300)
    with pytest.raises(QueryError, match="检索语句太长"):
        parse_query("您好 " * 1000)
    with pytest.raises(QueryError, match="括号嵌套"):
        parse_query("(" * 400 + "您好" + ")" * 400)
    store = open_store(db)
    try:
        both = {h.call_id for h in search(store, "您好")}
        assert both == {"k1", "=cmd|' /C calc'!A0"}
        assert {h.call_id for h in search(store, "您好 NOT 服务")} == {"k1"}
        assert {h.call_id for h in search(store, "您好 AND NOT 服务")} == {"k1"}
        with pytest.raises(QueryError):
            search(store, "您好", limit=10**20)
        with pytest.raises(QueryError):
            search(store, "您好", context=10**20)
    finally:
        store.close()


def test_clip_bounds(db, tmp_path):
    store = open_store(db)
    try:
        for at in (float("nan"), -1.0, 31.0, float("inf")):
            with pytest.raises(ClipError):
                clip_call(store, "k1", tmp_path / "a.wav", at=at)
        with pytest.raises(ClipError, match="不支持的剪辑格式"):
            clip_call(store, "k1", tmp_path / "a.xyz", at=5.0)
        with pytest.raises(ClipError, match="是文件夹"):
            clip_call(store, "k1", tmp_path, at=5.0)
    finally:
        store.close()
    assert not (tmp_path / "a.wav").exists()
    app = typer.Typer()
    app.command("clip")(clip_command)
    app.command("search")(search_command)
    for args in (["--at", "nan"], ["--at", "-3"], ["--at", "99"], ["--at", "5", "-o", str(tmp_path / "x.mp4")]):
        r = CliRunner().invoke(app, ["clip", "k1", *args, "--db", str(db)])
        assert r.exit_code in (1, 2) and "Traceback" not in r.output, r.output


def test_clips_and_served_audio_mask_personal_data(db, tmp_path):
    store = open_store(db)
    try:
        out = clip_call(store, "k1", tmp_path / "c.wav", at=6.0, before=5.0, after=5.0)
        data, sr = sf.read(out, always_2d=True)
        t = np.arange(len(data)) / sr + 1.0  # the clip starts 1 s into the call
        inside = (t > 6.0) & (t < 7.5)
        outside = (t < 5.5) | (t > 8.0)
        assert np.allclose(data[outside], 0.5)
        assert np.abs(data[inside]).max() <= 0.11  # a quiet tone instead of the customer reading the number
        served, sr2 = masked_audio(store, "k1", tmp_path / "audio" / "k1.wav")
        assert sr2 == SR and np.abs(served[int(6.2 * SR) : int(7.3 * SR)]).max() <= 0.11
        assert np.allclose(served[: int(5.5 * SR)], 0.5)
    finally:
        store.close()
    original, _ = sf.read(tmp_path / "audio" / "k1.wav")
    assert np.allclose(original, 0.5)  # the recording itself is never touched
