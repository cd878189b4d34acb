"""Load rule files: YAML validated with line numbers, references resolved next to the file first.

A rule file holds one rule (a mapping with `id`) or several (`rules: [...]`). Lexicons (`keyword: {lexicon:
my_words}`) and rule files are looked up relative to the referring file first (`<dir>/<name>.yaml`,
`<dir>/lexicons/<name>.yaml`, `<dir>/rules/<name>.yaml`), then among the built-ins. Every unknown lexicon,
condition id, operator or parameter is an error naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..config_errors import at_file, located, schema_message, show, show_list, yaml_problem
from ..i18n import t
from ..lexicon import Lexicon, available_lexicons, load_lexicon, parse_lexicon, register_lexicon
from . import expr as ex
from .model import Anchor, Condition, Position, Rule
from .operators import OPERATORS

BUILTIN_RULES = Path(__file__).resolve().parent / "builtin"

_SCOPE_KEYS = {"role", "position", "anchor", "note"}
_RULE_KEYS = {"id", "title", "description", "conditions", "expression", "require", "tag", "topic", "severity", "source"}
_POSITION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: {"type": "integer", "minimum": 0} if k in ("first", "last") else {"type": "number", "minimum": 0}
        for k in ("first", "last", "from_s", "to_s", "from_pct", "to_pct")
    },
}
_ANCHOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "before": {"type": "string"},
        "after": {"type": "string"},
        "around": {"type": "string"},
        "within_sentences": {"type": "integer", "minimum": 1},
        "within_s": {"type": "number", "minimum": 0},
    },
}


class RuleError(ValueError):
    """A rule (or a reference to one) that cannot be used; the message names the file and line."""


@dataclass
class Source:
    """A YAML document with the line of every key path, for error messages."""

    origin: str
    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def line(self, path: tuple[Any, ...]) -> int | None:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def error(self, path: tuple[Any, ...], message: str) -> RuleError:
        return RuleError(located(self.origin, self.line(path), message, "/".join(str(p) for p in path)))


def line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map each key path of the YAML document to its 1-based line."""
    out: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        out[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                out[path + (k.value,)] = k.start_mark.line + 1
                walk(v, path + (k.value,))
                out[path + (k.value,)] = k.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, path + (i,))

    if node is not None:
        walk(node, ())
    return out


def read_source(text: str, origin: str) -> Source:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError(located(origin, mark.line + 1 if mark else None, yaml_problem(exc))) from None
    return Source(origin, data, line_index(node))


class Resolver:
    """Finds lexicons and rule files: next to the referring file first, then the built-ins."""

    def __init__(self, *base_dirs: Path | None):
        self.dirs = [d for d in dict.fromkeys(base_dirs) if d is not None]
        self.base_dir = self.dirs[0] if self.dirs else None

    def then(self, *more: Path | None) -> Resolver:
        return Resolver(*self.dirs, *more)

    def _candidates(self, name: str, sub: str) -> list[Path]:
        out = []
        p = Path(name)
        for d in self.dirs:
            if p.suffix in (".yaml", ".yml"):
                out += [d / p, d / sub / p]
            else:
                out += [d / f"{name}.yaml", d / sub / f"{name}.yaml"]
        return out

    def lexicon(self, name: str) -> tuple[str, Lexicon]:
        """(key under which `load_lexicon` finds it, the lexicon); KeyError when nowhere."""
        for cand in self._candidates(name, "lexicons"):
            if cand.is_file():
                key = str(cand.resolve())
                try:
                    lex = parse_lexicon(cand.read_text(encoding="utf-8"), Path(name).stem)
                except (ValueError, yaml.YAMLError) as exc:
                    raise KeyError(t("config.rules.lexicon_file", path=str(cand), problem=exc)) from None
                register_lexicon(key, lex)
                return key, lex
        try:
            return name, load_lexicon(name)
        except KeyError:
            raise KeyError(
                t(
                    "config.rules.unknown_lexicon",
                    name=show(name),
                    dirs=show_list([str(d) for d in self.dirs]),
                    known=show_list(available_lexicons()),
                )
            ) from None

    def rule_file(self, name: str) -> Path:
        for cand in [
            *self._candidates(name, "rules"),
            BUILTIN_RULES / (name if name.endswith(".yaml") else f"{name}.yaml"),
        ]:
            if cand.is_file():
                return cand
        raise KeyError(t("config.rules.unknown_rule_file", name=show(name), known=show_list(builtin_rule_sets())))


def builtin_rule_sets() -> list[str]:
    return sorted(p.stem for p in BUILTIN_RULES.glob("*.yaml"))


def _check_keys(src: Source, path: tuple[Any, ...], mapping: Mapping[str, Any], allowed: set[str], what: str) -> None:
    for k in mapping:
        if k not in allowed:
            raise src.error(
                path + (k,), t("config.rules.unknown_key", what=what, key=show(k), allowed=show_list(sorted(allowed)))
            )


def _validate(src: Source, path: tuple[Any, ...], value: Any, schema: Mapping[str, Any], what: str) -> None:
    if isinstance(value, Mapping) and schema.get("additionalProperties") is False:
        _check_keys(src, path, value, set(schema.get("properties", {})), what)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise src.error(path + tuple(e.path), schema_message(e))


