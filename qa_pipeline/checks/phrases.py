"""Phrase checks on the agent's words: greeting, closing, polite terms, honorific, forbidden phrases,
colloquialisms, transfer phrasing, understanding confirmation, repeated questions.

Phrase categories go through `qa_pipeline.phrasing.find`: the lexicons (exact, then homophone-tolerant pinyin)
first, then a paraphrase classifier on the clauses no lexicon covered (method "model", score 0–1). A model hit
scoring at least the hit threshold counts; one between the review threshold and that makes the check
`needs_review` instead of silently passing or failing. The thresholds are calibrated per category on generated
validation data (phrasing.model.calibrate; stricter for the forbidden categories, whose hit can zero a call);
a rubric may fix them with `model_fail_score` / `model_review_score`. Only agent turns are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..lexicon import PhraseMatch, load_lexicon
from ..phrasing import find as find_phrase
from ..phrasing import prime, thresholds
from ..phrasing.categories import FORBIDDEN, by_hit_category
from ..text import fuzzy_syllables, normalize, syllable_distance
from ..types import Finding, Status, Utterance
from .registry import CheckContext, register

MODEL_DEFAULTS: dict[str, Any] = {
    "model": True,
    "model_fail_score": None,
    "model_review_score": None,
    "extra_phrases": {},
}
"""Classifier switches shared by every phrase-category check (rubric-overridable per check). `extra_phrases`
({category: [phrase, …]}) are a QA lead's own examples: the classifier learns them like lexicon phrases (the
rules helper fills this from the lexicon folder beside a rubric)."""

ASR_DEFAULTS: dict[str, Any] = {"min_asr_score": 0.8}
"""Violation checks: a paraphrase (classifier) hit fails the call only when the recogniser's mean word probability
over the hit reaches `min_asr_score`; below it the hit goes to a person (`asr_uncertain`). Lexicon hits and
transcripts without word probabilities are not affected. On the 17 samples (faster-whisper base) true paraphrase
hits read 0.92–0.99, the one false 反问 (garbled bill amounts) 0.66."""


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


def _cat_matches(
    category: str, utts: Sequence[Utterance], params: Any, *, confident_only: bool = False
) -> list[tuple[Utterance, PhraseMatch]]:
    """Lexicon + classifier hits of a phrase category in the given (agent) utterances; model hits below
    `model_review_score` are dropped, and with `confident_only` those below `model_fail_score` too."""
    use_model = bool(params.get("model", True))
    extra = params.get("extra_phrases") or None
    if use_model:
        prime([u.text for u in utts], extra)
    lim = thresholds(params.get("model_fail_score"), params.get("model_review_score"), category, extra)
    out = []
    for u in utts:
        for m in find_phrase(category, u.text, model=use_model, limits=lim, extra=extra):
            if m.method == "model" and confident_only and m.score < lim.hit:
                continue
            out.append((u, m))
    return out


def _borderline(m: PhraseMatch, params: Any) -> bool:
    """A hit that is not sure enough to fail or pass on: a weak homophone or a borderline classifier score."""
    if m.method == "model":
        cat = by_hit_category(m.category)
        extra = params.get("extra_phrases") or None
        return m.score < thresholds(params.get("model_fail_score"), params.get("model_review_score"), cat, extra).hit
    return m.method == "pinyin" and m.score < float(params.get("min_fail_score", 0.85))


def _asr_score(u: Utterance, m: PhraseMatch) -> float | None:
    """Mean probability the recogniser gave the words of a hit (None without word probabilities, e.g. a
    transcript given as text)."""
    start, end = _span(u, m)
    probs = [w.probability for w in u.words if w.probability is not None and w.end > start and w.start < end]
    return round(sum(probs) / len(probs), 3) if probs else None


def _hit(check: str, status: Status, u: Utterance, m: PhraseMatch, **extra: Any) -> Finding:
    start, end = _span(u, m)
    return Finding(check, status, start, end, u.speaker, u.text, {**_mdetail(m, u), **extra})


def _occurrence_check(
    name: str, ctx: CheckContext, categories: Sequence[str], *, one_per_utterance: bool = False
) -> list[Finding]:
    """One `fail` per agent occurrence; weak homophones and borderline classifier hits → `needs_review`.
    With `one_per_utterance`, an utterance is one occurrence however many hits it holds (什么？再说一次。)."""
    p = ctx.params
    agent = _agent(ctx)
    pairs = [(u, m) for c in categories for u, m in _cat_matches(c, agent, p)]
    if p.get("lexicon") and p["lexicon"] != p["default_lexicon"]:
        # a centre's own lexicon (resolved beside the rubric): its entries count as well, by their category
        pairs += _matches(p["lexicon"], agent)
    # two categories can claim the same words (不清楚，你问别人吧): keep the surer claim per span
    pairs.sort(key=lambda um: (um[0].start, _borderline(um[1], p), um[1].method == "model", -um[1].score, um[1].start))
    found: list[Finding] = []
    taken: list[tuple[Utterance, int, int]] = []
    for u, m in pairs:
        if any(tu is u and (one_per_utterance or (m.start < te and m.end > ts)) for tu, ts, te in taken):
            continue
        taken.append((u, m.start, m.end))
        asr = _asr_score(u, m) if m.method == "model" else None
        if _borderline(m, p):
            reason = "borderline_paraphrase" if m.method == "model" else "low_confidence_homophone"
            found.append(_hit(name, "needs_review", u, m, reason=reason))
        elif asr is not None and asr < p["min_asr_score"]:
            # a paraphrase read from words the recogniser itself doubted (短心费3人,曾执业务器人 for 短信费3元,
            # 增值业务费7元 scored 反问): a violation that can zero the call goes to a person, not to the score
            found.append(_hit(name, "needs_review", u, m, reason="asr_uncertain", asr_score=asr))
        else:
            found.append(_hit(name, "fail", u, m))
    if not found:
        return [Finding(name, "pass", speaker="agent", detail={"categories": list(categories), "occurrences": 0})]
    return sorted(found, key=lambda f: f.start or 0.0)


def _method(pairs: Sequence[tuple[Utterance, PhraseMatch]]) -> str:
    methods = {m.method for _, m in pairs}
    return "model" if "model" in methods else "pinyin" if "pinyin" in methods else "exact"


def _summary(pairs: Sequence[tuple[Utterance, PhraseMatch]]) -> list[dict[str, Any]]:
    return [{**_mdetail(m, u), "start": _span(u, m)[0]} for u, m in pairs]


# -- greeting / closing ---------------------------------------------------------------------------------
@register(
    "greeting",
    defaults={
        "lexicon": "greeting",
        "first_turns": 3,
        "window_s": 20.0,
        "require_service_phrase": True,
        **MODEL_DEFAULTS,
    },
)
def greeting(ctx: CheckContext) -> list[Finding]:
    """Standard opening: 您好 + a service phrase (很高兴为您服务 / 请问有什么可以帮您 / 工号) or the VIP greeting,
    within the agent's first `first_turns` utterances and `window_s` seconds of the agent's first word."""
    p = ctx.params
    agent = _agent(ctx)
    if not agent:
        return [Finding("greeting", "fail", speaker="agent", detail={"reason": "agent_silent"})]
    t0 = agent[0].start
    opening = [u for u in agent[: p["first_turns"]] if u.start - t0 <= p["window_s"]]
    pairs = _matches(p["lexicon"], opening)
    cats = {m.category for _, m in pairs}
    ok = bool({"vip", "full"} & cats) or ("hello" in cats and ("service" in cats or not p["require_service_phrase"]))
    borderline = False
    if not ok and p["model"]:
        # an opening in words no lexicon lists (您好，移动客服，您请说): the paraphrase classifier
        model = [(u, m) for u, m in _cat_matches("greeting", opening, p) if m.method == "model"]
        sure = [(u, m) for u, m in model if not _borderline(m, p)]
        ok, borderline = bool(sure), bool(model) and not sure
        pairs += sure or model
    missing = [] if ok else [c for c in ("hello", "service") if c not in cats]
    evidence = " / ".join(u.text for u in opening)
    start = pairs[0][0].time_at(pairs[0][1].start) if pairs else opening[0].start
    end = max(_span(u, m)[1] for u, m in pairs) if pairs else opening[-1].end
    return [
        Finding(
            "greeting",
            "pass" if ok else ("needs_review" if borderline else "fail"),
            round(start, 3),
            round(end, 3),
            "agent",
            evidence,
            {
                "matches": _summary(pairs),
                "missing": missing,
                "method": _method(pairs),
            },
        )
    ]


@register(
    "closing",
    defaults={
        "lexicon": "closing",
        "last_turns": 3,
        "required_parts": [["anything_else"], ["thanks", "goodbye"]],
        "not_applicable_on_transfer": True,
        **MODEL_DEFAULTS,
    },
)
def closing(ctx: CheckContext) -> list[Finding]:
    """结束语 in the agent's last `last_turns` utterances: every group of `required_parts` must be present
    (default: the ask for more needs *and* thanks or goodbye, 10086 l.5-6). On a transferred call whose agent
    leg ends at the transfer the agent hands over instead of closing: `not_applicable`."""
    from ..holds import transfer_moment

    p = ctx.params
    agent = _agent(ctx)
    moment = transfer_moment(ctx.timeline, ctx.transcript, ctx.metadata) if p["not_applicable_on_transfer"] else None
    if moment is not None and not any(u.start > moment for u in agent):
        # handed over and the agent leg ended: there is no closing to judge (when the recording goes on with
        # the receiving seat on the agent side, that seat's closing is judged as usual)
        return [Finding("closing", "not_applicable", speaker="agent", detail={"reason": "transferred"})]
    if not agent:
        return [Finding("closing", "fail", speaker="agent", detail={"reason": "agent_silent"})]
    tail = agent[-p["last_turns"] :]
    pairs = _cat_matches("closing_ask", tail, p) + _cat_matches("closing_thanks", tail, p)
    sure = {m.category for _, m in pairs if not _borderline(m, p)}
    maybe = {m.category for _, m in pairs}
    groups = [set(g) for g in p["required_parts"]]
    missing = [sorted(g) for g in groups if not g & sure]
    status: Status = "pass" if not missing else "needs_review" if all(g & maybe for g in groups) else "fail"
    return [
        Finding(
            "closing",
            status,
            tail[0].start,
            tail[-1].end,
            "agent",
            " / ".join(u.text for u in tail),
            {"categories": sorted(maybe), "missing": missing, "matches": _summary(pairs), "method": _method(pairs)},
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
            {
                "count": len(pairs),
                "categories": counts,
                "matches": _summary(pairs[:10]),
                # a failure has no moment to show: the reason says what was missing
                **({} if ok else {"reason": "too_few_polite_terms" if pairs else "no_polite_terms"}),
                **({} if ok else {"min_count": p["min_count"]}),
            },
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
    return [Finding("honorific", status, speaker="agent", detail={**detail, "reason": "no_honorific"})]


# -- forbidden / colloquial -----------------------------------------------------------------------------
@register(
    "forbidden_phrase",
    defaults={
        "categories": list(FORBIDDEN),
        "lexicon": "forbidden",
        "default_lexicon": "forbidden",
        "min_fail_score": 0.85,
        # a forbidden phrase can zero a call (红线): calibration holds these categories to stricter
        # false-alarm targets (phrasing.model.FORBIDDEN_TARGETS)
        **MODEL_DEFAULTS,
        **ASR_DEFAULTS,
    },
)
def forbidden_phrase(ctx: CheckContext) -> list[Finding]:
    """服务禁语 (我不知道 / 刚刚已经跟您说过了 / 推诿 / 反问 / 争辩 / 不耐烦) — one finding per agent occurrence;
    the finding's `category` says which; customer ignored."""
    return _occurrence_check("forbidden_phrase", ctx, ctx.params["categories"])


