"""Phrase checks on the agent's words: greeting, closing, polite terms, honorific, forbidden phrases,
colloquialisms, transfer phrasing, understanding confirmation, repeated questions.

All matching goes through `qa_pipeline.lexicon` (exact, then homophone-tolerant pinyin), so the checks
survive Whisper's homophone errors. Every threshold is a `defaults=` parameter (the rubric may override).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..lexicon import PhraseMatch, load_lexicon
from ..text import normalize, pinyin_similarity
from ..types import Finding, Status, Utterance
from .registry import CheckContext, register


# -- helpers ----------------------------------------------------------------------------------------------
def _agent(ctx: CheckContext) -> tuple[Utterance, ...]:
    return ctx.transcript.by("agent")


def _span(u: Utterance, m: PhraseMatch) -> tuple[float, float]:
    start = u.time_at(m.start)
    end = u.time_at(m.end) if m.end < len(u.text) else u.end
    return round(start, 3), round(max(start, end), 3)


def _mdetail(m: PhraseMatch, u: Utterance) -> dict[str, Any]:
    return {
        "lexicon": m.lexicon,
        "phrase": m.phrase,
        "category": m.category,
        "method": m.method,
        "score": m.score,
        "matched": u.text[m.start : m.end],
    }


def _matches(lexicon: str, utts: Iterable[Utterance]) -> list[tuple[Utterance, PhraseMatch]]:
    lex = load_lexicon(lexicon)
    return [(u, m) for u in utts for m in lex.find(u.text)]


def _hit(check: str, status: Status, u: Utterance, m: PhraseMatch, **extra: Any) -> Finding:
    start, end = _span(u, m)
    return Finding(check, status, start, end, u.speaker, u.text, {**_mdetail(m, u), **extra})


def _occurrence_check(name: str, ctx: CheckContext) -> list[Finding]:
    """One `fail` per agent occurrence (pinyin hits scoring below `min_fail_score` → `needs_review`)."""
    p = ctx.params
    found = []
    for u, m in _matches(p["lexicon"], _agent(ctx)):
        if m.method == "pinyin" and m.score < p["min_fail_score"]:
            found.append(_hit(name, "needs_review", u, m, reason="low-confidence homophone match"))
        else:
            found.append(_hit(name, "fail", u, m))
    if not found:
        return [Finding(name, "pass", speaker="agent", detail={"lexicon": p["lexicon"], "occurrences": 0})]
    return found


def _summary(pairs: Sequence[tuple[Utterance, PhraseMatch]]) -> list[dict[str, Any]]:
    return [{**_mdetail(m, u), "start": _span(u, m)[0]} for u, m in pairs]


# -- greeting / closing ---------------------------------------------------------------------------------
@register(
    "greeting",
    defaults={"lexicon": "greeting", "first_turns": 3, "window_s": 20.0, "require_service_phrase": True},
)
def greeting(ctx: CheckContext) -> list[Finding]:
    """Standard opening: 您好 + a service phrase (很高兴为您服务 / 请问有什么可以帮您 / 工号) or the VIP greeting,
    within the agent's first `first_turns` utterances and `window_s` seconds of the agent's first word."""
    p = ctx.params
    agent = _agent(ctx)
    if not agent:
        return [Finding("greeting", "fail", speaker="agent", detail={"reason": "agent never speaks"})]
    t0 = agent[0].start
    opening = [u for u in agent[: p["first_turns"]] if u.start - t0 <= p["window_s"]]
    pairs = _matches(p["lexicon"], opening)
    cats = {m.category for _, m in pairs}
    ok = bool({"vip", "full"} & cats) or ("hello" in cats and ("service" in cats or not p["require_service_phrase"]))
    missing = [] if ok else [c for c in ("hello", "service") if c not in cats]
    evidence = " / ".join(u.text for u in opening)
    start = pairs[0][0].time_at(pairs[0][1].start) if pairs else opening[0].start
    end = max(_span(u, m)[1] for u, m in pairs) if pairs else opening[-1].end
    return [
        Finding(
            "greeting",
            "pass" if ok else "fail",
            round(start, 3),
            round(end, 3),
            "agent",
            evidence,
            {
                "matches": _summary(pairs),
                "missing": missing,
                "method": "exact" if all(m.method == "exact" for _, m in pairs) else "pinyin",
            },
        )
    ]


@register("closing", defaults={"lexicon": "closing", "last_turns": 3, "min_categories": 1})
def closing(ctx: CheckContext) -> list[Finding]:
    """Closing in the agent's last `last_turns` utterances: anything-else question / thanks / goodbye
    (`min_categories` of the three must appear)."""
    p = ctx.params
    agent = _agent(ctx)
    if not agent:
        return [Finding("closing", "fail", speaker="agent", detail={"reason": "agent never speaks"})]
    tail = agent[-p["last_turns"] :]
    pairs = _matches(p["lexicon"], tail)
    cats = sorted({m.category for _, m in pairs})
    ok = len(cats) >= p["min_categories"]
    return [
        Finding(
            "closing",
            "pass" if ok else "fail",
            tail[0].start,
            tail[-1].end,
            "agent",
            " / ".join(u.text for u in tail),
            {"categories": cats, "matches": _summary(pairs)},
        )
    ]


# -- polite terms / honorific ---------------------------------------------------------------------------
@register("polite_terms", defaults={"lexicon": "polite", "min_count": 1})
def polite_terms(ctx: CheckContext) -> list[Finding]:
    """礼貌用语 (您好/谢谢/对不起/再见/请稍等 …) used by the agent at least `min_count` times."""
    p = ctx.params
    pairs = _matches(p["lexicon"], _agent(ctx))
    counts: dict[str, int] = {}
    for _, m in pairs:
        counts[m.category] = counts.get(m.category, 0) + 1
    ok = len(pairs) >= p["min_count"]
    first = pairs[0] if pairs else None
    return [
        Finding(
            "polite_terms",
            "pass" if ok else "fail",
            _span(*first)[0] if first else None,
            _span(*first)[1] if first else None,
            "agent",
            first[0].text if first else "",
            {"count": len(pairs), "categories": counts, "matches": _summary(pairs[:10])},
        )
    ]


@register(
    "honorific",
    defaults={"lexicon": "honorific", "accept_pronoun": True, "min_pronoun_count": 1},
)
def honorific(ctx: CheckContext) -> list[Finding]:
    """客户尊称: pass when the agent says 先生/女士/小姐; with `accept_pronoun`, 您 used at least
    `min_pronoun_count` times also passes (ASR turns 您 into 你 often, so 你 is not held against the agent)."""
    p = ctx.params
    pairs = _matches(p["lexicon"], _agent(ctx))
    titles = [(u, m) for u, m in pairs if m.category == "title"]
    pron = [(u, m) for u, m in pairs if m.category == "pronoun"]
    status: Status
    if titles:
        status, basis, ev = "pass", "title", titles[0]
    elif p["accept_pronoun"] and len(pron) >= p["min_pronoun_count"]:
        status, basis, ev = "pass", "pronoun", pron[0]
    else:
        status, basis, ev = "fail", None, None
    detail = {"basis": basis, "titles": sorted({m.phrase for _, m in titles}), "pronoun_count": len(pron)}
    if ev:
        s, e = _span(*ev)
        return [Finding("honorific", status, s, e, "agent", ev[0].text, {**detail, **_mdetail(ev[1], ev[0])})]
    return [Finding("honorific", status, speaker="agent", detail=detail)]


# -- forbidden / colloquial -----------------------------------------------------------------------------
@register("forbidden_phrase", defaults={"lexicon": "forbidden", "min_fail_score": 0.85})
def forbidden_phrase(ctx: CheckContext) -> list[Finding]:
    """服务禁语 (我不知道 / 刚刚已经跟您说过了 / 推诿 / 反问) — one finding per agent occurrence; customer ignored."""
    return _occurrence_check("forbidden_phrase", ctx)


@register("colloquialism", defaults={"lexicon": "colloquial", "min_fail_score": 0.85})
def colloquialism(ctx: CheckContext) -> list[Finding]:
    """口语化: 哦/唔 as a whole answer, 什么？/什么呢/再说一次 — one finding per agent occurrence."""
    return _occurrence_check("colloquialism", ctx)


# -- transfer -------------------------------------------------------------------------------------------
@register(
    "transfer_phrase",
    defaults={
        "lexicon": "transfer",
        "standard_categories": ["knowledge_base", "ivr", "expert_seat"],
        "window_before_s": 30.0,
        "window_after_s": 5.0,
    },
)
def transfer_phrase(ctx: CheckContext) -> list[Finding]:
    """When the call is transferred (transfer wording or metadata.transferred_at), was a standard transfer
    script (knowledge base / IVR / expert seat) used? `not_applicable` without a transfer."""
    p = ctx.params
    std = set(p["standard_categories"])
    t = ctx.metadata.transferred_at
    agent = _agent(ctx)
    pairs = _matches(p["lexicon"], agent)
    if t is not None:
        near = [u for u in agent if t - p["window_before_s"] <= u.start <= t + p["window_after_s"]]
        pairs_near = [(u, m) for u, m in pairs if u in near]
    else:
        near, pairs_near = [], pairs
    if t is None and not pairs:
        return [Finding("transfer_phrase", "not_applicable", detail={"reason": "no transfer"})]
    standard = [(u, m) for u, m in pairs_near if m.category in std]
    detail: dict[str, Any] = {"transferred_at": t, "matches": _summary(pairs_near)}
    if standard:
        u, m = standard[0]
        s, e = _span(u, m)
        if t is not None:
            detail["pause_after_s"] = round(t - u.end, 3)
        return [Finding("transfer_phrase", "pass", s, e, "agent", u.text, {**detail, **_mdetail(m, u)})]
    if pairs_near:
        u, m = pairs_near[0]
        s, e = _span(u, m)
        return [
            Finding(
                "transfer_phrase",
                "fail",
                s,
                e,
                "agent",
                u.text,
                {**detail, "reason": "transfer without the standard script"},
            )
        ]
    ev = near[-1] if near else None
    return [
        Finding(
            "transfer_phrase",
            "fail",
            t,
            t,
            "agent",
            ev.text if ev else "",
            {**detail, "reason": "transferred without any transfer phrasing"},
        )
    ]


# -- confirm understanding ------------------------------------------------------------------------------
@register(
    "confirm_understanding",
    defaults={
        "lexicon": "confirm",
        "explain_min_chars": 20,
        "accept_anything_else": True,
        "accept_weak": False,
        "weak_categories": ["check"],
    },
)
def confirm_understanding(ctx: CheckContext) -> list[Finding]:
    """After the agent's first explanation (an utterance ≥ `explain_min_chars` normalised chars), did the
    agent ask whether the customer understood (or, with `accept_anything_else`, whether anything else is
    needed)? `not_applicable` when the agent never explains anything."""
    p = ctx.params
    agent = _agent(ctx)
    explain = next((i for i, u in enumerate(agent) if len(normalize(u.text)) >= p["explain_min_chars"]), None)
    # without an explanation the check does not apply, unless the agent confirmed anyway (a short 复述确认)
    after = agent[explain:] if explain is not None else agent
    pairs = _matches(p["lexicon"], after)
    if not p["accept_weak"]:
        pairs = [(u, m) for u, m in pairs if m.category not in set(p["weak_categories"])]
    if p["accept_anything_else"]:
        pairs += [(u, m) for u, m in _matches("closing", after) if m.category == "anything_else"]
    pairs.sort(key=lambda um: (um[0].start, um[1].start))
    if pairs:
        u, m = pairs[0]
        s, e = _span(u, m)
        return [Finding("confirm_understanding", "pass", s, e, "agent", u.text, _mdetail(m, u))]
    if explain is None:
        return [
            Finding(
                "confirm_understanding",
                "not_applicable",
                speaker="agent",
                detail={"reason": "no explanation by the agent"},
            )
        ]
    ex = agent[explain]
    return [
        Finding(
            "confirm_understanding",
            "fail",
            ex.start,
            agent[-1].end,
            "agent",
            ex.text,
            {"reason": "no check of understanding after explaining", "explanation_start": ex.start},
        )
    ]


# -- repeated question ----------------------------------------------------------------------------------
_CLAUSE = re.compile(r"[^，。！？；,.!?;_…\s]+[？?]?")


@register(
    "repeated_question",
    defaults={
        "min_repeats": 2,
        "similarity": 0.8,
        "min_chars": 4,
        "question_markers": [
            "吗",
            "呢",
            "请问",
            "多少",
            "什么",
            "是否",
            "哪",
            "几",
            "怎么",
            "是不是",
            "有没有",
            "能不能",
            "对吧",
        ],
        "strip_prefixes": ["请问", "那么", "那", "嗯", "啊", "好的", "好", "就是"],
        "strip_suffixes": ["呢", "啊", "呀", "吧", "啦"],
        "ignore_lexicons": ["closing", "confirm"],
        "unclear_lexicon": "unclear",
    },
)
def repeated_question(ctx: CheckContext) -> list[Finding]:
    """重复客户同一问题: an agent question asked again `min_repeats`+ more times (fuzzy-pinyin similarity ≥
    `similarity`). Repeats right after the customer signals a bad line (喂/听不清…) don't count; closing and
    confirmation formulas are ignored."""
    p = ctx.params
    markers = tuple(p["question_markers"])
    ignore = [load_lexicon(n) for n in p["ignore_lexicons"]]
    unclear = load_lexicon(p["unclear_lexicon"])
    questions: list[tuple[Utterance, str, int]] = []  # (utterance, clause text, index in transcript)
    utts = ctx.transcript.utterances
    for idx, u in enumerate(utts):
        if u.speaker != "agent":
            continue
        for cm in _CLAUSE.finditer(u.text):
            clause = cm.group(0)
            norm = normalize(clause)
            if len(norm) < p["min_chars"]:
                continue
            if not (clause.endswith(("?", "？")) or any(k in norm for k in markers)):
                continue
            if any(lex.find(clause) for lex in ignore):
                continue
            questions.append((u, clause, idx))

    def customer_unclear(i0: int, i1: int) -> bool:
        return any(utts[i].speaker != "agent" and unclear.find(utts[i].text) for i in range(i0 + 1, i1 + 1))

    def core(clause: str) -> str:
        n = normalize(clause)
        for pre in p["strip_prefixes"]:
            if n.startswith(pre) and len(n) > len(pre):
                n = n[len(pre) :]
        for suf in p["strip_suffixes"]:
            if n.endswith(suf) and len(n) > len(suf):
                n = n[: -len(suf)]
        return n

    groups: list[list[tuple[Utterance, str, int]]] = []
    for q in questions:
        for g in groups:
            if pinyin_similarity(core(g[0][1]), core(q[1])) >= p["similarity"]:
                if not customer_unclear(g[-1][2], q[2]):
                    g.append(q)
                break
        else:
            groups.append([q])
    out = []
    for g in groups:
        if len(g) - 1 >= p["min_repeats"]:
            out.append(
                Finding(
                    "repeated_question",
                    "fail",
                    g[0][0].start,
                    g[-1][0].end,
                    "agent",
                    " / ".join(c for _, c, _ in g),
                    {
                        "question": g[0][1],
                        "asked": len(g),
                        "repeats": len(g) - 1,
                        "times": [u.start for u, _, _ in g],
                        "method": "pinyin",
                    },
                )
            )
    return out or [Finding("repeated_question", "pass", speaker="agent", detail={"questions": len(questions)})]
