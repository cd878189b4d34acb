"""Judging from stored data: rescore reproduces stored findings and scores, keeps the rubric history, is
resumable; handling time against a stored average; `rules test` over stored calls; the stored timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_rules import NORMAL, call
from typer.testing import CliRunner

from qa_pipeline.cli import app
from qa_pipeline.judging import JudgeInputs, judge, stored_timeline
from qa_pipeline.report import build_scorecard
from qa_pipeline.rescore import rescore
from qa_pipeline.result import CallResult
from qa_pipeline.rubric import load_rubric, parse_rubric
from qa_pipeline.rules.loader import load_rule_file
from qa_pipeline.rules.trial import run_trial
from qa_pipeline.store import schema as S
from qa_pipeline.store.db import open_store
from qa_pipeline.store.filters import CallFilter
from qa_pipeline.store.search import search
from qa_pipeline.types import AudioSource, CallMetadata

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"


def stored_result(
    cid: str, turns, rubric, *, day: str, queue: str = "10086", duration: float | None = None, agent="A1"
):  # type: ignore[no-untyped-def]
    tl, tr = call(turns, duration=duration)
    md = CallMetadata(cid, agent_id=agent, agent_name=agent, team="一组", started_at=f"{day}T10:00:00", queue=queue)
    j = judge(JudgeInputs(tl, tr, md), rubric)
    audio = AudioSource(f"{cid}.wav", "0" * 64, tl.duration, 8000, 2, "stereo")
    return CallResult(
        cid,
        "ok",
        md,
        audio=audio,
        transcript=tr,
        events=j.events,
        checks=j.findings,
        score=j.score,
        timeline=stored_timeline(tl, tr, md),
        tags=j.tags,
    ).to_json()


BASE = load_rubric("10086")
HT_RUBRIC = """
id: ht
title: handling time
version: "1"
checks:
  handling_time:
    baseline: {by: queue, window_days: 30, min_calls: 3}
    tiers: [{over_ratio: 0.25, deduction: 5}, {over_ratio: 0.5, deduction: 8}, {over_ratio: 0.7, deduction: 10}]
items:
  - {id: B2.1, title: 办理时间, points: 10, checks: [{check: handling_time, deduct_from: deduction}]}
