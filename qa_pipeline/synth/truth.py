"""Exact ground truth (``<stem>.truth.json``) computed from the rendered timeline.

Timing facts (gaps, interruptions, latencies, waits, speech rate) are computed from the placed
turns; wording facts (greeting, forbidden phrase, ...) come from the spec's turn ``tags`` --
the script author labels paraphrases, so the truth does not depend on any lexicon. A spec may
override any check via ``expect: {check: status | {status, reason}}``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ..checks.registry import check_names
from ..intervals import merge_intervals
from ..text import char_count
from .spec import DialogueSpec

CHECKS = [name for name in check_names() if name != "handling_time"]
"""The checks a spec's truth labels: every catalogued one but handling_time, which needs a centre's average
handling time (rubric data), not anything a scripted call says."""
PARAMS = {
    "interruption_min_overlap_s": 1.0,
    "interruption_min_segment_s": 1.5,
    "response_latency_max_s": 3.0,
    "long_speech_s": 30.0,
    "long_speech_merge_gap_s": 2.0,
    "wait_notice_s": 10.0,
    "wait_apology_s": 30.0,
    "wait_min_s": 5.0,
    "wait_unannounced_s": 30.0,
    "closing_last_turns": 3,
    "transfer_pause_min_s": 2.0,
    "speech_rate_min_cpm": 120.0,
    "speech_rate_max_cpm": 300.0,
    "volume_max_abs_db": 10.0,
}


def rubric_params(rubric: str = "10086") -> dict[str, float]:
    """PARAMS with the thresholds the rubric YAML sets, so the truth and the checks share one source."""
    from ..checks import phrases, waits  # noqa: F401  (registers the checks whose defaults are read below)
    from ..checks.registry import get_check
    from ..holds import WAIT_MIN_S, WAIT_UNANNOUNCED_S
    from ..rubric import load_rubric

    cp = load_rubric(rubric).check_params

    def param(check: str, key: str) -> Any:
        return cp.get(check, {}).get(key, get_check(check).defaults[key])

    return {
        **PARAMS,
        "interruption_min_overlap_s": cp["interruption"]["min_overlap_s"],
        "interruption_min_segment_s": cp["interruption"]["min_segment_s"],
        "response_latency_max_s": cp["response_latency"]["max_latency_s"],
        "long_speech_s": cp["no_response_to_long_speech"]["max_customer_speech_s"],
        "wait_notice_s": param("hold_notice", "min_wait_s"),
        "wait_apology_s": param("hold_apology", "min_wait_s"),
        "wait_min_s": WAIT_MIN_S,
        "wait_unannounced_s": WAIT_UNANNOUNCED_S,
        "closing_last_turns": int(param("closing", "last_turns")),
        "transfer_pause_min_s": cp["transfer_pause"]["min_pause_s"],
        "speech_rate_min_cpm": cp["speech_rate"]["min_chars_per_minute"],
        "speech_rate_max_cpm": cp["speech_rate"]["max_chars_per_minute"],
    }


SEVERE = {"forbidden_phrase", "interruption", "silence_over_60s", "no_response_to_long_speech"}


def _r(x: float) -> float:
    return round(float(x), 3)


def _res(status: str, reason: str, **kw: Any) -> dict[str, Any]:
    return {"status": status, "reason": reason, **kw}


def build_truth(spec: DialogueSpec, lay) -> dict[str, Any]:
    P = rubric_params()
    turns = sorted(lay.turns, key=lambda t: (t.start, t.end))
    agent = [t for t in turns if t.speaker == "agent"]
    cust = [t for t in turns if t.speaker == "customer"]

    # --- silence gaps: both parties silent (hold music is not speech) ---
    speech = merge_intervals((t.start, t.end) for t in turns)
    gaps: list[dict[str, Any]] = []
    for (_, e0), (s1, _) in pairwise(speech):
        kind = "hold" if any(a < s1 and b > e0 for a, b in lay.holds) else "dead_air"
        gaps.append({"start": _r(e0), "end": _r(s1), "duration": _r(s1 - e0), "kind": kind})
    over = {k: [g for g in gaps if g["duration"] > k] for k in (15, 30, 60)}

    # --- interruptions ---
    interruptions = []
    for a, b in ((agent, cust), (cust, agent)):
        for x in a:
            for y in b:
                if y.start < x.start < y.end:
                    ov = min(x.end, y.end) - x.start
                    if ov >= P["interruption_min_overlap_s"] and x.end - x.start >= P["interruption_min_segment_s"]:
                        interruptions.append(
                            {
                                "start": _r(x.start),
                                "end": _r(min(x.end, y.end)),
                                "overlap": _r(ov),
                                "who": x.speaker,
                                "text": x.text,
                            }
                        )
    interruptions.sort(key=lambda i: i["start"])
    agent_interruptions = [i for i in interruptions if i["who"] == "agent"]

    # --- response latency ---
    def last_agent_before(t: float):
        prev = [a for a in agent if a.end <= t + 1e-9]
        return max(prev, key=lambda a: a.end) if prev else None

    latencies = []
    for a in agent:
        if any(c.start < a.start < c.end for c in cust):
            continue  # agent starts while the customer speaks: backchannel or interruption
        before = [c for c in cust if c.end <= a.start + 1e-9]
        if not before:
            continue
        c = max(before, key=lambda c: c.end)
        if any(c.end - 1e-9 <= o.start < a.start for o in agent if o is not a):
            continue  # another agent turn answered first
        if any(o.start < c.end < o.end for o in agent):
            continue  # customer spoke during agent speech (backchannel) -> nothing to answer
        lat = a.start - c.end
        if lat > P["response_latency_max_s"]:
            la = last_agent_before(c.end)
            announced = la is not None and "hold_notice" in la.tags and la.end <= c.end
            latencies.append(
                {
                    "start": _r(c.end),
                    "end": _r(a.start),
                    "latency": _r(lat),
                    "excused_by_wait_notice": announced,
                    "text": a.text,
                }
            )
    latency_fail = [x for x in latencies if not x["excused_by_wait_notice"]]

    # --- long customer speech without agent response ---
    stretches: list[list[float]] = []
    for c in cust:
        if (
            stretches
            and c.start - stretches[-1][1] < P["long_speech_merge_gap_s"]
            and not any(stretches[-1][1] <= a.start < c.start for a in agent)
        ):
            stretches[-1][1] = max(stretches[-1][1], c.end)
        else:
            stretches.append([c.start, c.end])
    long_stretches = [s for s in stretches if s[1] - s[0] > P["long_speech_s"]]
    unanswered = [
        {"start": _r(s), "end": _r(e), "duration": _r(e - s)}
        for s, e in long_stretches
        if not any(a.start < e and a.end > s for a in agent)
    ]

    # --- waits (10086 一(一)1(3)/(4)): an agent-side pause is a gap the agent announced or ended, or any gap of
    # `wait_unannounced_s` or more; every such pause over `wait_notice_s` needs a notice before it, every one over
    # `wait_apology_s` an apology after it ---
    def next_speaker(t: float) -> str | None:
        after = [x for x in turns if x.start >= t - 1e-9]
        return min(after, key=lambda x: x.start).speaker if after else None

    agent_waits = []
    for gap in gaps:
        if gap["duration"] < P["wait_min_s"]:
            continue
        la = last_agent_before(gap["start"])
        announced = la is not None and "hold_notice" in la.tags
        if announced or next_speaker(gap["end"]) == "agent" or gap["duration"] >= P["wait_unannounced_s"]:
            agent_waits.append(gap)
    notice_waits = [w for w in agent_waits if w["duration"] > P["wait_notice_s"]]
    apology_waits = [w for w in agent_waits if w["duration"] > P["wait_apology_s"]]
    missing_notice, missing_apology = [], []
    for wait in notice_waits:
        la = last_agent_before(wait["start"])
        if la is None or "hold_notice" not in la.tags:
            missing_notice.append(wait)
    for wait in apology_waits:
        nxt = [a for a in agent if a.start >= wait["end"] - 1e-9]
        if not nxt or "hold_apology" not in min(nxt, key=lambda a: a.start).tags:
            missing_apology.append(wait)

    # --- speech rate ---
    a_chars = sum(char_count(a.text) for a in agent)
    a_time = sum(a.end - a.start for a in agent)
    rate = a_chars / (a_time / 60.0) if a_time > 0 else 0.0

    def tagged(tag: str, who=agent) -> list[dict[str, Any]]:
        out = []
        for t in who:
            if tag in t.tags:
                for ph in t.tag_values.get(tag, [None]):
                    occ = {"start": _r(t.start), "end": _r(t.end), "text": t.text}
                    if ph is not None:
                        occ["phrase"] = ph
                    out.append(occ)
        return out

    checks: dict[str, dict[str, Any]] = {}
    g = tagged("greeting")
    first_agent = agent[0] if agent else None
    checks["greeting"] = (
        _res("pass", "agent's first turn is a standard greeting", occurrences=g)
        if first_agent and "greeting" in first_agent.tags
        else _res("fail", "agent's first turn is not a greeting", occurrences=g)
    )
    # 结束语 (10086 l.5-6): the ask for further needs (tag `closing_ask`) and thanks/goodbye (tag `closing`) among
    # the agent's last `closing_last_turns` turns; when the agent leg ends at a transfer there is nothing to judge
    c = tagged("closing_ask") + tagged("closing")
    tail = agent[-int(P["closing_last_turns"]) :]
    has_ask = any("closing_ask" in t.tags for t in tail)
    has_thanks = any("closing" in t.tags for t in tail)
    if lay.transfer is not None and not any(a.start > lay.transfer["time"] for a in agent):
        checks["closing"] = _res("not_applicable", "call transferred: the agent leg ends at the transfer")
    elif has_ask and has_thanks:
        checks["closing"] = _res("pass", "agent asks for further needs and thanks/says goodbye", occurrences=c)
    else:
        missing = [x for x, ok in (("ask for further needs", has_ask), ("thanks/goodbye", has_thanks)) if not ok]
        checks["closing"] = _res("fail", f"closing lacks: {', '.join(missing)}", occurrences=c)
    p = tagged("polite")
    checks["polite_terms"] = (
        _res("pass", f"{len(p)} agent turn(s) with polite terms", occurrences=p)
        if p
        else _res("fail", "agent uses no polite terms (请/谢谢/对不起/不客气...)", occurrences=[])
    )
    # 尊称: the agent addresses the customer with 您 or a title at least once (ASR often writes 您 as 你,
    # so a stray 你 alone is not held against an agent who also says 您)
    ni = [{"start": _r(t.start), "end": _r(t.end), "text": t.text} for t in agent if "你" in t.text]
    respectful = any(w in t.text for t in agent for w in ("您", "先生", "女士", "小姐"))
    checks["honorific"] = (
        _res("pass", "agent addresses the customer with 您 or a title", occurrences=[])
        if respectful
        else _res("fail", "agent never uses 您 or a title (先生/女士/小姐)", occurrences=ni)
    )
    f = tagged("forbidden")
    checks["forbidden_phrase"] = (
        _res("fail", f"{len(f)} forbidden phrase(s)", occurrences=f)
        if f
        else _res("pass", "no forbidden phrase", occurrences=[])
    )
    co = tagged("colloquial")
    checks["colloquialism"] = (
        _res("fail", f"{len(co)} colloquial expression(s)", occurrences=co)
        if co
        else _res("pass", "no colloquialism", occurrences=[])
    )
    checks["interruption"] = (
        _res(
            "fail",
            f"agent interrupted the customer {len(agent_interruptions)} time(s)",
            occurrences=agent_interruptions,
        )
        if agent_interruptions
        else _res(
            "pass",
            "no agent interruption (overlap >= 1.0 s and segment >= 1.5 s); backchannels excluded",
            occurrences=[],
        )
    )
    for k, name in ((30, "silence_over_30s"), (60, "silence_over_60s")):
        occ = over[k]
        checks[name] = (
            _res("fail", f"{len(occ)} silence gap(s) > {k} s (holds included)", occurrences=occ)
            if occ
            else _res("pass", f"no silence gap > {k} s", occurrences=[])
        )
    n_s, a_s = P["wait_notice_s"], P["wait_apology_s"]
    if not notice_waits:
        checks["hold_notice"] = _res("not_applicable", f"no agent-side wait > {n_s:g} s")
    else:
        checks["hold_notice"] = (
            _res(
                "fail",
                f"{len(missing_notice)} of {len(notice_waits)} wait(s) > {n_s:g} s not announced",
                occurrences=missing_notice,
            )
            if missing_notice
            else _res("pass", f"all {len(notice_waits)} wait(s) > {n_s:g} s announced", occurrences=[])
        )
    if not apology_waits:
        checks["hold_apology"] = _res("not_applicable", f"no wait > {a_s:g} s")
    else:
        checks["hold_apology"] = (
            _res(
                "fail",
                f"no 让您久等了 after {len(missing_apology)} of {len(apology_waits)} wait(s) > {a_s:g} s",
                occurrences=missing_apology,
            )
            if missing_apology
            else _res("pass", f"apology after all {len(apology_waits)} wait(s) > {a_s:g} s", occurrences=[])
        )
    checks["response_latency"] = (
        _res(
            "fail", f"{len(latency_fail)} agent response(s) > 3 s after the customer stopped", occurrences=latency_fail
        )
        if latency_fail
        else _res(
            "pass",
            "every agent response within 3 s (or after an announced wait)",
            occurrences=[x for x in latencies if x["excused_by_wait_notice"]],
        )
    )
    if not long_stretches:
        checks["no_response_to_long_speech"] = _res("not_applicable", "no customer speech > 30 s")
    else:
        checks["no_response_to_long_speech"] = (
            _res("fail", "customer spoke > 30 s with no agent response", occurrences=unanswered)
            if unanswered
            else _res("pass", "agent responded during every customer speech > 30 s", occurrences=[])
        )
    lo, hi = P["speech_rate_min_cpm"], P["speech_rate_max_cpm"]
    checks["speech_rate"] = _res(
        "pass" if lo <= rate <= hi else "fail",
        f"agent {rate:.0f} chars/min (allowed {lo:.0f}-{hi:.0f})",
        value=round(rate, 1),
    )
    loud = [
        {"start": _r(t.start), "end": _r(t.end), "volume_db": t.volume_db, "text": t.text}
        for t in agent
        if abs(t.volume_db) >= P["volume_max_abs_db"]
    ]
    checks["volume"] = (
        _res("fail", "agent turn(s) >= 10 dB off the nominal level", occurrences=loud)
        if loud
        else _res("pass", "agent level within 10 dB of nominal", occurrences=[])
    )
    tr = lay.transfer
    if tr is None:
        checks["transfer_phrase"] = _res("not_applicable", "no transfer")
        checks["transfer_pause"] = _res("not_applicable", "no transfer")
    else:
        la = last_agent_before(tr["time"])
        ok = la is not None and "transfer_phrase" in la.tags
        checks["transfer_phrase"] = _res(
            "pass" if ok else "fail",
            "standard transfer phrase before the transfer" if ok else "no transfer phrase before the transfer",
        )
        pause = tr["pause"] or 0.0
        checks["transfer_pause"] = _res(
            "pass" if pause >= P["transfer_pause_min_s"] else "fail",
            f"{pause:.2f} s pause after the transfer phrase (>= 2 s required)",
            value=pause,
        )
    cf = tagged("confirm")
    checks["confirm_understanding"] = (
        _res("pass", "agent confirms understanding / asks whether the customer is clear", occurrences=cf)
        if cf
        else _res("fail", "agent never confirms understanding", occurrences=[])
    )
    rq = tagged("repeated_question")
    checks["repeated_question"] = (
        _res("fail", "agent repeats the same question", occurrences=rq)
        if rq
        else _res("pass", "no repeated question", occurrences=[])
    )
    n60, n30, n15 = len(over[60]), len(over[30]), len(over[15])
    if n60 >= 1 or n30 >= 2:
        ded, why = -8, "one wait > 60 s or two > 30 s"
    elif n30 >= 1 or n15 >= 2:
        ded, why = -5, "one wait > 30 s or two > 15 s"
    elif n15 >= 1:
        ded, why = -2, "one wait > 15 s"
    else:
        ded, why = 0, "no wait > 15 s"
    checks["wait_fluency"] = _res("pass" if ded == 0 else "fail", why, deduction=ded, occurrences=over[15])

    for name, ov in spec.expect.items():
        if name not in checks:
            raise ValueError(f"expect: unknown check {name!r}")
        if isinstance(ov, str):
            ov = {"status": ov}
        checks[name] = {**checks[name], **ov, "reason": ov.get("reason", "declared in spec")}
    assert list(checks) == CHECKS, set(CHECKS) ^ set(checks)

    fails = [k for k, v in checks.items() if v["status"] == "fail"]
    severe = [k for k in fails if k in SEVERE]
    if spec.quality:
        quality = spec.quality
    elif not fails:
        quality = "perfect"
    elif len(fails) <= 2 and not severe:
        quality = "minor"
    elif len(fails) <= 5 and len(severe) <= 1:
        quality = "severe"
    else:
        quality = "terrible"

    return {
        "call_id": spec.id,
        "title": spec.title,
        "topic": spec.topic,
        "spec": spec.source.split("/")[-1] if spec.source else None,
        "quality": quality,
        "failed_checks": fails,
        "turns": [
            {
                "speaker": t.speaker,
                "start": _r(t.start),
                "end": _r(t.end),
                "text": t.text,
                "tags": t.tags,
                "source": t.source,
                "volume_db": t.volume_db,
            }
            for t in turns
        ],
        "silence_gaps": gaps,
        "silence_gaps_over_15s": over[15],
        "silence_gaps_over_30s": over[30],
        "silence_gaps_over_60s": over[60],
        "interruptions": interruptions,
        "holds": [{"start": _r(a), "end": _r(b), "duration": _r(b - a)} for a, b in lay.holds],
        "transfer": tr,
        "agent_speech_rate": {"chars": a_chars, "speech_seconds": _r(a_time), "chars_per_min": round(rate, 1)},
        "response_latencies_over_3s": latencies,
        "params": P,
        "checks": checks,
    }
