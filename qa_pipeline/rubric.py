"""Rubrics as data: load + validate rubric YAML (`qa_pipeline/rubrics/`, `scoring_rubrics/`); score findings."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .checks.registry import all_checks
from .config_errors import at_file, located, schema_message, show, show_list, yaml_problem
from .i18n import t
from .review.describe import describe_finding
from .rubric_input import RubricInputError, param_errors, read_rubric_text, safe_yaml
from .rules.loader import Resolver, RuleError, Source, line_index, resolve_rule_refs
from .rules.model import Rule
from .types import Finding, ItemScore, Score, Status

BUILTIN_RUBRICS = Path(__file__).resolve().parent / "rubrics"
"""The rubrics that ship in the package (the default `10086`): found by any install, editable or not."""
RUBRIC_DIRS = [BUILTIN_RUBRICS, Path(__file__).resolve().parent.parent / "scoring_rubrics"]
"""Where `load_rubric("10086")` looks after $CALLQA_RUBRICS and the current directory's scoring_rubrics/: the
package's rubrics, then a development checkout's scoring_rubrics/ (user and example rubrics)."""

SEVERITIES = ["red_line", "severe", "minor"]
"""红线/致命 (the call fails, score 0), 严重 (the call is 不合格, total capped), 一般 (the item's own deduction)."""
DEFAULT_PASS_RATIO = 0.8
DEFAULT_SEVERE_CAP_RATIO = 0.5

_BINDING = {
    "type": "object",
    "oneOf": [{"required": ["check"]}, {"required": ["rule"]}],
    "additionalProperties": False,
    "properties": {
        "check": {"type": "string"},
        "rule": {"type": "string"},
        "where": {"type": "object"},
        "deduct": {"type": "number", "minimum": 0},
        "deduct_from": {"type": "string"},
        "once": {"type": "boolean"},
    },
}
RUBRIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "version", "items"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "version": {"type": "string"},
        "source": {"type": "string"},
        "fatal_policy": {"enum": ["zero_total", "flag_only"]},
        "verdict": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "pass_ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "severe_cap_ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "source": {"type": "string"},
            },
        },
        "extends": {"type": "string"},
        "checks": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "rules": {"type": "array", "items": {"type": ["string", "object"]}},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "title", "points"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "section": {"type": "string"},
                    "points": {"type": "number", "minimum": 0},
                    "points_source": {"type": "string"},
                    "fatal": {"type": "boolean"},
                    "severity": {"enum": SEVERITIES},
                    "unjudged": {"type": "array", "items": {"type": "string"}},
                    "manual": {"type": "boolean"},
                    "reason": {"type": "string"},
                    "checks": {"type": "array", "items": _BINDING},
                },
            },
        },
    },
}


