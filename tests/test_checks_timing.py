from helpers import timeline, transcript

from qa_pipeline.checks.registry import CheckContext, get_check, run_check
from qa_pipeline.timeline import timeline_from_segments
from qa_pipeline.types import CallMetadata, SpeechSegment


def run(name, tl, tr=None, md=None, **params):  # type: ignore[no-untyped-def]
    ctx = CheckContext(tl, tr or transcript(), params, md or CallMetadata("c"))
    return run_check(name, ctx)


def statuses(findings):  # type: ignore[no-untyped-def]
    return [f.status for f in findings]


def test_interruption_one_finding_per_occurrence() -> None:
    tl = timeline(
        ("customer", 0, 10),
        ("agent", 6, 12),  # agent talks over the customer for 4 s
        ("customer", 14, 20),
        ("agent", 19.5, 22),  # 0.5 s overlap: not an interruption
        ("customer", 25, 35),
        ("agent", 30, 31),  # 1 s backchannel: too short
        ("customer", 40, 50),
        ("agent", 47, 52),
    )  # second interruption
    tr = transcript(("agent", 6, 12, "不是这样的您听我说"))
    f = run("interruption", tl, tr)
    assert statuses(f) == ["fail", "fail"]
    assert (f[0].start, f[0].end, f[0].speaker) == (6, 10, "agent")
    assert f[0].evidence == "不是这样的您听我说"
    assert f[0].detail["overlap_s"] == 4


def test_interruption_at_a_breath_in_mid_sentence() -> None:
    # the agent cuts in during a 0.5 s pause and the customer carries on over the agent
    tl = timeline(("customer", 2.7, 12.3), ("agent", 12.7, 16.2), ("customer", 12.8, 15.3))
    f = run("interruption", tl)
    assert statuses(f) == ["fail"] and (f[0].start, f[0].end) == (12.7, 15.3)
    # a real answer after the customer finished (1.5 s pause) is not an interruption
    tl = timeline(("customer", 2.7, 12.3), ("agent", 13.8, 16.2), ("customer", 14.0, 15.3))
    assert statuses(run("interruption", tl)) == ["pass"]


def test_interruption_pass_and_customer_overlap_ignored() -> None:
    tl = timeline(("agent", 0, 10), ("customer", 6, 12))  # the customer talks over the agent
    assert statuses(run("interruption", tl)) == ["pass"]


def test_interruption_thresholds_come_from_params() -> None:
    tl = timeline(("customer", 0, 10), ("agent", 9.4, 12))
    assert statuses(run("interruption", tl)) == ["pass"]
    assert statuses(run("interruption", tl, min_overlap_s=0.5)) == ["fail"]


def test_silences_over_30_and_60() -> None:
    tl = timeline(("agent", 0, 5), ("customer", 40, 45), ("agent", 110, 115), ("customer", 120, 125))
    f30 = run("silence_over_30s", tl)
    f60 = run("silence_over_60s", tl)
    assert [(f.start, f.end) for f in f30] == [(5, 40), (45, 110)]
    assert [(f.start, f.end) for f in f60] == [(45, 110)]
    assert f30[0].detail["announced"] is False
    assert statuses(run("silence_over_30s", timeline(("agent", 0, 5), ("customer", 34, 36)))) == ["pass"]


def test_silence_is_judged_on_mono_too() -> None:
    tl = timeline_from_segments([SpeechSegment("unknown", 0, 5), SpeechSegment("unknown", 45, 50)], 50, "mono")
    assert statuses(run("silence_over_30s", tl)) == ["fail"]
    assert statuses(run("interruption", tl)) == ["needs_review"]


