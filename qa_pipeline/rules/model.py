"""Rule language data: rules, conditions, scopes, anchors, and the hits conditions produce."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .expr import Expr

Role = Literal["agent", "customer", "any"]
RuleKind = Literal["violation", "requirement", "tag"]


@dataclass(frozen=True)
class Hit:
    """One place where a condition holds. `sentence` indexes the call's utterances (None: call-level)."""

    start: float | None
    end: float | None
    speaker: str | None
    sentence: int | None
    evidence: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Position:
    """Where in the call a condition looks: first/last N sentences of its role, a window in s or %."""

    first: int | None = None
    last: int | None = None
    from_s: float | None = None
    to_s: float | None = None
    from_pct: float | None = None
    to_pct: float | None = None


@dataclass(frozen=True)
class Anchor:
    relation: Literal["before", "after", "around"]
    target: str
    within_sentences: int | None = None
    within_s: float | None = None


@dataclass(frozen=True)
class Condition:
    id: str
    operator: str
    params: Mapping[str, Any]
    role: Role = "any"
    position: Position = Position()
    anchor: Anchor | None = None
    compiled: Any = field(default=None, compare=False)
    """What the operator prepared once at load time (word lists, regexes, examples)."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    conditions: Mapping[str, Condition]
    expression: Expr
    expression_text: str
    kind: RuleKind = "violation"
    tag: str | None = None
    severity: str | None = None
    origin: str = ""
    order: tuple[str, ...] = ()
    """Conditions in evaluation order (anchors first)."""
    topic: bool = False
    """The tag is a topic (handling time may be averaged per topic)."""
    needs_roles: bool = False
    """Some condition looks at one role: on a call whose speakers are unknown the rule says needs_review."""


@dataclass(frozen=True)
class Tag:
    """A label a rule put on a call (topic, escalation risk, marketing offered …) with its first evidence."""

    tag: str
    rule: str
    start: float | None = None
    speaker: str | None = None
    evidence: str = ""
    topic: bool = False
    """A topic tag (话费查询 / 流量套餐 …): handling time may be averaged per topic."""