@register(
    "colloquialism",
    defaults={
        "lexicon": "colloquial",
        "default_lexicon": "colloquial",
        "min_fail_score": 0.85,
        **MODEL_DEFAULTS,
        **ASR_DEFAULTS,
    },
)
def colloquialism(ctx: CheckContext) -> list[Finding]:
    """口语化: 哦/唔 as a whole answer, 什么？/什么呢/再说一次/啥？ — one finding per agent occurrence."""
    return _occurrence_check("colloquialism", ctx, ["colloquial"], one_per_utterance=True)


# -- transfer -------------------------------------------------------------------------------------------
@register(
    "transfer_phrase",
    defaults={
        "lexicon": "transfer",
        "standard_categories": ["knowledge_base", "ivr", "expert_seat"],
        "window_before_s": 30.0,
        "window_after_s": 5.0,
        **MODEL_DEFAULTS,
    },
)
def transfer_phrase(ctx: CheckContext) -> list[Finding]:
    """When the call is transferred (the manifest's `transferred_at`, or any transfer wording after which the
    agent leg ends), was one of the three standard scripts (知识库放音 / 自动台 / 专家台席, l.18-22) used?
    `not_applicable` without a transfer."""
    from ..holds import transfer_moment

    p = ctx.params
    std = set(p["standard_categories"])
    t = transfer_moment(ctx.timeline, ctx.transcript, ctx.metadata)
    if t is None:
        return [Finding("transfer_phrase", "not_applicable", detail={"reason": "no_transfer"})]
    agent = _agent(ctx)
    near = [u for u in agent if t - p["window_before_s"] <= u.start <= t + p["window_after_s"]]
    pairs = _cat_matches("transfer", near, p)
    detail: dict[str, Any] = {
        "transferred_at": ctx.metadata.transferred_at,
        "detected_at": None if ctx.metadata.transferred_at is not None else round(t, 3),
        "matches": _summary(pairs),
    }
    standard = [(u, m) for u, m in pairs if m.category in std and m.method != "model"]
    if standard:
        u, m = standard[0]
        s, e = _span(u, m)
        detail["pause_after_s"] = round(t - u.end, 3)
        return [Finding("transfer_phrase", "pass", s, e, "agent", u.text, {**detail, **_mdetail(m, u)})]
    if pairs:
        u, m = pairs[0]
        s, e = _span(u, m)
        return [
            Finding(
                "transfer_phrase",
                "fail",
                s,
                e,
                "agent",
                u.text,
                {**detail, **_mdetail(m, u), "reason": "nonstandard_transfer"},
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
            {**detail, "reason": "transfer_unannounced"},
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
        **MODEL_DEFAULTS,
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
    if p["model"]:
        # paraphrases of 您清楚了吗 (我这样说您能明白吗): classifier hits the lexicon pass above missed
        pairs += [(u, m) for u, m in _cat_matches("confirm", after, p, confident_only=True) if m.method == "model"]
    if p["accept_anything_else"]:
        # only the lexicon's anything-else formulas stand in for the check (a paraphrased 还有别的事吗 is a
        # closing ask, not a check of understanding)
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
                detail={"reason": "no_explanation"},
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
            {"reason": "no_understanding_check", "explanation_start": ex.start},
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

    # how many customer "bad line" turns precede each index: a range question is one subtraction, not a scan
    # of every turn in between for every repeat (quadratic in a long call)
    n_unclear = [0]
    for u in utts:
        n_unclear.append(n_unclear[-1] + (u.speaker != "agent" and bool(unclear.find(u.text))))

    def customer_unclear(i0: int, i1: int) -> bool:
        return n_unclear[i1 + 1] - n_unclear[i0 + 1] > 0

    def core(clause: str) -> str:
        n = normalize(clause)
        for pre in p["strip_prefixes"]:
            if n.startswith(pre) and len(n) > len(pre):
                n = n[len(pre) :]
        for suf in p["strip_suffixes"]:
            if n.endswith(suf) and len(n) > len(suf):
                n = n[: -len(suf)]
        return n

    syllables: dict[str, list[str]] = {}

    def similar(a: str, b: str) -> bool:
        """pinyin_similarity(core(a), core(b)) ≥ the threshold, each clause's pinyin taken once, and pairs
        whose lengths alone rule it out (the distance is at least the length difference) skipped."""
        sa = syllables.get(a)
        if sa is None:
            sa = syllables[a] = fuzzy_syllables(normalize(core(a)))
        sb = syllables.get(b)
        if sb is None:
            sb = syllables[b] = fuzzy_syllables(normalize(core(b)))
        if not sa and not sb:
            return 1.0 >= p["similarity"]
        longest = max(len(sa), len(sb))
        if 1.0 - abs(len(sa) - len(sb)) / longest < p["similarity"]:
            return False
        return 1.0 - syllable_distance(sa, sb) / longest >= p["similarity"]

    groups: list[list[tuple[Utterance, str, int]]] = []
    for q in questions:
        for g in groups:
            if similar(g[0][1], q[1]):
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