def test_response_latency_per_slow_answer_and_announced_wait_exempt() -> None:
    tl = timeline(
        ("customer", 0, 5),
        ("agent", 9, 12),  # 4 s: slow
        ("customer", 13, 15),
        ("agent", 16, 18),  # 1 s: fine
        ("customer", 18.5, 19),
        ("agent", 30, 33),  # 11 s, but the agent had asked to wait
        ("customer", 34, 36),
        ("agent", 40, 42),
    )  # 4 s: slow
    tr = transcript(("agent", 16, 18, "请您稍等，我帮您查询一下"), ("customer", 34, 36, "那流量呢"))
    f = run("response_latency", tl, tr)
    assert statuses(f) == ["fail", "fail"]
    assert [(x.start, x.end) for x in f] == [(5, 9), (36, 40)]
    assert f[1].evidence == "那流量呢"
    assert statuses(run("response_latency", timeline(("customer", 0, 5), ("agent", 7, 9)))) == ["pass"]


def test_no_response_to_long_customer_speech() -> None:
    long_talk = timeline(("customer", 0, 12), ("customer", 13, 25), ("customer", 26, 38), ("agent", 39, 41))
    f = run("no_response_to_long_speech", long_talk)
    assert statuses(f) == ["fail"] and f[0].detail["customer_speech_s"] == 38
    backchannel = timeline(("customer", 0, 12), ("customer", 13, 25), ("agent", 20, 20.5), ("customer", 26, 38))
    assert statuses(run("no_response_to_long_speech", backchannel)) == ["pass"]
    short = timeline(("customer", 0, 12), ("agent", 13, 15))
    assert statuses(run("no_response_to_long_speech", short)) == ["not_applicable"]


def _rate_case(chars: int, speech_s: float) -> tuple:  # type: ignore[type-arg]
    tl = timeline(("agent", 0, speech_s), ("customer", speech_s + 1, speech_s + 3))
    tr = transcript(("agent", 0, speech_s, "您" * chars + "，。？"))
    return tl, tr


def test_speech_rate_band_and_measurement() -> None:
    tl, tr = _rate_case(120, 30.0)  # 240 chars/min
    f = run("speech_rate", tl, tr)
    assert statuses(f) == ["pass"] and f[0].detail["chars_per_minute"] == 240.0
    tl, tr = _rate_case(200, 30.0)  # 400 chars/min
    assert run("speech_rate", tl, tr)[0].status == "fail"
    tl, tr = _rate_case(50, 30.0)  # 100 chars/min
    assert run("speech_rate", tl, tr)[0].status == "fail"
    tl, tr = _rate_case(10, 3.0)
    assert run("speech_rate", tl, tr)[0].status == "not_applicable"


def test_volume_quiet_agent_fails() -> None:
    loud = timeline_from_segments(
        [SpeechSegment("agent", i * 5, i * 5 + 3, -22.0) for i in range(6)]
        + [SpeechSegment("customer", 40, 42, -20.0)],
        50,
    )
    quiet = timeline_from_segments(
        [SpeechSegment("agent", i * 5, i * 5 + 3, -48.0) for i in range(6)]
        + [SpeechSegment("customer", 40, 42, -20.0)],
        50,
    )
    assert run("volume", loud)[0].status == "pass"
    f = run("volume", quiet)[0]
    assert f.status == "fail" and f.detail["median_dbfs"] == -48.0


def test_handling_time_tiers() -> None:
    tl = timeline(("agent", 0, 5), ("customer", 6, 8), duration=300)
    tiers = [
        {"over_ratio": 0.25, "deduction": 5},
        {"over_ratio": 0.5, "deduction": 8},
        {"over_ratio": 0.7, "deduction": 10},
    ]
    assert run("handling_time", tl)[0].status == "needs_review"
    assert run("handling_time", tl, average_s=280, tiers=tiers)[0].status == "pass"
    f = run("handling_time", tl, average_s=180, tiers=tiers)[0]  # +67 %
    assert f.status == "fail" and f.detail["deduction"] == 8
    f = run(
        "handling_time",
        tl,
        md=CallMetadata("c", queue="vip"),
        average_s=280,
        average_s_by_queue={"vip": 150},
        tiers=tiers,
    )[0]
    assert f.detail["deduction"] == 10


def test_every_check_declares_defaults_and_a_description() -> None:
    for name in ("interruption", "speech_rate", "volume", "response_latency"):
        spec = get_check(name)
        assert spec.defaults and spec.description
