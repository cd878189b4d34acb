"""Evaluate rules on one call: conditions → hits (scoped by role, position, anchor) → expression → findings/tags.

Semantics (docs/rules.md): a condition *holds* when it has at least one hit in the call. The expression is
evaluated over which conditions hold. When it holds, the rule's evidence is the hits of the conditions the
expression uses without negation:
- a violation rule yields one `fail` finding per evidence hit (one call-level fail when there is none, e.g.
  `!a`), else one `pass` finding;
- a requirement rule (`require: true`) yields `pass` with its first evidence when the expression holds, else
  one `fail` ("never said");
- a tag rule (`tag: 投诉`) tags the call when the expression holds (no finding, no deduction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from ..types import CallMetadata, Finding, Timeline, Transcript
from . import expr as ex
from .model import Condition, Hit, Rule, Tag
from .operators import OPERATORS, CallView


def _scope(view: CallView, cond: Condition) -> tuple[list[int], tuple[float, float] | None]:
    """Sentence indices the condition looks at, and the time window its hits must start in (None: all)."""
    idx = view.indices(cond.role)
    pos = cond.position
    window: tuple[float, float] | None = None
    if pos.first is not None:
        idx = idx[: pos.first]
    if pos.last is not None:
        idx = idx[-pos.last :] if pos.last else []
    if pos.first is not None or pos.last is not None:
        window = (view.utts[idx[0]].start, view.utts[idx[-1]].end) if idx else (0.0, -1.0)
    lo, hi = -1e18, 1e18
    dur = view.timeline.duration
    if pos.from_s is not None:
        lo = max(lo, pos.from_s)
    if pos.to_s is not None:
        hi = min(hi, pos.to_s)
    if pos.from_pct is not None:
        lo = max(lo, dur * pos.from_pct / 100.0)
    if pos.to_pct is not None:
        hi = min(hi, dur * pos.to_pct / 100.0)
    if lo > -1e18 or hi < 1e18:
        idx = [i for i in idx if lo <= view.utts[i].start <= hi]
        window = (max(lo, window[0]), min(hi, window[1])) if window else (lo, hi)
    return idx, window


def _near(h: Hit, a: Hit, cond: Condition) -> bool:
    anchor = cond.anchor
    assert anchor is not None
    rel = anchor.relation
    if anchor.within_sentences is not None:
        if h.sentence is None or a.sentence is None:
            return False
        d = h.sentence - a.sentence
        n = anchor.within_sentences
        # the anchor's own sentence counts (an offer that states its fee in the same sentence)
        return (rel in ("after", "around") and 0 <= d <= n) or (rel in ("before", "around") and 0 <= -d <= n)
    if h.start is None or a.start is None:
        return False
    limit = anchor.within_s if anchor.within_s is not None else float("inf")
    a_end = a.end if a.end is not None else a.start
    h_end = h.end if h.end is not None else h.start
    after = h.start >= a.start and h.start - a_end <= limit and (h.start, h.sentence) != (a.start, a.sentence)
    before = a.start >= h.start and a.start - h_end <= limit and (h.start, h.sentence) != (a.start, a.sentence)
    return (rel in ("after", "around") and after) or (rel in ("before", "around") and before)


def condition_hits(view: CallView, rule: Rule, *, until: str | None = None) -> dict[str, list[Hit]]:
    """Hits per condition, in dependency order (`until`: stop before that condition)."""
    hits: dict[str, list[Hit]] = {}
    for cid in rule.order:
        if cid == until:
            break
        cond = rule.conditions[cid]
        if cond.anchor is not None and not hits[cond.anchor.target]:
            hits[cid] = []  # nothing to be near: skip the operator
            continue
        op = OPERATORS[cond.operator]
        scope, window = _scope(view, cond)
        found = op.find(view, cond.compiled, scope, cond.role)
        if window is not None:
            lo, hi = window
            found = [h for h in found if h.start is None or lo <= h.start <= hi]
        if cond.anchor is not None:
            targets = hits[cond.anchor.target]
            found = [h for h in found if any(_near(h, a, cond) for a in targets)]
        hits[cid] = found
    return hits


def evaluate_rule(rule: Rule, view: CallView) -> tuple[bool, list[Hit], dict[str, list[Hit]]]:
    """(expression holds, evidence hits, hits per condition)."""
    hits = condition_hits(view, rule)
    holds = ex.evaluate(rule.expression, lambda cid: bool(hits[cid]))
    evidence: list[Hit] = []
    if holds:
        seen: set[tuple[float | None, int | None]] = set()
        for cid in dict.fromkeys(ex.positive_names(rule.expression)):
            for h in hits[cid]:
                key = (h.start, h.sentence)
                if key not in seen and bool(hits[cid]):
                    seen.add(key)
                    evidence.append(h)
        evidence.sort(key=lambda h: (h.start is None, h.start or 0.0))
    return holds, evidence, hits


def _finding(rule: Rule, status: str, h: Hit | None, **extra: object) -> Finding:
    detail: dict[str, object] = {"rule": rule.id}
    if rule.severity:
        detail["severity"] = rule.severity
    if h is not None:
        detail.update(h.detail)
    detail.update(extra)
    return Finding(
        rule.id,
        status,  # type: ignore[arg-type]
        None if h is None else h.start,
        None if h is None else h.end,
        None if h is None else h.speaker,  # type: ignore[arg-type]
        "" if h is None else h.evidence,
        detail,
    )


def judge_rule(rule: Rule, view: CallView) -> tuple[list[Finding], list[Tag]]:
    if rule.needs_roles and not view.timeline.has_roles:
        if rule.kind == "tag":
            return [], []
        return [Finding(rule.id, "needs_review", detail={"rule": rule.id, "reason": "roles_unknown"})], []
    holds, evidence, _ = evaluate_rule(rule, view)
    if rule.kind == "tag":
        if not holds:
            return [], []
        h = evidence[0] if evidence else None
        return [], [
            Tag(
                rule.tag or rule.id,
                rule.id,
                None if h is None else h.start,
                None if h is None else h.speaker,
                "" if h is None else h.evidence,
                rule.topic,
            )
        ]
    if rule.kind == "requirement":
        if holds:
            return [_finding(rule, "pass", evidence[0] if evidence else None)], []
        return [_finding(rule, "fail", None, reason="requirement_unmet")], []
    if not holds:
        return [_finding(rule, "pass", None)], []
    if not evidence:
        return [_finding(rule, "fail", None)], []
    return [_finding(rule, "fail", h) for h in evidence], []


def _model_similar(cond: Condition) -> tuple[str, ...] | None:
    """The examples of a `similar` condition that asks the examples' classifier (else None)."""
    p = cond.compiled
    if cond.operator != "similar" or p.get("category") or not p.get("model", True):
        return None
    return tuple(str(e) for e in p["examples"])


