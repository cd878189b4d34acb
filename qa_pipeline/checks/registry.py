"""Named check registry: a check is one function `(CheckContext) -> list[Finding]`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..types import CallMetadata, Finding, Timeline, Transcript


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


REGISTRY: dict[str, CheckSpec] = {}


def register(
    name: str, *, defaults: Mapping[str, Any] | None = None, needs_roles: bool = True
) -> Callable[[CheckFn], CheckFn]:
    """Register a check under `name`; `defaults` are its parameters (the rubric may override them)."""

    def wrap(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[name] = CheckSpec(name, fn, dict(defaults or {}), needs_roles, doc[0] if doc else "")
        return fn

    return wrap


def get_check(name: str) -> CheckSpec:
    _load_builtin_checks()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown check {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def all_checks() -> dict[str, CheckSpec]:
    _load_builtin_checks()
    return dict(REGISTRY)


def run_check(name: str, ctx: CheckContext) -> list[Finding]:
    """Run one check with its defaults overlaid by `ctx.params`; role-dependent checks on an
    unattributed (mono) call yield `needs_review` instead of a guess."""
    spec = get_check(name)
    if spec.needs_roles and not ctx.timeline.has_roles:
        return [Finding(name, "needs_review", detail={"reason": "speakers not attributed (mono call)"})]
    params = {**spec.defaults, **ctx.params}
    return spec.fn(CheckContext(ctx.timeline, ctx.transcript, params, ctx.metadata))


def _load_builtin_checks() -> None:
    from . import phrases, timing, waits  # noqa: F401  (modules register on import)
