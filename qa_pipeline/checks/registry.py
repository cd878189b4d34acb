"""The check catalogue and registry: the one source of check names, kinds and labels.

`CATALOG` lists every check the product knows, in report order, with its kind: ``phrase`` (judged from the
transcript's wording) or ``timeline`` (judged from speech/silence timing, loudness, waits); and its scope:
``call`` (one finding per call) or ``occurrence`` (one finding per violation, with how a violation lines up
with a labelled one: by time or by the span of text). Labels are messages (``check.<name>`` in
``messages/checks.<lang>.yaml``). Everything else — the CSV columns, the ground truth, the evaluation, the
reports — derives from here.

Implementations register a function `(CheckContext) -> list[Finding]` under a catalogued name with
`@register`; the modules that hold them (phrases, timing, waits) are imported by the `qa_pipeline.checks`
package, which Python always initialises before this module, so the registry itself imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..i18n import t
from ..types import CallMetadata, Finding, Timeline, Transcript

CheckKind = Literal["phrase", "timeline"]
CheckScope = Literal["call", "occurrence"]
OccurrenceMatch = Literal["time", "span"]


@dataclass(frozen=True)
class CheckInfo:
    name: str
    kind: CheckKind
    scope: CheckScope = "call"
    match: OccurrenceMatch | None = None
    """Occurrence checks: how a finding lines up with a labelled violation — `time` (the interval, within a
    tolerance) or `span` (overlap: e.g. the truth marks the agent turn, the finding the phrase inside it)."""

    def __post_init__(self) -> None:
        if (self.scope == "occurrence") != (self.match is not None):
            raise ValueError(f"check {self.name}: occurrence checks (and only they) say how occurrences match")

    @property
    def label(self) -> str:
        return check_label(self.name)


def _call(name: str, kind: CheckKind) -> CheckInfo:
    return CheckInfo(name, kind)


def _occ(name: str, kind: CheckKind, match: OccurrenceMatch) -> CheckInfo:
    return CheckInfo(name, kind, "occurrence", match)


CATALOG: tuple[CheckInfo, ...] = (
    _call("greeting", "phrase"),
    _call("closing", "phrase"),
    _call("polite_terms", "phrase"),
    _call("honorific", "phrase"),
    _occ("forbidden_phrase", "phrase", "span"),  # truth: the agent turn; finding: the phrase inside it
    _occ("colloquialism", "phrase", "span"),
    _occ("interruption", "timeline", "time"),  # the overlap interval
    _occ("silence_over_30s", "timeline", "time"),  # the gap
    _occ("silence_over_60s", "timeline", "time"),
    _occ("hold_notice", "timeline", "time"),  # the unannounced wait
    _occ("hold_apology", "timeline", "time"),  # the wait not followed by an apology
    _occ("response_latency", "timeline", "time"),  # customer end → agent start
    _occ("no_response_to_long_speech", "timeline", "span"),  # the stretch (finding: its longest unanswered part)
    _call("speech_rate", "timeline"),
    _call("volume", "timeline"),
    _call("transfer_phrase", "phrase"),
    _call("transfer_pause", "phrase"),  # the pause after the transfer phrase
    _call("confirm_understanding", "phrase"),
    _occ("repeated_question", "phrase", "span"),
    _call("wait_fluency", "timeline"),
    _call("handling_time", "timeline"),
)
_BY_NAME = {c.name: c for c in CATALOG}


def check_names(*, kind: CheckKind | None = None, scope: CheckScope | None = None) -> tuple[str, ...]:
    """Catalogued check names in report order, optionally of one kind / scope."""
    return tuple(c.name for c in CATALOG if (kind is None or c.kind == kind) and (scope is None or c.scope == scope))


def check_info(name: str) -> CheckInfo:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown check {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def check_label(name: str, lang: str | None = None) -> str:
    """The check's name for people (Chinese by default); an unknown check reads as its own name."""
    key = f"check.{name}"
    text = t(key, lang) if lang else t(key)
    return name if text == key else text


@dataclass(frozen=True)
class CheckContext:
    timeline: Timeline
    transcript: Transcript
    params: Mapping[str, Any]
    metadata: CallMetadata = field(default_factory=lambda: CallMetadata(call_id=""))


CheckFn = Callable[[CheckContext], list[Finding]]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: CheckFn
    defaults: Mapping[str, Any]
    needs_roles: bool
    description: str

    @property
    def info(self) -> CheckInfo:
        return _BY_NAME[self.name]


REGISTRY: dict[str, CheckSpec] = {}


def register(
    name: str, *, defaults: Mapping[str, Any] | None = None, needs_roles: bool = True
) -> Callable[[CheckFn], CheckFn]:
    """Register the implementation of catalogued check `name`; `defaults` are its parameters (the rubric may
    override them)."""

    def wrap(fn: CheckFn) -> CheckFn:
        if name not in _BY_NAME:
            raise ValueError(f"check {name!r} is not in the catalogue (qa_pipeline/checks/registry.py CATALOG)")
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[name] = CheckSpec(name, fn, dict(defaults or {}), needs_roles, doc[0] if doc else "")
        return fn

    return wrap


def get_check(name: str) -> CheckSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown check {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def all_checks() -> dict[str, CheckSpec]:
    """Every registered check, in catalogue order."""
    return {name: REGISTRY[name] for name in check_names() if name in REGISTRY}


def run_check(name: str, ctx: CheckContext) -> list[Finding]:
    """Run one check with its defaults overlaid by `ctx.params`; role-dependent checks on an
    unattributed (mono) call yield `needs_review` instead of a guess."""
    spec = get_check(name)
    if spec.needs_roles and not ctx.timeline.has_roles:
        return [Finding(name, "needs_review", detail={"reason": "roles_unknown"})]
    params = {**spec.defaults, **ctx.params}
    return spec.fn(CheckContext(ctx.timeline, ctx.transcript, params, ctx.metadata))
