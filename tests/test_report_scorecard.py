"""Scorecard numbers against hand-computed values; xlsx/csv read back; html in a real headless browser."""

from __future__ import annotations

import math
import re
import subprocess
import tempfile

import openpyxl
import pandas as pd
import pytest
import typer
from browser_harness import CHROMIUM, OFFLINE_FLAGS
from fixtures_store import build_fixture_db
from pg_server import BACKENDS, backend_db
from typer.testing import CliRunner

from qa_pipeline.cli.store import scorecard_command
from qa_pipeline.report import build_scorecard, write_scorecard


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build_fixture_db(tmp_path_factory.mktemp("sc"))


@pytest.fixture(scope="module")
def card(db):
    return build_scorecard(db, "2026-11-01", "2026-11-22")


def row(card, agent):
    return card.summary.set_index("agent_id").loc[agent]


def test_summary_numbers(card):
    # A004 only has a call on 10-30: not listed at all (not as zeros)
    assert sorted(card.summary.agent_id) == ["A001", "A002", "A003"]
    a1, a2, a3 = row(card, "A001"), row(card, "A002"), row(card, "A003")
    assert a1.agent_name == "张伟" and a1.team == "一组"
    assert (a1.calls, a1.failed, a1.fatal, a1.review, a1.violations) == (3, 0, 1, 0, 5)
    assert math.isclose(a1["mean"], (95 + 80 + 60) / 3) and a1["median"] == 80 and a1["min"] == 60
    assert (a2.calls, a2["mean"], a2["median"], a2["min"], a2.fatal, a2.review, a2.violations) == (
        2,
        95,
        95,
        90,
        0,
        1,
        0,
    )
    assert (a3.calls, a3.failed, a3["mean"], a3.violations) == (1, 1, 70, 2)
    assert list(card.summary.agent_id) == ["A003", "A001", "A002"]  # lowest mean first
    assert card.overall["calls"] == 6 and card.overall["failed"] == 1 and card.overall["mean"] == 82.5


def test_distribution_items_violations(card):
    d = card.distribution
    assert d.loc["A001"].tolist() == [0, 1, 0, 1, 1]
    assert d.loc["A002"].tolist() == [0, 0, 0, 0, 2]
    assert d.loc["A003"].tolist() == [0, 0, 1, 0, 0]
    it = card.items
    assert list(it.columns) == ["greeting", "closing", "forbidden", "silence"]
    assert card.item_titles["forbidden"] == "服务禁语"
    assert it.loc["A001"].round(4).tolist() == [0.6667, 0.6667, 0.6667, 0.0]  # silence: 0 of 2 (n/a excluded)
    assert it.loc["A002"].tolist() == [1.0, 1.0, 1.0, 1.0]  # needs_review is left to a human, not counted
    assert it.loc["A003"].tolist() == [0.0, 1.0, 1.0, 0.0]
    v = card.violations
    assert v.loc["A001", "silence_over_30s"] == 2 and v.loc["A001", "forbidden_phrase"] == 1
    assert v.loc["A003", "silence_over_60s"] == 1 and v.loc["A002"].sum() == 0
    assert card.overall["item_rates"]["silence"] == pytest.approx(2 / 5)


def test_trend_and_worst(card):
    t = card.trend[card.trend.agent_id == "A001"]
    assert t.call_date.tolist() == ["2026-11-03", "2026-11-05"]
    assert t.calls.tolist() == [2, 1] and t["mean"].tolist() == [87.5, 60.0]
    w = card.worst[card.worst.agent_id == "A001"]
    assert w.call_id.tolist() == ["c3", "c2", "c1"]
    first = w.iloc[0]
    assert (first.check, first.evidence, first.offset_s) == ("forbidden_phrase", "我不知道", 63.0)
    assert first.transcript == "这个我不知道，你自己去营业厅问吧。" and bool(first.fatal)


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_same_scorecard_on_postgresql(request, tmp_path_factory, db, backend):
    """Every table of the scorecard is the same when the calls are stored in PostgreSQL."""
    from qa_pipeline.store.filters import CallFilter

    pg = build_fixture_db(tmp_path_factory.mktemp("sc_pg"), backend_db(request, tmp_path_factory, "sc", backend))
    for f in [CallFilter("2026-11-01", "2026-11-22"), CallFilter(team="一组"), CallFilter(agent="张伟")]:
        a, b = build_scorecard(db, f), build_scorecard(pg, f)
        for name in ("summary", "distribution", "items", "violations", "trend", "worst"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False, obj=name)
        assert a.overall == b.overall


