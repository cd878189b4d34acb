from helpers import timeline, transcript

from qa_pipeline.checks.registry import CheckContext, run_check
from qa_pipeline.holds import transfer_moment, waits
from qa_pipeline.types import CallMetadata


def run(name, tl, tr, md=None, **params):  # type: ignore[no-untyped-def]
    return run_check(name, CheckContext(tl, tr, params, md or CallMetadata("c")))


NOTICE = "好的，请您稍等，我帮您查询一下"
APOLOGY = "对不起，让您久等了，您的话费余额是五十元"


def _hold_call(notice: bool, apology: bool, wait_s: float = 40.0):  # type: ignore[no-untyped-def]
    end = 10 + wait_s
    tl = timeline(("customer", 0, 5), ("agent", 6, 10), ("agent", end, end + 5), ("customer", end + 6, end + 8))
    tr = transcript(
        ("customer", 0, 5, "帮我查一下话费"),
        ("agent", 6, 10, NOTICE if notice else "好的"),
        ("agent", end, end + 5, APOLOGY if apology else "您的话费余额是五十元"),
    )
    return tl, tr


def test_waits_are_agent_side_gaps_announced_or_not() -> None:
    tl, tr = _hold_call(True, True, wait_s=12)
    assert [(w.start, w.end, w.announced) for w in waits(tl, tr)] == [(10, 22, True)]
    # the same silence unannounced is still the customer waiting for the agent (the agent ends it)
    tl, tr = _hold_call(False, True, wait_s=12)
    assert [(w.start, w.end, w.announced) for w in waits(tl, tr)] == [(10, 22, False)]
    tl, tr = _hold_call(False, True, wait_s=31)
    assert [w.announced for w in waits(tl, tr)] == [False]
    # a pause the CUSTOMER ends (looking for an ID card) is not the agent's wait
    tl = timeline(("agent", 0, 4), ("customer", 16, 20), ("agent", 21, 23))
    tr = transcript(("agent", 0, 4, "请您提供一下身份证号码"), ("customer", 16, 20, "好的我找一下"))
    assert waits(tl, tr) == []


def test_announced_and_unannounced_waits_cost_the_same() -> None:
    for notice in (True, False):
        tl, tr = _hold_call(notice, True, wait_s=20)
        (f,) = run("wait_fluency", tl, tr)
        assert f.detail["deduction"] == 2, notice


def test_hold_notice_and_apology_pass() -> None:
    tl, tr = _hold_call(True, True)
    n, a = run("hold_notice", tl, tr), run("hold_apology", tl, tr)
    assert [f.status for f in n] == ["pass"] and n[0].evidence == NOTICE
    assert [f.status for f in a] == ["pass"] and a[0].evidence == APOLOGY
    assert (n[0].start, n[0].end) == (10, 50)


def test_hold_notice_and_apology_fail() -> None:
    tl, tr = _hold_call(False, False)
    assert [f.status for f in run("hold_notice", tl, tr)] == ["fail"]
    assert [f.status for f in run("hold_apology", tl, tr)] == ["fail"]


def test_hold_apology_survives_a_homophone() -> None:
    tl, tr = _hold_call(True, True)
    tr2 = transcript(*[(u.speaker, u.start, u.end, u.text.replace("久等", "酒等")) for u in tr.utterances])
    assert [f.status for f in run("hold_apology", tl, tr2)] == ["pass"]


def test_hold_checks_not_applicable_without_long_wait() -> None:
    tl, tr = _hold_call(True, True, wait_s=8)
    assert [f.status for f in run("hold_notice", tl, tr)] == ["not_applicable"]
    assert [f.status for f in run("hold_apology", tl, tr)] == ["not_applicable"]


def test_hold_notice_judged_for_every_lookup_over_10s() -> None:
    # a 20 s lookup: the notice is required (一(一)1(3)), the apology only after 30 s (一(一)1(4))
    tl, tr = _hold_call(False, False, wait_s=20)
    assert [f.status for f in run("hold_notice", tl, tr)] == ["fail"]
    assert [f.status for f in run("hold_apology", tl, tr)] == ["not_applicable"]
    tl, tr = _hold_call(True, False, wait_s=20)
    assert [f.status for f in run("hold_notice", tl, tr)] == ["pass"]
    assert [f.status for f in run("hold_notice", tl, tr, min_wait_s=30)] == ["not_applicable"]  # rubric parameter


def test_hold_notice_paraphrase() -> None:
    tl, tr = _hold_call(False, False, wait_s=20)
    tr = transcript(("customer", 0, 5, "帮我查一下话费"), ("agent", 6, 10, "行，您先别挂，我这边帮您核实一下"))
    assert [f.status for f in run("hold_notice", tl, tr)] == ["pass"]