class RubricError(ValueError):
    """A rubric file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Binding:
    check: str
    where: Mapping[str, Any] = field(default_factory=dict)
    deduct: float | None = None
    deduct_from: str | None = None
    once: bool = False
    """Deduct once for the call however many findings fail (default: per failing finding)."""

    def selects(self, f: Finding) -> bool:
        """A finding of the bound check that matches the `where` filter (a pass finding has no category, so
        only fails are filtered)."""
        return f.check == self.check and (
            f.status != "fail" or all(f.detail.get(k) == v for k, v in self.where.items())
        )


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: float
    section: str = ""
    fatal: bool = False
    manual: bool = False
    reason: str = ""
    bindings: tuple[Binding, ...] = ()
    severity: str = "minor"
    unjudged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rubric:
    id: str
    title: str
    version: str
    items: tuple[Item, ...]
    check_params: Mapping[str, Mapping[str, Any]]
    fatal_policy: str = "zero_total"
    path: str = ""
    pass_ratio: float = DEFAULT_PASS_RATIO
    """合格 needs total ≥ pass_ratio × max and no red-line or severe failure."""
    severe_cap_ratio: float = DEFAULT_SEVERE_CAP_RATIO
    """A failed severe item caps the total at this share of max."""
    rules: tuple[Rule, ...] = ()
    """Rules of the rule language (qa_pipeline/rules) the rubric loads; their findings carry the rule id."""

    @property
    def check_names(self) -> list[str]:
        """Every check the rubric runs: those with parameters plus those bound to items (rules excluded)."""
        rule_ids = {r.id for r in self.rules}
        names = dict.fromkeys(self.check_params)
        for item in self.items:
            for b in item.bindings:
                if b.check not in rule_ids:
                    names.setdefault(b.check)
        return list(names)

    @property
    def max_points(self) -> float:
        return sum(i.points for i in self.items)


def find_rubric(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise RubricError(at_file(str(p), t("config.rubric.file_not_found")))
        return p
    dirs = [Path(d) for d in os.environ.get("CALLQA_RUBRICS", "").split(os.pathsep) if d]
    dirs += [Path.cwd() / "scoring_rubrics", *RUBRIC_DIRS]
    for d in dirs:
        for cand in (d / f"{name_or_path}.yaml", d / f"{name_or_path}.yml"):
            if cand.exists():
                return cand
    raise RubricError(
        t("config.rubric.not_found", name=show(str(name_or_path)), dirs=show_list([str(d) for d in dirs]))
    )


def load_rubric(name_or_path: str | Path) -> Rubric:
    """Load and validate a rubric by name ("10086") or path; errors name the file, line and problem."""
    path = find_rubric(name_or_path)
    try:
        text = read_rubric_text(path)  # a folder, a huge file, GBK: a clear error or the text (rubric_input.py)
    except RubricInputError as exc:
        raise RubricError(str(exc)) from None
    return parse_rubric(text, str(path), base_dir=path.resolve().parent)


def parse_rubric(text: str, origin: str = "<rubric>", base_dir: Path | None = None) -> Rubric:
    """Parse a rubric; lexicons and rule files it names are resolved in `base_dir` first, then the built-ins."""
    try:
        data, node = safe_yaml(text, origin)  # alias bombs, recursive anchors, deep nesting refused first
    except RubricInputError as exc:
        raise RubricError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RubricError(located(origin, mark.line + 1 if mark else None, yaml_problem(exc))) from None
    if not isinstance(data, dict):
        raise RubricError(at_file(origin, t("config.rubric.not_mapping")))
    lines = line_index(node)

    item_lines: dict[int, int] = {}  # merged item index → index in this file (`extends`)

    def fail(path: tuple[Any, ...], message: str) -> RubricError:
        if len(path) > 1 and path[0] == "items" and path[1] in item_lines:
            path = ("items", item_lines[path[1]], *path[2:])
        return RubricError(located(origin, _nearest_line(lines, path), message, "/".join(str(p) for p in path)))

    if "extends" in data:
        data, origins = _extend(data, base_dir, fail)
        item_lines.update(origins)

    errors = sorted(jsonschema.Draft202012Validator(RUBRIC_SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise fail(tuple(e.path), schema_message(e))

    registry = all_checks()
    check_params: dict[str, dict[str, Any]] = {}
    for name, params in (data.get("checks") or {}).items():
        if name not in registry:
            raise fail(
                ("checks", name), t("config.rubric.unknown_check", name=show(name), known=show_list(sorted(registry)))
            )
        params = params or {}
        unknown = set(params) - set(registry[name].defaults)
        if unknown:
            raise fail(
                ("checks", name, sorted(unknown)[0]),
                t(
                    "config.rubric.unknown_params",
                    params=show_list([show(u) for u in sorted(unknown)]),
                    check=show(name),
                    known=show_list(sorted(registry[name].defaults)),
                ),
            )
        bad = param_errors(name, params, registry[name].defaults)  # types and ranges its defaults declare
        if bad:
            raise fail(("checks", name, bad[0][0]), bad[0][1])
        if isinstance(params.get("lexicon"), str):
            try:
                params = {**params, "lexicon": Resolver(base_dir).lexicon(params["lexicon"])[0]}
            except KeyError as exc:
                raise fail(("checks", name, "lexicon"), str(exc.args[0])) from None
        check_params[name] = params

    src = Source(origin, data, lines)
    try:
        rules = resolve_rule_refs(src, ("rules",), data.get("rules"), base_dir, lambda n: n in registry)
    except RuleError as exc:
        raise RubricError(str(exc)) from None
    rule_ids = {r.id for r in rules}

    items = []
    seen: set[str] = set()
    for i, raw in enumerate(data["items"]):
        if raw["id"] in seen:
            raise fail(("items", i, "id"), t("config.rubric.duplicate_item", id=show(raw["id"])))
        seen.add(raw["id"])
        bindings = []
        for j, b in enumerate(raw.get("checks") or []):
            if "rule" in b:
                if b["rule"] not in rule_ids:
                    raise fail(
                        ("items", i, "checks", j, "rule"),
                        t("config.rubric.unknown_rule", rule=show(b["rule"]), known=show_list(sorted(rule_ids))),
                    )
            elif b["check"] not in registry:
                raise fail(
                    ("items", i, "checks", j, "check"),
                    t("config.rubric.unknown_check", name=show(b["check"]), known=show_list(sorted(registry))),
                )
            bindings.append(
                Binding(
                    b.get("check") or b["rule"],
                    b.get("where") or {},
                    b.get("deduct"),
                    b.get("deduct_from"),
                    bool(b.get("once", False)),
                )
            )
        if not bindings and not raw.get("manual"):
            raise fail(("items", i), t("config.rubric.item_no_checks", id=show(raw["id"])))
        items.append(
            Item(
                id=raw["id"],
                title=raw["title"],
                points=float(raw["points"]),
                section=raw.get("section", ""),
                fatal=bool(raw.get("fatal", False)),
                manual=bool(raw.get("manual", False)),
                reason=raw.get("reason", ""),
                bindings=tuple(bindings),
                # a fatal item is a red line whatever else it says
                severity="red_line" if raw.get("fatal") else raw.get("severity", "minor"),
                unjudged=tuple(raw.get("unjudged") or ()),
            )
        )
    return Rubric(
        id=data["id"],
        title=data["title"],
        version=str(data["version"]),
        items=tuple(items),
        check_params=check_params,
        fatal_policy=data.get("fatal_policy", "zero_total"),
        path=origin,
        pass_ratio=float((data.get("verdict") or {}).get("pass_ratio", DEFAULT_PASS_RATIO)),
        severe_cap_ratio=float((data.get("verdict") or {}).get("severe_cap_ratio", DEFAULT_SEVERE_CAP_RATIO)),
        rules=tuple(rules),
    )


_EXTENDING: set[str] = set()
"""Rubric files being loaded as an `extends` base right now (a cycle is an error, not a recursion)."""


def _extend(data: dict[str, Any], base_dir: Path | None, fail: Any) -> tuple[dict[str, Any], dict[int, int]]:
    """`extends: 10086`: the base rubric's checks and items, then this file's (same item id replaces, check
    parameters merge). The base's own rules are not inherited (they resolve relative to the base file)."""
    name = str(data["extends"])
    local = (base_dir / name) if base_dir is not None else None
    try:
        base_path = local if local is not None and local.is_file() else find_rubric(name)
        key = str(base_path.resolve())
        if key in _EXTENDING:
            raise RubricError(at_file(str(base_path), t("config.rubric.extends_itself")))
        _EXTENDING.add(key)
        try:
            load_rubric(base_path)  # the base must be valid on its own (its errors name its own lines)
        finally:
            _EXTENDING.discard(key)
    except RubricError as exc:
        raise fail(("extends",), str(exc)) from None
    base, _ = safe_yaml(read_rubric_text(base_path), str(base_path))
    merged = {k: v for k, v in base.items() if k not in ("rules", "extends")}
    merged.update({k: v for k, v in data.items() if k not in ("checks", "items", "extends")})
    checks = {k: dict(v or {}) for k, v in (base.get("checks") or {}).items()}
    for k, v in (data.get("checks") or {}).items():
        checks[k] = {**checks.get(k, {}), **(v or {})}
    merged["checks"] = checks
    own_items = [it for it in data.get("items") or [] if isinstance(it, dict)]
    own = {it.get("id"): k for k, it in enumerate(own_items)}
    items: list[Any] = []
    origins: dict[int, Any] = {}
    for it in base["items"]:
        k = own.pop(it["id"], None)
        if k is not None:
            origins[len(items)] = k
        items.append(it if k is None else own_items[k])
    for k in own.values():
        origins[len(items)] = k
        items.append(own_items[k])
    merged["items"] = items
    return merged, origins