def test_filters(db):
    c = build_scorecard(db, "2026-11-01", "2026-11-22", team="一组")
    assert sorted(c.summary.agent_id) == ["A001", "A002"]
    c = build_scorecard(db, "2026-11-04", "2026-11-05", agent="张伟")
    assert c.summary.agent_id.tolist() == ["A001"] and c.summary.calls.tolist() == [1]
    c = build_scorecard(db, "2025-01-01", "2025-01-31")
    assert c.empty


def test_xlsx_read_back(card, tmp_path):
    out = tmp_path / "sc.xlsx"
    write_scorecard(card, "xlsx", out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "分数分布", "评分项通过率", "违规次数", "每日趋势", "最差通话", "说明"]
    ws = wb["汇总"]
    assert ws.freeze_panes == "D2"
    assert all(wb[n].freeze_panes for n in wb.sheetnames)
    hdr = [c.value for c in ws[1]]
    assert hdr[:6] == ["坐席工号", "坐席姓名", "班组", "评分通话数", "处理失败通话", "平均分"]
    mean_col = hdr.index("平均分") + 1
    assert ws.cell(2, mean_col).number_format == "0.0"
    rules = [r for rng in ws.conditional_formatting for r in rng.rules]
    assert any(r.type == "cellIs" and r.operator == "lessThan" for r in rules)
    wi = wb["评分项通过率"]
    assert wi.cell(2, 3).number_format == "0.0%"
    assert any(r.type == "colorScale" for rng in wi.conditional_formatting for r in rng.rules)
    df = pd.read_excel(out, sheet_name="汇总")
    assert df.set_index("坐席工号").loc["A001", "平均分"] == pytest.approx(78.3333, abs=1e-3)
    assert df.set_index("坐席工号").loc["A001", "坐席姓名"] == "张伟"
    worst = pd.read_excel(out, sheet_name="最差通话")
    assert "这个我不知道，你自己去营业厅问吧。" in worst["转写原文"].tolist()