def prime(rules: Iterable[Rule], views: Sequence[CallView]) -> None:
    """Before judging a batch of calls: score, in one classifier batch per example set, the sentences that the
    `similar` conditions with bare examples will ask about (a classifier call per call costs ~20× more per
    sentence). Unanchored conditions: every sentence of their role. Anchored ones: only the sentences near a
    hit of their anchor (found by the engine itself, the anchor's own conditions evaluated first). Judging
    gives the same result with or without this; it only fills the score cache."""
    from .operators import score_sentences

    rules = list(rules)
    for anchored in (False, True):
        wanted: dict[tuple[str, ...], list[str]] = {}
        for rule in rules:
            for cid in rule.order:
                cond = rule.conditions[cid]
                examples = _model_similar(cond)
                if examples is None or (cond.anchor is not None) != anchored:
                    continue
                texts = wanted.setdefault(examples, [])
                for v in views:
                    scope = v.indices(cond.role)
                    if cond.anchor is not None:
                        targets = condition_hits(v, rule, until=cid)[cond.anchor.target]
                        scope = [i for i in scope if any(_near(_sentence(v, i), a, cond) for a in targets)]
                    texts += (v.utts[i].text for i in scope)
        for examples, texts in wanted.items():
            score_sentences(examples, texts)


def _sentence(view: CallView, i: int) -> Hit:
    u = view.utts[i]
    return Hit(u.start, u.end, u.speaker, i, u.text, {})


def run_rules(
    rules: Iterable[Rule], timeline: Timeline, transcript: Transcript, metadata: CallMetadata
) -> tuple[list[Finding], list[Tag]]:
    rules = list(rules)
    if not rules:
        return [], []
    view = CallView(timeline, transcript, metadata)
    findings: list[Finding] = []
    tags: list[Tag] = []
    for rule in rules:
        f, t = judge_rule(rule, view)
        findings.extend(f)
        tags.extend(t)
    return findings, _dedupe_tags(tags)


def _dedupe_tags(tags: Sequence[Tag]) -> list[Tag]:
    out: dict[str, Tag] = {}
    for t in tags:
        out.setdefault(t.tag, t)
    return list(out.values())


@cache
def _builtin_check_rules() -> dict[str, Rule]:
    from .loader import BUILTIN_RULES, load_rule_file

    return {r.id: r for r in load_rule_file(BUILTIN_RULES / "checks.yaml")}


def builtin_rule(rule_id: str, **params: Mapping[str, Any]) -> Rule:
    """A rule of `builtin/checks.yaml` with condition parameters overridden (`gap={"min_s": 60}`)."""
    from dataclasses import replace

    from ..lexicon import load_lexicon

    rule = _builtin_check_rules()[rule_id]
    conds = dict(rule.conditions)
    for cid, p in params.items():
        c = conds[cid]
        merged = {**c.params, **p}
        conds[cid] = replace(c, params=merged, compiled=OPERATORS[c.operator].compile(merged, load_lexicon))
    return replace(rule, conditions=conds)