def _nearest_line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def score_findings(findings: Iterable[Finding], rubric: Rubric) -> Score:
    """Item deductions from the findings; manual and needs-review items are reported but not in `max`."""
    by_check: dict[str, list[Finding]] = {}
    for f in findings:  # grouped once: items × bindings × findings dominated re-scoring an archive
        by_check.setdefault(f.check, []).append(f)
    rule_titles = {r.id: r.title for r in rubric.rules}
    items: list[ItemScore] = []
    for item in rubric.items:
        if item.manual:
            items.append(
                ItemScore(
                    item.id,
                    item.title,
                    item.points,
                    0.0,
                    "needs_review",
                    (item.reason or t("score.manual_item"),),
                    item.fatal,
                    item.severity,
                    item.unjudged,
                )
            )
            continue
        statuses: set[Status] = set()
        charged: list[tuple[Finding, float]] = []
        for b in item.bindings:
            deducted = False
            for f in by_check.get(b.check, ()):
                if not b.selects(f):
                    # the check ran but this finding is outside the item's filter (another category of
                    # forbidden phrase, an announced silence): for this item it is not a violation
                    statuses.add("pass" if f.status == "fail" else f.status)
                    continue
                statuses.add(f.status)
                if f.status != "fail":
                    continue
                if b.deduct_from:
                    d = float(f.detail.get(b.deduct_from, 0.0))
                else:
                    d = item.points if b.deduct is None else b.deduct
                if b.once and deducted:
                    d = 0.0
                deducted = True
                charged.append((f, d))
        charged = charge_events_once(charged)
        reasons = [_reason(f, d, rule_titles.get(f.check)) for f, d in charged]
        deduction = min(sum(d for _, d in charged), item.points)
        status: Status
        if "fail" in statuses:
            status = "fail"
        elif "needs_review" in statuses:
            status = "needs_review"
        elif "pass" in statuses:
            status = "pass"
        else:
            status = "not_applicable"
        items.append(
            ItemScore(
                item.id,
                item.title,
                item.points,
                deduction,
                status,
                tuple(reasons),
                item.fatal,
                item.severity,
                item.unjudged,
            )
        )

    judged = [i for i in items if i.status != "needs_review"]
    max_points = sum(i.points for i in judged)
    total = max_points - sum(i.deduction for i in judged)
    failed = {i.severity for i in items if i.status == "fail"}
    fatal = any(i.fatal and i.status == "fail" for i in items) or "red_line" in failed
    if fatal and rubric.fatal_policy == "zero_total":
        total = 0.0
    if "severe" in failed:
        # 严重: a large deduction — the call cannot score above the cap, so it ranks below every call whose
        # faults are all 一般 (see docs/rubric-severity in docs/accuracy.md and test_rubric's ordering test)
        total = min(total, rubric.severe_cap_ratio * max_points)
    needs_review = any(
        i.status == "needs_review" for i, item in zip(items, rubric.items, strict=True) if not item.manual
    )
    verdict, worst = verdict_of(rubric, total, max_points, failed, fatal)
    return Score(round(total, 2), round(max_points, 2), fatal, needs_review, tuple(items), verdict, worst)