def test_csv_bom_and_chinese(card, tmp_path):
    paths = write_scorecard(card, "csv", tmp_path / "sc.csv")
    assert [p.name for p in paths] == ["sc.csv", "sc_trend.csv", "sc_worst.csv"]
    raw = paths[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(paths[0], encoding="utf-8-sig")
    a1 = df.set_index("坐席工号").loc["A001"]
    assert a1["坐席姓名"] == "张伟" and a1["平均分"] == 78.33 and a1["结束语规范（closing）"] == pytest.approx(0.6667)
    assert a1["静音超30秒（silence_over_30s）·违规"] == 2


def test_html_offline(card, tmp_path):
    out = tmp_path / "sc.html"
    write_scorecard(card, "html", out)
    html = out.read_text(encoding="utf-8")
    assert "张伟" in html and html.count("<svg") == 3
    assert not re.search(r"(src|href)=\"https?://", html)  # nothing fetched from a CDN
    assert '<td class="num low">60.0</td>' in html


def _chromium(*args, tmp):
    cmd = [
        CHROMIUM,
        *OFFLINE_FLAGS,
        "--no-first-run",
        f"--user-data-dir={tmp}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI: apt-get install chromium fonts-noto-cjk)")
def test_html_renders_in_headless_chromium(card, tmp_path):
    out = tmp_path / "sc.html"
    write_scorecard(card, "html", out)
    with tempfile.TemporaryDirectory() as prof:
        dom = _chromium("--dump-dom", out.as_uri(), tmp=prof).stdout
    assert 'data-charts-rendered="3/3"' in dom, dom[:500]
    assert dom.count('data-rendered="1"') == 3
    png = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as prof:
        _chromium(f"--screenshot={png}", "--window-size=1200,900", out.as_uri(), tmp=prof)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1200 and int.from_bytes(data[20:24], "big") == 900
    assert len(data) > 20_000  # a blank page compresses to a few KB


def test_cli_scorecard(db, tmp_path):
    app = typer.Typer()
    app.command("scorecard")(scorecard_command)
    app.command("noop")(lambda: None)
    out = tmp_path / "x.html"
    r = CliRunner().invoke(
        app,
        [
            "scorecard",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-22",
            "--team",
            "一组",
            "--format",
            "html",
            "-o",
            str(out),
            "--db",
            str(db),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "张伟" in out.read_text(encoding="utf-8") and "王芳" not in out.read_text(encoding="utf-8")
    r = CliRunner().invoke(app, ["scorecard", "--from", "2026-13-01", "--db", str(db)])
    assert r.exit_code != 0
    # a range that ends before it starts is said, not written out as an empty scorecard
    bad = tmp_path / "reversed.html"
    args = ["scorecard", "--from", "2026-11-30", "--to", "2026-11-01", "--db", str(db), "-o", str(bad)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "晚于" in r.output and not bad.exists()


def test_worst_calls_carry_the_rubric_verdict_and_severity(db):
    """Issue 9: each worst call shows 合格/不合格 and its worst severity class (红线/严重/一般), from the catalog —
    in the xlsx/csv/html tables alike (they share `views`)."""
    from qa_pipeline import i18n
    from qa_pipeline.report.html import render_html
    from qa_pipeline.report.scorecard import views

    card = build_scorecard(db, "2026-11-01", "2026-11-22")
    w = card.worst.set_index("call_id")
    assert (w.loc["c3", "verdict"], w.loc["c3", "severity"]) == ("不合格", "红线")  # the fatal call
    assert set(w.verdict.dropna()) <= {"合格", "不合格"} and "合格" in set(w.verdict)
    page = render_html(card)
    assert "<th>规则判定</th>" in page and "<th>最严重等级</th>" in page and ">红线</td>" in page
    assert {"规则判定", "最严重等级"} <= set(views(card)["worst"].columns)
    i18n.set_language("en")
    en = build_scorecard(db, "2026-11-01", "2026-11-22").worst.set_index("call_id")
    assert (en.loc["c3", "verdict"], en.loc["c3", "severity"]) == ("fail (不合格)", "red line")
    assert "<th>worst severity</th>" in render_html(build_scorecard(db, "2026-11-01", "2026-11-22"))


def test_the_scorecard_reads_in_english_too(db, tmp_path):
    """Sheet and column titles, page text and reasons come from the catalog: with --lang en nothing of the
    scorecard's own wording is Chinese (agents' names, item titles from the rubric and transcripts are data)."""
    from qa_pipeline import i18n
    from qa_pipeline.report.html import render_html

    i18n.set_language("en")
    card = build_scorecard(db, "2026-11-01", "2026-11-22")
    out = tmp_path / "sc.xlsx"
    write_scorecard(card, "xlsx", out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [
        "Summary",
        "Score distribution",
        "Item pass rates",
        "Violations",
        "Daily trend",
        "Worst calls",
        "About",
    ]
    assert [c.value for c in wb["Summary"][1]][:6] == [
        "Agent ID",
        "Agent name",
        "Team",
        "Calls scored",
        "Calls failed",
        "Mean score",
    ]
    assert wb["Summary"].cell(2, 6).number_format == "0.0"  # the mean is still recognised as a score column
    about = [r[0].value for r in wb["About"].iter_rows()]
    assert not any(re.search(r"[\u4e00-\u9fff]", str(v)) for v in about), about
    page = render_html(card)
    chrome = re.sub(r"<td[^>]*>.*?</td>", "", page)  # table cells hold data (names, titles, transcripts)
    chrome = re.sub(r"<th>[^<]*（[^<]*</th>|<th>[^<]*\([^<]*\)</th>", "", chrome)  # item titles from the rubric
    chrome = re.sub(r"<text[^>]*>[^<]*</text>|<title>[^<]*</title>", "", chrome)  # chart labels: item titles
    assert '<html lang="en">' in page and "Agent QA scorecard" in page
    assert not re.search(r"[\u4e00-\u9fff]", chrome), re.findall(r".{20}[\u4e00-\u9fff]+.{20}", chrome)[:5]
    paths = write_scorecard(card, "csv", tmp_path / "sc.csv")
    df = pd.read_csv(paths[0], encoding="utf-8-sig")
    assert df.set_index("Agent ID").loc["A001", "Mean score"] == 78.33
    assert "Silence over 30 s (silence_over_30s) · violations" in df.columns or any(
        c.endswith("(silence_over_30s) · violations") for c in df.columns
    )
