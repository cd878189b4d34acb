"""Accuracy harness: metric primitives on hand-made data, and the real pipeline (transcript engine) on the
committed samples held to minimum accuracy targets, so that a regression in any check fails CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_pipeline.asr import AsrOptions
from qa_pipeline.batch import run_batch
from qa_pipeline.evaluate import (
    PRF,
    Span,
    cer,
    edit_distance,
    evaluate,
    match_occurrences,
    predicted_status,
    sample_jobs,
    to_markdown,
    write_report,
)
from qa_pipeline.pipeline import PipelineOptions

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"


# -- metric primitives ----------------------------------------------------------------------------------
def test_edit_distance_and_cer_normalise() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert cer("您好，很高兴为您服务。", "您好很高兴为您服务") == (0, 9)  # punctuation ignored
    assert cer("您好，很高興為您服務", "您好很高兴为您服务") == (0, 9)  # traditional → simplified
    assert cer("我不知道", "我不清楚") == (2, 4)
    assert cer("请您稍等", "请您稍等一下") == (2, 4)  # insertions count


def test_occurrence_matching_is_one_to_one_within_tolerance() -> None:
    truth = [Span(10, 12), Span(30, 32)]
    pred = [Span(10.4, 12.3), Span(10.5, 12.1), Span(45, 46)]
    assert match_occurrences(truth, pred, 1.0) == [(0, 1)]  # closest wins, the other is extra
    assert match_occurrences(truth, pred, 0.2) == []
    # span mode: a phrase inside a turn
    assert match_occurrences([Span(30.58, 34.39)], [Span(30.6, 31.9)], 1.0, "span") == [(0, 0)]
    assert match_occurrences([Span(30.58, 34.39)], [Span(36.0, 37.0)], 1.0, "span") == []


def test_prf_and_predicted_status() -> None:
    p = PRF()
    p.add(3, 1, 2)
    assert p.precision == 0.75 and p.recall == 0.6 and p.f1 == pytest.approx(2 * 3 / (6 + 3))
    assert PRF().f1 == 1.0 and PRF(0, 1, 0).f1 == 0.0
    assert predicted_status([{"status": "pass"}, {"status": "fail"}]) == "fail"
    assert predicted_status([{"status": "pass"}, {"status": "needs_review"}]) == "needs_review"
    assert predicted_status([]) == "not_applicable"


def _fake_call(folder: Path, call_id: str, *, fails: list[tuple[float, float]], text: str, score: float) -> None:
    checks = [{"check": "interruption", "status": "fail", "start": a, "end": b} for a, b in fails]
    checks = checks or [{"check": "interruption", "status": "pass", "start": None, "end": None}]
    res = {
        "call_id": call_id,
        "status": "ok",
        "engine": {"asr": "fake"},
        "checks": checks,
        "events": [],
        "utterances": [{"speaker": "agent", "start": 0, "end": 1, "text": text}],
        "score": {"total": score},
    }
    (folder / "calls").mkdir(parents=True, exist_ok=True)
    (folder / "calls" / f"{call_id}.json").write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")


def _fake_truth(folder: Path, call_id: str, quality: str, occ: list[tuple[float, float]]) -> None:
    tr = {
        "call_id": call_id,
        "quality": quality,
        "turns": [{"speaker": "agent", "start": 0, "end": 1, "text": "您好，请讲。"}],
        "checks": {
            "interruption": {
                "status": "fail" if occ else "pass",
                "occurrences": [{"start": a, "end": b} for a, b in occ],
            }
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{call_id}.truth.json").write_text(json.dumps(tr, ensure_ascii=False), encoding="utf-8")


def test_evaluate_on_hand_made_results(tmp_path: Path) -> None:
    res, truth = tmp_path / "R", tmp_path / "truth"
    _fake_truth(truth, "a", "perfect", [])
    _fake_truth(truth, "b", "terrible", [(5, 7), (20, 22)])
    _fake_truth(truth, "c", "minor", [])  # no result → missing
    _fake_call(res, "a", fails=[], text="您好请讲", score=50)
    _fake_call(res, "b", fails=[(5.3, 7.2), (40, 41)], text="你好请讲", score=10)
    rep = evaluate(res, truth)
    assert rep.missing == ["c"]
    assert rep.cer["all"] == pytest.approx(1 / 8)
    occ = rep.occurrences["interruption"]
    assert (occ["tp"], occ["fp"], occ["fn"]) == (1, 1, 1)
    assert rep.check_status["interruption"]["accuracy"] == 1.0
    assert rep.score["means_ordered"] is True
    md = to_markdown(rep)
    assert "interruption" in md and "missing" in md
    j, m = write_report(rep, tmp_path / "eval")
    assert json.loads(j.read_text(encoding="utf-8"))["status_accuracy"] == 1.0 and m.exists()
    # the swapped ranking is caught
    _fake_call(res, "a", fails=[], text="您好请讲", score=5)
    assert evaluate(res, truth).score["means_ordered"] is False


# -- the real pipeline on the committed samples ---------------------------------------------------------------
@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("eval_results")
    summary = run_batch(sample_jobs(SAMPLES), out, PipelineOptions(asr=AsrOptions(engine="transcript")))
    assert summary.failed == 0
    return evaluate(out, SAMPLES)


def test_samples_all_evaluated(report) -> None:  # type: ignore[no-untyped-def]
    assert report.missing == [] and len(report.calls) == len(list(SAMPLES.glob("*.truth.json")))
    assert report.cer["all"] == 0.0  # the transcript engine reads the exact script


@pytest.mark.parametrize(
    "check",
    [
        "interruption",
        "silence_over_30s",
        "silence_over_60s",
        "response_latency",
        "no_response_to_long_speech",
        "hold_notice",
        "hold_apology",
        "wait_fluency",
    ],
)
def test_timeline_checks_f1(report, check: str) -> None:  # type: ignore[no-untyped-def]
    assert report.f1(check) >= 0.98, (check, report.occurrences.get(check), report.check_status[check])


@pytest.mark.parametrize("check", ["greeting", "transfer_phrase", "transfer_pause"])
def test_phrase_checks_f1(report, check: str) -> None:  # type: ignore[no-untyped-def]
    assert report.f1(check) >= 0.95, (check, report.occurrences.get(check), report.check_status[check])
    assert report.check_status[check]["f1"] >= 0.95


def test_closing_and_hold_notice_follow_the_10086_rules(report) -> None:  # type: ignore[no-untyped-def]
    # issue 9: closing = the ask for more needs AND thanks/goodbye, `not_applicable` when the agent leg ends at a
    # transfer; hold_notice is judged for every agent-side lookup pause over the rubric's min_wait_s. The truth
    # (synth/truth.py) follows the same rules, so the checks agree with it on every sample.
    for check in ("closing", "hold_notice"):
        diffs = [m for c in report.calls for m in c.status_mismatches if m.startswith(check)]
        assert diffs == [], diffs
        assert report.check_status[check]["accuracy"] == 1.0
    truth = {p.name.split(".")[0]: json.loads(p.read_text("utf-8")) for p in SAMPLES.glob("*.truth.json")}
    assert truth["09_transfer_auto_no_phrase"]["checks"]["closing"]["status"] == "not_applicable"
    assert truth["06_complaint_interruptions"]["checks"]["closing"]["status"] == "fail"  # goodbye without the ask
    assert truth["16_quiet_agent_two_short_waits"]["checks"]["hold_notice"]["status"] == "pass"  # two ~20 s waits


def test_forbidden_phrase_occurrences(report) -> None:  # type: ignore[no-untyped-def]
    occ = report.occurrences["forbidden_phrase"]
    assert occ["recall"] == 1.0 and report.check_status["forbidden_phrase"]["f1"] == 1.0
    # extras are violations of their own that the truth, which tags a turn once, does not list; no other may appear.
    # 10: 这不归我们管 + 你去营业厅办吧 (two 推诿 in one turn), 我都说了去营业厅 (already told) beside 你听不懂吗, and
    # (session 15) 你在哪办的就去哪问 beside 这个我不知道 — a brush-off of its own, though the classifier files it under
    # 反问 rather than 推诿; 06: 我们这边没办法 (推诿) — the issue itself names 这个我也没办法 among the violations the
    # matchers must catch
    allowed = {"10_terrible_forbidden": 3, "06_complaint_interruptions": 1}
    extra = {
        c.call_id: int(e.rsplit(", ", 1)[1].split()[0])
        for c in report.calls
        for e in c.occurrence_errors
        if e.startswith("forbidden_phrase:")
    }
    assert all(n <= allowed.get(call, 0) for call, n in extra.items()), extra
    assert occ["fp"] <= sum(allowed.values())


def test_call_level_status_accuracy(report) -> None:  # type: ignore[no-untyped-def]
    assert report.status_accuracy >= 0.97
    # known definitional gaps (see docs/accuracy.md) must not grow: at most 6 wrong (call, check) statuses
    wrong = sum(round(s["n"] * (1 - s["accuracy"])) for s in report.check_status.values())
    assert wrong <= 6, [c.status_mismatches for c in report.calls]


def test_timeline_accuracy(report) -> None:  # type: ignore[no-untyped-def]
    gaps, ovs = report.timeline["silence_gaps"], report.timeline["interruptions"]
    assert gaps["f1"] >= 0.95 and gaps["start_error_s"]["mean_abs"] <= 0.25 and gaps["end_error_s"]["mean_abs"] <= 0.25
    assert ovs["f1"] == 1.0 and ovs["start_error_s"]["max_abs"] <= 0.3
    assert report.timeline["speech_rate"]["rel_error"]["mean_abs"] <= 0.05


def test_score_ranks_quality_classes(report) -> None:  # type: ignore[no-untyped-def]
    classes = report.score["by_quality"]
    assert list(classes) == ["perfect", "minor", "severe", "terrible"]
    assert report.score["means_ordered"], classes
    assert classes["perfect"]["min"] > classes["severe"]["mean"]


@pytest.mark.slow
def test_mono_samples_diarization_in_eval(tmp_path: Path) -> None:
    """The committed mono mixdowns through the real pipeline (diarization + faster-whisper): the harness
    reports DER against the truth turns and whether the agent was found."""
    from qa_pipeline.batch import run_batch
    from qa_pipeline.evaluate import evaluate
    from qa_pipeline.manifest import CallJob, metadata_from_name
    from qa_pipeline.pipeline import PipelineOptions

    samples = Path(__file__).resolve().parent.parent / "data_samples"
    paths = sorted(samples.glob("*.mono.flac"))
    assert len(paths) >= 2
    out = tmp_path / "mono"
    summary = run_batch([CallJob(p, metadata_from_name(p, None)) for p in paths], out, PipelineOptions())
    assert summary.ok == len(paths)
    d = evaluate(out, samples).diarization
    assert d["calls"] == len(paths)
    assert d["der"] is not None and d["der"] < 0.15
    assert d["agent_correct"] == len(paths)


def test_prohibited_behaviour_ranks_below_courtesy_only_calls(report) -> None:  # type: ignore[no-untyped-def]
    # issue 9 on the samples: every call with a prohibited behaviour (禁语/推诿/反问, 抢话, 无故静音) scores
    # below every call whose only faults are courtesy phrases or handled slow lookups, and is 不合格
    courtesy = {"greeting", "closing", "polite_terms", "honorific", "hold_notice", "hold_apology"}
    courtesy |= {"confirm_understanding", "wait_fluency"}
    prohibited, courteous = [], []
    for path in sorted((Path(report.results_dir) / "calls").glob("*.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        fails = [c for c in res["checks"] if c["status"] == "fail"]
        bad = [
            c
            for c in fails
            if c["check"] in ("forbidden_phrase", "interruption")
            or (c["check"].startswith("silence_over") and not c["detail"].get("announced"))
        ]
        if bad:
            prohibited.append((res["score"]["total"], res["score"]["verdict"], res["call_id"]))
        elif {c["check"] for c in fails} <= courtesy:
            courteous.append((res["score"]["total"], res["call_id"]))
    assert prohibited and courteous
    assert max(p[0] for p in prohibited) < min(c[0] for c in courteous), (prohibited, courteous)
    assert all(p[1] == "fail" for p in prohibited)