def verdict_of(
    rubric: Rubric, total: float, max_points: float, failed_severities: Iterable[str], fatal: bool
) -> tuple[str, str]:
    """(verdict, worst severity) by the rubric's rule: 不合格 ("fail") on a red-line or severe failure or a total
    below `pass_ratio` × the judged max, else 合格 ("pass"); "" when nothing was judged. Also used on stored
    scores (report/scorecard), so the rule lives here once."""
    failed = set(failed_severities)
    worst = next((s for s in SEVERITIES if s in failed), "")
    if max_points <= 0:
        verdict = ""
    elif fatal or worst in ("red_line", "severe") or total < rubric.pass_ratio * max_points - 1e-9:
        verdict = "fail"
    else:
        verdict = "pass"
    return verdict, worst


def charge_events_once(charged: list[tuple[Finding, float]]) -> list[tuple[Finding, float]]:
    """One event is charged once per item: findings of *different* checks bound to the same item whose spans
    overlap (a 69.9 s silence is both `silence_over_30s` and `silence_over_60s`) are one event, charged the
    largest of their deductions. Separate occurrences of one check are separate events and all count."""
    kept: list[tuple[Finding, float]] = []
    for f, d in sorted(charged, key=lambda fd: -fd[1]):
        same_event = any(
            g.check != f.check
            and f.start is not None
            and f.end is not None
            and g.start is not None
            and g.end is not None
            and f.start < g.end
            and g.start < f.end
            for g, _ in kept
        )
        if not same_event:
            kept.append((f, d))
    return sorted(kept, key=lambda fd: (fd[0].start is None, fd[0].start or 0.0))


def _reason(f: Finding, deduction: float, label: str | None = None) -> str:
    """Why an item lost points, for the reports: the finding in words (the workstation's wording) and the points."""
    finding = describe_finding(f.check, f.start, f.end, f.evidence, f.detail, label=label)
    return t("score.reason", finding=finding, deduction=f"{deduction:g}")