def parse_rule(src: Source, path: tuple[Any, ...], raw: Any, resolver: Resolver) -> Rule:
    if not isinstance(raw, Mapping):
        raise src.error(path, t("config.rules.not_mapping"))
    _check_keys(src, path, raw, _RULE_KEYS, t("config.rules.what.rule_key"))
    for key in ("id", "conditions"):
        if key not in raw:
            raise src.error(path, t("config.rules.lacks", key=show(key)))
    rid = raw["id"]
    if not isinstance(rid, str) or not rid.replace("_", "a").replace("-", "a").replace(".", "a").isalnum():
        raise src.error(path + ("id",), t("config.rules.bad_id", id=show(rid)))
    conds_raw = raw["conditions"]
    if not isinstance(conds_raw, Mapping) or not conds_raw:
        raise src.error(path + ("conditions",), t("config.rules.conditions_mapping"))
    if raw.get("topic") and not raw.get("tag"):
        raise src.error(path + ("topic",), t("config.rules.topic_needs_tag"))
    if raw.get("require") and raw.get("tag"):
        raise src.error(path + ("require",), t("config.rules.require_and_tag"))
    if raw.get("severity") is not None and raw["severity"] not in ("minor", "major", "critical"):
        raise src.error(path + ("severity",), t("config.rules.severity"))

    conditions: dict[str, Condition] = {}
    for cid, craw in conds_raw.items():
        conditions[str(cid)] = _parse_condition(src, path + ("conditions", cid), str(cid), craw, resolver)

    text = raw.get("expression")
    if text is None:
        text = " && ".join(conditions)
    try:
        parsed = ex.parse(str(text))
    except ex.ExprError as exc:
        raise src.error(
            path + ("expression",), t("config.rules.expression", text=show(text), column=exc.column, problem=exc)
        ) from None
    for name in ex.names(parsed):
        if name not in conditions:
            raise src.error(
                path + ("expression",),
                t("config.rules.unknown_condition", name=show(name), known=show_list(list(conditions))),
            )
    for cid, c in conditions.items():
        if c.anchor is not None and c.anchor.target not in conditions:
            raise src.error(
                path + ("conditions", cid, "anchor"),
                t("config.rules.anchor_unknown", name=show(c.anchor.target), known=show_list(list(conditions))),
            )
    order = _order(src, path, conditions)
    needs_roles = any(
        c.role != "any"
        or any(c.params.get(k, "any") != "any" for k in OPERATORS[c.operator].role_params)
        or c.operator in ("first_response",)
        for c in conditions.values()
    )
    kind = "tag" if raw.get("tag") else ("requirement" if raw.get("require") else "violation")
    return Rule(
        id=rid,
        title=str(raw.get("title") or rid),
        conditions=conditions,
        expression=parsed,
        expression_text=str(text),
        kind=kind,  # type: ignore[arg-type]
        tag=str(raw["tag"]) if raw.get("tag") else None,
        severity=raw.get("severity"),
        origin=f"{src.origin}:line {src.line(path)}",
        order=order,
        needs_roles=needs_roles,
        topic=bool(raw.get("topic", False)),
    )


def _parse_condition(src: Source, path: tuple[Any, ...], cid: str, craw: Any, resolver: Resolver) -> Condition:
    if not isinstance(craw, Mapping):
        raise src.error(path, t("config.rules.condition_mapping", cid=show(cid), ops=show_list(sorted(OPERATORS))))
    ops = [k for k in craw if k not in _SCOPE_KEYS]
    for k in ops:
        if k not in OPERATORS:
            raise src.error(
                path + (k,),
                t("config.rules.unknown_operator", op=show(k), ops=show_list(sorted(OPERATORS))),
            )
    if len(ops) != 1:
        raise src.error(path, t("config.rules.one_operator", cid=show(cid), n=len(ops)))
    name = ops[0]
    op = OPERATORS[name]
    params = craw[name]
    # shorthands a QA lead writes without thinking: `regex: 模式`, `keyword: [投诉, 工信部]` (or one word),
    # `similar: [例句, …]`; each means the operator's main parameter alone
    if name == "regex" and isinstance(params, str):
        params = {"pattern": params}
    elif name == "keyword" and isinstance(params, (list, str)):
        params = {"words": [params] if isinstance(params, str) else params}
    elif name == "similar" and isinstance(params, (list, str)):
        params = {"examples": [params] if isinstance(params, str) else params}
    if params is None:
        params = {}
    _validate(src, path + (name,), params, op.schema, t("config.rules.what.param", operator=name))
    role = craw.get("role", "any")
    if role not in ("agent", "customer", "any"):
        raise src.error(path + ("role",), t("config.rules.role", role=show(role)))
    pos_raw = craw.get("position") or {}
    if pos_raw == "whole_call":
        pos_raw = {}
    _validate(src, path + ("position",), pos_raw, _POSITION, t("config.rules.what.position"))
    anchor = None
    if craw.get("anchor") is not None:
        a = craw["anchor"]
        _validate(src, path + ("anchor",), a, _ANCHOR, t("config.rules.what.anchor"))
        rels = [r for r in ("before", "after", "around") if r in a]
        if len(rels) != 1:
            raise src.error(path + ("anchor",), t("config.rules.anchor_one"))
        if "within_sentences" in a and "within_s" in a:
            raise src.error(path + ("anchor",), t("config.rules.anchor_within_both"))
        anchor = Anchor(rels[0], str(a[rels[0]]), a.get("within_sentences"), a.get("within_s"))  # type: ignore[arg-type]
    if name == "volume" and not params:
        raise src.error(path + (name,), t("config.rules.volume_needs"))
    if name == "keyword" and not (params.get("words") or params.get("lexicon")):
        raise src.error(path + (name,), t("config.rules.keyword_needs"))
    if name == "similar":
        if not (params.get("examples") or params.get("category")):
            raise src.error(path + (name,), t("config.rules.similar_needs"))
        if params.get("category"):
            from .operators import _phrase_categories

            if params["category"] not in _phrase_categories():
                raise src.error(
                    path + (name, "category"),
                    t(
                        "config.rules.unknown_category",
                        name=show(params["category"]),
                        known=show_list(list(_phrase_categories())),
                    ),
                )

    def lexicons(lname: str) -> Lexicon:
        try:
            return resolver.lexicon(lname)[1]
        except KeyError as exc:
            raise src.error(path + (name, "lexicon"), str(exc.args[0])) from None

    try:
        compiled = op.compile(params, lexicons)
    except RuleError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad regex and the like, reported with its line
        raise src.error(path + (name,), t("config.rules.operator_invalid", op=name, problem=exc)) from None
    return Condition(cid, name, dict(params), role, Position(**pos_raw), anchor, compiled)