def test_wait_fluency_tiers() -> None:
    def fluency(*waits_s: float):  # type: ignore[no-untyped-def]
        segs, utts, t = [("customer", 0, 2)], [], 2.5
        for w in waits_s:
            segs.append(("agent", t, t + 2))
            utts.append(("agent", t, t + 2, NOTICE))
            t += 2 + w
        segs.append(("agent", t, t + 2))
        return run("wait_fluency", timeline(*segs), transcript(*utts))[0]

    assert fluency(10).status == "pass"
    assert fluency(16).detail["deduction"] == 2
    assert fluency(16, 17).detail["deduction"] == 5
    assert fluency(31).detail["deduction"] == 5
    # 查询次数在三次及以上 → −8 (three lookups, each over 10 s)
    assert fluency(11, 12, 11).detail["deduction"] == 8
    assert fluency(31, 32).detail["deduction"] == 8
    assert fluency(61).detail["deduction"] == 8


TRANSFER = "您好，为了更好的为您解决问题，我将把您的电话转至专家台席，请您稍等"


def test_transfer_pause_from_audio_end() -> None:
    tl = timeline(("customer", 0, 4), ("agent", 5, 11), duration=14.0)
    tr = transcript(("customer", 0, 4, "我要投诉"), ("agent", 5, 11, TRANSFER))
    assert transfer_moment(tl, tr, CallMetadata("c")) == 14.0
    f = run("transfer_pause", tl, tr)[0]
    assert f.status == "pass" and f.detail["pause_s"] == 3.0
    short = timeline(("customer", 0, 4), ("agent", 5, 11), duration=11.8)
    assert run("transfer_pause", short, tr)[0].status == "fail"


def test_transfer_pause_from_manifest_and_not_applicable() -> None:
    tl = timeline(("customer", 0, 4), ("agent", 5, 11), ("customer", 12, 13), duration=30.0)
    tr = transcript(("agent", 5, 11, TRANSFER))
    f = run("transfer_pause", tl, tr, CallMetadata("c", transferred_at=12.0))[0]
    assert f.status == "fail" and f.detail["pause_s"] == 1.0
    plain = transcript(("agent", 5, 11, "您的套餐是五十八元"))
    assert run("transfer_pause", tl, plain)[0].status == "not_applicable"


def test_transfer_detected_without_manifest_on_nonstandard_phrase() -> None:
    # "行，那我给你转过去吧" and the agent leg ends: a transfer, judged against the three standard scripts
    tl = timeline(("customer", 0, 4), ("agent", 5, 8), ("customer", 9, 10))
    tr = transcript(("customer", 0, 4, "这个宽带的问题你们能不能找个技术的人"), ("agent", 5, 8, "行，那我给你转过去吧"))
    assert transfer_moment(tl, tr, CallMetadata("c")) is not None
    (f,) = run("transfer_phrase", tl, tr)
    assert f.status == "fail" and f.detail["reason"] == "nonstandard_transfer"
    assert f.detail["transferred_at"] is None and f.detail["detected_at"] is not None
    assert [x.status for x in run("transfer_pause", tl, tr)] in (["pass"], ["fail"])
    assert [x.status for x in run("closing", tl, tr)] == ["not_applicable"]
    # the standard expert-seat script passes
    tr = transcript(
        ("customer", 0, 4, "这个宽带的问题你们能不能找个技术的人"),
        ("agent", 5, 8, "您好，为了更好的为您解决问题，我将把您的电话转至专家台席，请您稍等！"),
    )
    assert [x.status for x in run("transfer_phrase", tl, tr)] == ["pass"]
    # transfer wording, but the agent keeps talking: no transfer happened
    tl = timeline(("customer", 0, 4), ("agent", 5, 8), ("agent", 9, 12))
    tr = transcript(
        ("customer", 0, 4, "能转人工吗"),
        ("agent", 5, 8, "我给您转过去吧"),
        ("agent", 9, 12, "稍等，您的宽带账号是这个号码吗"),
    )
    assert [x.status for x in run("transfer_phrase", tl, tr)] == ["not_applicable"]


def test_borderline_notice_and_apology_go_to_review(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a classifier score in the borderline band (phrasing.thresholds: 0.5–0.6) is neither a pass nor a fail
    import qa_pipeline.checks.waits as w
    import qa_pipeline.holds as holds

    real = holds.said

    def borderline(cat: str, text: str) -> str:
        return "maybe" if text in ("嗯我瞅瞅", "结果出来了") else real(cat, text)

    monkeypatch.setattr(holds, "said", borderline)  # the notice before the wait (holds)
    monkeypatch.setattr(w, "said", borderline)  # the apology after it (the check)
    tl, tr = _hold_call(False, False, wait_s=40)
    tr = transcript(("customer", 0, 5, "帮我查一下话费"), ("agent", 6, 10, "嗯我瞅瞅"), ("agent", 50, 55, "结果出来了"))
    (n,) = run("hold_notice", tl, tr)
    (a,) = run("hold_apology", tl, tr)
    assert (n.status, a.status) == ("needs_review", "needs_review") and "borderline" in n.detail["reason"]