"""


def test_handling_time_against_the_stored_average(tmp_path: Path) -> None:
    store = open_store(tmp_path / "x.db")
    rub = parse_rubric(HT_RUBRIC, "ht.yaml")
    short = [("agent", 0.5, 2.0, "您好"), ("customer", 2.5, 4.0, "查话费")]
    # three earlier calls of 100 s in queue Q1 → average 100 s; the call under test lasts 160 s (+60 % → −8)
    results = [stored_result(f"old{i}", short, rub, day="2026-11-10", queue="Q1", duration=100.0) for i in range(3)]
    results.append(stored_result("long", short, rub, day="2026-11-20", queue="Q1", duration=160.0))
    results.append(stored_result("lonely", short, rub, day="2026-11-20", queue="Q2", duration=160.0))
    results.append(stored_result("too_late", short, rub, day="2027-01-30", queue="Q1", duration=160.0))
    store.upsert_many(results)
    rescore(store, rub)
    with store.read() as conn:
        rows = {
            r.call_id: (r.status, json.loads(r.detail_json))
            for r in conn.execute(
                sa.select(S.checks.c.call_id, S.checks.c.status, S.checks.c.detail_json).where(
                    S.checks.c.check == "handling_time"
                )
            )
        }
        totals = dict(conn.execute(sa.select(S.calls.c.call_id, S.calls.c.score_total)).all())
    assert rows["long"][0] == "fail", rows["long"]
    assert rows["long"][1]["average_s"] == 100.0 and rows["long"][1]["deduction"] == 8
    assert rows["long"][1]["average_calls"] == 3 and totals["long"] == 2.0
    lonely = rows["lonely"][1]  # no calls in its queue
    assert rows["lonely"][0] == "needs_review" and lonely["reason"] == "few_stored_calls"
    assert lonely["average_key"] == "Q2" and lonely["average_calls"] == 0
    assert rows["too_late"][0] == "needs_review"  # the 100 s calls are outside the 30-day window
    assert rows["old0"][0] == "needs_review"  # a call's own day is not its yardstick
    store.close()


def test_rescore_history_resume_tags_and_rules_test(tmp_path: Path) -> None:
    store = open_store(tmp_path / "x.db")
    angry = [NORMAL[0], ("customer", 3.5, 7.0, "你们乱扣费，我要去工信部投诉你们！"), *NORMAL[2:]]
    store.upsert_many(
        [
            stored_result("c1", NORMAL, BASE, day="2026-11-17", agent="A1"),
            stored_result("c2", angry, BASE, day="2026-11-18", agent="A2"),
            stored_result("c3", NORMAL, BASE, day="2026-12-01", agent="A2"),
        ]
    )
    mine = load_rubric(ROOT / "scoring_rubrics" / "examples" / "my_rubric.yaml")
    rep = rescore(store, mine, CallFilter("2026-11-16", "2026-11-22"))
    assert (rep.selected, rep.rescored) == (2, 2)
    assert rescore(store, mine, CallFilter("2026-11-16", "2026-11-22")).already_done == 2  # resumable
    with store.read() as conn:
        tags = conn.execute(sa.select(S.call_tags.c.call_id, S.call_tags.c.tag)).all()
        hist = conn.execute(
            sa.select(S.score_history.c.call_id, S.score_history.c.rubric, S.score_history.c.source)
        ).all()
        utts = conn.execute(sa.select(sa.func.count()).select_from(S.utterances)).scalar()
    assert ("c2", "升级风险") in tags and ("c1", "话费查询") in tags and not any(c == "c3" for c, _ in tags)
    assert ("c1", None, "score") in hist and ("c1", "10086-my-centre", "rescore") in hist
    assert utts == 3 * len(NORMAL)  # transcripts and the search index are left alone

    rules = load_rule_file(ROOT / "scoring_rubrics" / "examples" / "rules" / "escalation.yaml")
    trial = run_trial(store, rules, CallFilter("2026-11-16", "2026-11-22"))
    t = trial.rules[0]
    assert (t.total.calls, t.total.hits) == (2, 1) and t.by_agent["A2"].hits == 1 and t.by_agent["A1"].hits == 0
    assert t.examples[0].call_id == "c2" and "工信部" in t.examples[0].evidence

    # tags are filters of search and scorecards (one CallFilter)
    hits = search(store, "话费", CallFilter(tag="升级风险"))
    assert hits and {h.call_id for h in hits} == {"c2"}
    card = build_scorecard(store, CallFilter(tag="话费查询"))
    assert int(card.summary["calls"].sum()) == 2
    store.close()

    # the commands: rules test prints hits per agent and examples; rescore reports progress and is resumable
    db = str(tmp_path / "x.db")
    rule = str(ROOT / "scoring_rubrics" / "examples" / "rules" / "escalation.yaml")
    out = runner.invoke(
        app, ["--lang", "en", "rules", "test", rule, "--db", db, "--from", "2026-11-16", "--to", "2026-11-22"]
    )
    assert out.exit_code == 0, out.output
    assert "fired on 1 of 2 calls" in out.output and "A2" in out.output and "工信部" in out.output
    out = runner.invoke(app, ["--lang", "en", "rescore", "--db", db, "--rubric", "10086", "--agent", "A1"])
    assert out.exit_code == 0 and "1 re-judged" in out.output, out.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: r\nconditions:\n  a:\n    keywrd: {words: [x]}\n", encoding="utf-8")
    out = runner.invoke(app, ["--lang", "en", "rules", "test", str(bad), "--db", db])
    assert out.exit_code == 1 and "line 4" in out.output and "keywrd" in out.output


def test_rules_test_names_calls_without_an_agent_in_words(tmp_path: Path) -> None:
    """A call with no agent recorded is its own row, labelled from the catalog (it was a bare "?")."""
    store = open_store(tmp_path / "x.db")
    store.upsert_many([stored_result("c1", NORMAL, BASE, day="2026-11-17", agent=None)])
    store.close()
    rule = tmp_path / "fee.yaml"
    rule.write_text("id: fee\ntag: 费用\nconditions:\n  a: {keyword: [话费]}\nexpression: a\n", encoding="utf-8")
    out = runner.invoke(app, ["rules", "test", str(rule), "--db", str(tmp_path / "x.db")])
    assert out.exit_code == 0, out.output
    assert "（未记录）" in out.output and "│ ?" not in out.output


@pytest.mark.slow
def test_rescore_with_the_unchanged_rubric_reproduces_every_stored_finding_and_score(tmp_path: Path) -> None:
    """Samples through the real pipeline (VAD on the audio, the samples' transcripts), stored, rescored."""
    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.pipeline import PipelineOptions, score_call
    from qa_pipeline.store.importer import import_results

    opts = PipelineOptions(asr=AsrOptions(engine="transcript"))
    calls = tmp_path / "calls"
    calls.mkdir()
    names = [
        "04_broadband_hold_announced",
        "06_complaint_interruptions",
        "10_terrible_forbidden",
        "15_fast_agent_repeated_question",
    ]
    for n in names:
        r = score_call(SAMPLES / f"{n}.flac", CallMetadata(n, agent_id="A1", started_at="2026-11-20T09:00:00"), opts)
        assert r.status == "ok", r.error
        (calls / f"{n}.json").write_text(json.dumps(r.to_json(), ensure_ascii=False), encoding="utf-8")
    import_results(tmp_path, tmp_path / "x.db")
    store = open_store(tmp_path / "x.db")

    def snapshot():  # type: ignore[no-untyped-def]
        with store.read() as conn:
            checks = conn.execute(sa.select(S.checks).order_by(S.checks.c.call_id, S.checks.c.idx)).all()
            items = conn.execute(sa.select(S.item_scores).order_by(S.item_scores.c.call_id, S.item_scores.c.idx)).all()
            scores = conn.execute(
                sa.select(
                    S.calls.c.call_id,
                    S.calls.c.score_total,
                    S.calls.c.score_max,
                    S.calls.c.fatal,
                    S.calls.c.needs_review,
                )
            ).all()
        return [tuple(r)[1:] for r in checks], [tuple(r)[1:] for r in items], sorted(scores)

    before = snapshot()
    rep = rescore(store, BASE, force=True, full=True)  # every check run again from the stored data
    assert rep.rescored == len(names) and rep.changed == 0 and rep.reused_checks == 0
    assert snapshot() == before
    rep = rescore(store, BASE, force=True)  # unchanged checks keep their stored findings
    assert rep.reused_checks == len(names) * len(BASE.check_names) and rep.changed == 0
    assert snapshot() == before
    # a changed parameter re-runs that check only: a 20 s silence limit finds the 40 s hold of sample 04
    stricter = parse_rubric(
        (ROOT / "qa_pipeline" / "rubrics" / "10086.yaml")
        .read_text(encoding="utf-8")
        .replace("min_gap_s: 30", "min_gap_s: 20"),
        "stricter.yaml",
    )
    rep = rescore(store, stricter, force=True)
    assert rep.reused_checks == len(names) * (len(BASE.check_names) - 1)
    store.close()


def test_rescore_keeps_findings_no_check_produces(tmp_path: Path) -> None:
    """privacy's pii_masked spans (what audio export masks) are not judged: rescoring must not drop them."""
    store = open_store(tmp_path / "x.db")
    r = stored_result("c1", NORMAL, BASE, day="2026-11-17")
    r["checks"].append(
        {
            "check": "pii_masked",
            "status": "pass",
            "start": 3.6,
            "end": 4.2,
            "speaker": "customer",
            "evidence": "[手机号]",
            "detail": {},
        }
    )
    store.upsert_many([r])
    rescore(store, load_rubric(ROOT / "scoring_rubrics" / "examples" / "my_rubric.yaml"), full=True)
    with store.read() as conn:
        kept = conn.execute(sa.select(S.checks.c.start).where(S.checks.c.check == "pii_masked")).scalars().all()
    assert kept == [3.6]
    store.close()


def _archive(db: Path) -> None:
    """A dozen stored calls of two queues over three days, some with an escalation, for parallel runs."""
    store = open_store(db)
    angry = [NORMAL[0], ("customer", 3.5, 7.0, "你们乱扣费，我要去工信部投诉你们！"), *NORMAL[2:]]
    results = []
    for i in range(12):
        turns = angry if i % 3 == 0 else NORMAL
        results.append(
            stored_result(
                f"p{i:02d}",
                turns,
                BASE,
                day=f"2026-11-{17 + i % 3}",
                queue=f"Q{i % 2}",
                duration=60.0 + 7 * i,
                agent=f"A{i % 4}",
            )
        )
    store.upsert_many(results)
    store.close()


def _judgement_rows(db: Path) -> dict[str, list[tuple]]:
    """Everything rescore writes (but the time it wrote it)."""
    store = open_store(db)
    h = S.score_history
    out = {}
    with store.read() as conn:
        for name, q in {
            "checks": sa.select(S.checks).order_by(S.checks.c.call_id, S.checks.c.idx),
            "items": sa.select(S.item_scores).order_by(S.item_scores.c.call_id, S.item_scores.c.idx),
            "tags": sa.select(S.call_tags).order_by(S.call_tags.c.call_id, S.call_tags.c.idx),
            "calls": sa.select(S.calls.c.call_id, S.calls.c.score_total, S.calls.c.fatal, S.calls.c.needs_review),
            "timelines": sa.select(S.call_timelines).order_by(S.call_timelines.c.call_id),
            "history": sa.select(h.c.call_id, h.c.rubric, h.c.rubric_sha256, h.c.score_total, h.c.source).order_by(
                h.c.call_id, h.c.history_id
            ),
        }.items():
            out[name] = [tuple(r) for r in conn.execute(q)]
    store.close()
    return out


@pytest.mark.slow  # starts worker processes (each imports the package)
def test_parallel_workers_give_the_same_stored_results_and_stay_resumable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_pipeline import judge_pool

    # a dozen calls in batches of 2–3: let them go to the workers (an archive's size would by itself)
    monkeypatch.setattr(judge_pool, "MIN_PARALLEL_CALLS", 0)
    monkeypatch.setattr(judge_pool, "MIN_PARALLEL_BATCH", 3)  # both runs stop after the same 3 calls
    mine = load_rubric(ROOT / "scoring_rubrics" / "examples" / "my_rubric.yaml")
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    _archive(one)
    _archive(two)

    # each run interrupted after the first batch it wrote, then run again: picks up where it stopped (the
    # topic baseline of the second run sees the first run's tags, so both sides are interrupted alike)
    def stop_after_first_batch(done: int, total: int) -> None:
        seen.append(done)
        if done > 0:
            raise KeyboardInterrupt

    reports, trials = [], []
    for db, workers in ((one, 1), (two, 2)):
        seen: list[int] = []
        store = open_store(db)
        with pytest.raises(KeyboardInterrupt):
            rescore(store, mine, batch_size=3, workers=workers, progress=stop_after_first_batch)
        assert seen == [0, 3]
        reports.append(rescore(store, mine, batch_size=3, workers=workers))
        trials.append(run_trial(store, mine.rules, batch_size=2, workers=workers, max_examples=3))
        store.close()
    r1, r2 = reports
    t1, t2 = trials
    assert (r1.already_done, r1.rescored) == (r2.already_done, r2.rescored) == (3, 9)
    assert r1.changed == r2.changed
    rows1, rows2 = _judgement_rows(one), _judgement_rows(two)
    for name in rows1:
        assert rows1[name] == rows2[name], name
    assert any(tag == "升级风险" for *_, tag, _, _, _, _ in rows1["tags"])
    # the trial report: same tallies per rule, agent and team, same examples in the same order
    assert t1.calls == t2.calls == 12
    assert t1.rules == t2.rules and any(tr.total.hits for tr in t1.rules)


@pytest.mark.slow  # the real pipeline on a sample (VAD on the audio, its transcript)
def test_score_with_a_database_judges_handling_time_against_the_stored_average(tmp_path: Path) -> None:
    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.batch import call_path, run_batch
    from qa_pipeline.manifest import CallJob
    from qa_pipeline.pipeline import PipelineOptions

    rubric_file = tmp_path / "ht.yaml"
    rubric_file.write_text(HT_RUBRIC, encoding="utf-8")
    rub = parse_rubric(HT_RUBRIC, str(rubric_file))
    opts = PipelineOptions(asr=AsrOptions(engine="transcript"), rubric=str(rubric_file))
    short = [("agent", 0.5, 2.0, "您好"), ("customer", 2.5, 4.0, "查话费")]
    store = open_store(tmp_path / "x.db")
    # three calls of 20 s in queue Q1 ten days earlier: the sample (over a minute) is far over that average
    store.upsert_many(
        [stored_result(f"old{i}", short, rub, day="2026-11-10", queue="Q1", duration=20.0) for i in range(3)]
    )
    md = CallMetadata("s04", agent_id="A1", started_at="2026-11-20T09:00:00", queue="Q1")
    job = CallJob(SAMPLES / "04_broadband_hold_announced.flac", md)
    summary = run_batch([job], tmp_path / "out", opts, store=store)
    assert summary.ok == 1, summary.failures
    result = json.loads(call_path(tmp_path / "out", "s04").read_text(encoding="utf-8"))
    (ht,) = [c for c in result["checks"] if c["check"] == "handling_time"]
    assert ht["status"] == "fail" and ht["detail"]["average_s"] == 20.0 and ht["detail"]["average_calls"] == 3
    assert ht["detail"]["deduction"] == 10 and result["score"]["total"] == 0.0
    with store.read() as conn:
        row = conn.execute(
            sa.select(S.checks.c.status).where(S.checks.c.call_id == "s04", S.checks.c.check == "handling_time")
        ).scalar()
        total = conn.execute(sa.select(S.calls.c.score_total).where(S.calls.c.call_id == "s04")).scalar()
    assert (row, total) == ("fail", 0.0)
    # the same call in queue Q2 (no stored calls): needs_review, as without a database
    job2 = CallJob(job.path, CallMetadata("s04b", agent_id="A1", started_at="2026-11-20T09:00:00", queue="Q2"))
    assert run_batch([job2], tmp_path / "out", opts, store=store).ok == 1
    store.close()
    result = json.loads(call_path(tmp_path / "out", "s04b").read_text(encoding="utf-8"))
    (ht,) = [c for c in result["checks"] if c["check"] == "handling_time"]
    assert (
        ht["status"] == "needs_review"
        and ht["detail"]["reason"] == "few_stored_calls"
        and ht["detail"]["average_key"] == "Q2"
    )
    assert [it["status"] for it in result["score"]["items"]] == ["needs_review"]
    # with that rescore gives the same: the batch judged it as a rescore would
    store = open_store(tmp_path / "x.db")
    with store.read() as conn:
        before = conn.execute(sa.select(S.checks).where(S.checks.c.call_id == "s04").order_by(S.checks.c.idx)).all()
    rep = rescore(store, rub, CallFilter("2026-11-20", "2026-11-20"), force=True)
    with store.read() as conn:
        after = conn.execute(sa.select(S.checks).where(S.checks.c.call_id == "s04").order_by(S.checks.c.idx)).all()
    assert rep.rescored == 2 and rep.changed == 0 and after == before
    store.close()