def _order(src: Source, path: tuple[Any, ...], conditions: Mapping[str, Condition]) -> tuple[str, ...]:
    """Anchored conditions after their targets; a cycle is an error."""
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(cid: str, chain: list[str]) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            cycle = t("config.rules.cycle", chain=" → ".join([*chain, cid]))
            raise src.error(path + ("conditions", cid, "anchor"), cycle)
        state[cid] = 1
        a = conditions[cid].anchor
        if a is not None:
            visit(a.target, [*chain, cid])
        state[cid] = 2
        done.append(cid)

    for cid in conditions:
        visit(cid, [])
    return tuple(done)


def parse_rules(src: Source, path: tuple[Any, ...], data: Any, resolver: Resolver) -> list[Rule]:
    """A rule document: one rule mapping, or `rules: [...]`."""
    if isinstance(data, Mapping) and "rules" in data and "id" not in data:
        _check_keys(src, path, data, {"rules", "title", "description", "source"}, t("config.rules.what.key"))
        items = data["rules"]
        if not isinstance(items, list):
            raise src.error(path + ("rules",), t("config.rules.rules_list"))
        rules = [parse_rule(src, path + ("rules", i), r, resolver) for i, r in enumerate(items)]
    else:
        rules = [parse_rule(src, path, data, resolver)]
    seen: dict[str, int] = {}
    for i, r in enumerate(rules):
        if r.id in seen:
            raise src.error(path + ("rules", i, "id"), t("config.rules.duplicate_id", id=show(r.id)))
        seen[r.id] = i
    return rules


def load_rule_file(path: Path | str, resolver: Resolver | None = None) -> list[Rule]:
    """The rules of one file (lexicons resolved next to it first)."""
    p = Path(path)
    if not p.is_file():
        raise RuleError(at_file(str(p), t("config.rules.file_not_found")))
    src = read_source(p.read_text(encoding="utf-8"), str(p))
    # a QA lead's folder keeps rules/ and lexicons/ side by side: look next to the file, then one level up
    return parse_rules(src, (), src.data, resolver or Resolver(p.parent, p.parent.parent))


def resolve_rule_refs(
    src: Source, path: tuple[Any, ...], refs: Any, base_dir: Path | None, known_checks: Callable[[str], bool]
) -> list[Rule]:
    """The rubric's `rules:` list: file names (next to the rubric, then built-in rule sets) or inline rules."""
    if refs is None:
        return []
    if not isinstance(refs, list):
        raise src.error(path, t("config.rules.refs_list"))
    resolver = Resolver(base_dir)
    rules: list[Rule] = []
    for i, ref in enumerate(refs):
        if isinstance(ref, str):
            try:
                f = resolver.rule_file(ref)
            except KeyError as exc:
                raise src.error(path + (i,), str(exc.args[0])) from None
            rules += load_rule_file(
                f, resolver if f.parent == BUILTIN_RULES else Resolver(f.parent).then(*resolver.dirs)
            )
        else:
            rules += parse_rules(src, path + (i,), ref, resolver)
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise src.error(path, t("config.rules.defined_twice", id=show(r.id), origin=r.origin))
        if known_checks(r.id):
            raise src.error(path, t("config.rules.is_check_name", id=show(r.id), origin=r.origin))
        seen.add(r.id)
    return rules
