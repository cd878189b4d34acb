"""Training sentences for the phrase classifier: lexicon phrases + templated paraphrases + negatives.

Deterministic (fixed seed). Reads only `phrasing/templates.yaml` and the lexicons — never the held-out set
in benchmarks/data/ (tests/test_phrasing.py checks that training opens no such file).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..lexicon import load_lexicon
from ..text import normalize
from .categories import CATEGORIES

NONE = "none"
"""The label of sentences that belong to no category."""
PER_TEMPLATE = 40
SEED = 20261202
_GROUP = re.compile(r"\{([^{}]*)\}")


# single characters and bare courtesy words on their own are no category either
# (a bare apology is no *hold* apology; a bare 嗯 is the backchannel the rubric asks for, l.26);
# question tags that end a restatement (您说的是…，对吧？) ask for confirmation, nothing else;
# bare connectives likewise
BARE = (
    *("您好", "你好", "喂", "好的", "对", "是的", "嗯", "嗯嗯", "嗯好", "谢谢您", "明白", "可以", "行", "好"),
    *("抱歉", "不好意思", "对不起", "很抱歉", "非常抱歉", "真不好意思", "哦好的", "嗯对", "啊对"),
    *("不用客气", "不客气", "没关系", "没事", "没事的", "应该的"),
    *("对吧？", "是吧？", "对吗？", "好吗？", "是吗？", "对不对？", "是不是？", "可以吗？", "行吗？"),
    # connectives an ASR cut leaves standing alone between pauses (不是_是在营_交的还是…): no category by themselves
    *("不是", "还是", "就是", "不是的", "然后", "那个", "这个", "所以", "但是", "还有", "没有", "可以的"),
    *("是这样", "就是说", "也就是说", "对对对", "是是是", "然后呢", "那么", "因为", "如果", "或者"),
    # a lone "done / right" between ASR cuts (好了，已经给您办好了): doubled (好了好了 / 行了行了) it is 不耐烦
    *("好了", "好啦", "行了", "可以了", "知道了", "明白了", "没错", "对的", "是的呢", "办好了"),
    # a form of address standing alone between ASR cuts (…，先生，如果您是…): no category (session 12: 先生 scored in
    # the 口语化 review band on a real 10086 line after new templates moved the model)
    *("先生", "女士", "小姐"),
)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    group: str = ""
    """Where the sentence comes from (one template, one lexicon entry…): calibration splits by group, so
    that validation sentences are paraphrases the fold's model never saw any expansion of."""


@cache
def templates() -> dict[str, Any]:
    path = resources.files("qa_pipeline") / "phrasing" / "templates.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(data.get("categories", {})) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"phrasing/templates.yaml: unknown categories {sorted(unknown)}")
    return data


def expand(template: str, rng: random.Random, n: int) -> list[str]:
    """Up to `n` distinct random expansions of `{a|b|c}` groups."""
    groups = [g.split("|") for g in _GROUP.findall(template)]
    total = 1
    for g in groups:
        total *= len(g)
    out: dict[str, None] = {}
    for _ in range(min(n, total) * 3):
        if len(out) >= min(n, total):
            break
        text = template
        while _GROUP.search(text):  # innermost groups first, so a nested group is expanded too
            text = _GROUP.sub(lambda m: rng.choice(m.group(1).split("|")), text)
        out[text] = None
    return list(out)


def vary(text: str, rng: random.Random, fillers: Sequence[str], particles: Sequence[str]) -> str:
    """Surface variation real agents produce: 您/你, a leading filler, a trailing particle, a question mark."""
    if rng.random() < 0.3:
        text = text.replace("您", "你") if "您" in text else text.replace("你", "您")
    if fillers and rng.random() < 0.25:
        text = rng.choice(fillers) + text
    if particles and rng.random() < 0.2 and not text.endswith(("？", "?")):
        text = text + rng.choice(particles)
    if text.endswith(("吗", "呢", "吧", "没有")) and rng.random() < 0.5:
        text += "？"
    return text


def _lexicon_entries(name: str) -> list[list[str]]:
    """The lexicon forms of a category, one list (phrase + variants) per entry."""
    cat = CATEGORIES[name]
    lex = load_lexicon(cat.lexicon)
    out = []
    for e in lex.entries:
        if cat.lexicon_categories and e.category not in cat.lexicon_categories:
            continue
        if name == "greeting" and e.category in ("hello", "service"):
            continue  # a bare 您好 or service phrase is half an opening; full openings come from the templates
        out.append([e.phrase, *e.variants])
    return out


def _lexicon_forms(name: str) -> list[str]:
    return [f for entry in _lexicon_entries(name) for f in entry]


def template_rng(*source: str) -> random.Random:
    """The random stream for one template or lexicon entry, seeded by its own text: adding, removing or editing a
    template changes only that template's sentences, not the expansions and variations of every template after it
    (with one stream for all, one new 争辩 negative changed the samples of 不耐烦, 转接 and 确认 too, and with them
    unrelated dev-set results). `random.Random` seeds a str through SHA-512: stable across runs and hash seeds."""
    return random.Random("|".join((str(SEED), *source)))


def training_examples(extra: Mapping[str, Iterable[str]] | None = None) -> list[Example]:
    """Every training sentence with its label (category name or NONE). `extra` adds phrases per category
    (a QA lead's lexicon folder): they are learnt exactly like the built-in lexicon phrases."""
    data = templates()
    fillers, particles = data.get("fillers", []), data.get("particles", [])
    out: list[Example] = []

    def add(texts: Iterable[str], label: str, group: str, rng: random.Random, copies: int = 1) -> None:
        for t in texts:
            out.append(Example(t, label, group))
            for _ in range(copies):
                out.append(Example(vary(t, rng, fillers, particles), label, group))

    for name in CATEGORIES:
        spec = data.get("categories", {}).get(name, {})
        for k, entry in enumerate(_lexicon_entries(name)):
            add(entry, name, f"{name}:lexicon{k}", template_rng(name, *entry), copies=3)
        more = tuple((extra or {}).get(name, ()))
        add(more, name, f"{name}:extra", template_rng(name, *more), copies=3)
        for k, tpl in enumerate(spec.get("templates", [])):
            rng = template_rng(name, tpl)
            add(expand(tpl, rng, PER_TEMPLATE), name, f"{name}:template{k}", rng)
        for k, tpl in enumerate(spec.get("negatives", [])):
            rng = template_rng(NONE, name, tpl)
            add(expand(tpl, rng, PER_TEMPLATE // 2), NONE, f"{name}:negative{k}", rng)
    for k, tpl in enumerate(data.get("neutral", [])):
        rng = template_rng(NONE, tpl)
        add(expand(tpl, rng, PER_TEMPLATE), NONE, f"neutral{k}", rng)
    add(BARE, NONE, "bare", template_rng(NONE, *BARE), copies=2)
    # the same text can come out of two templates; keep its first label so the classes stay consistent
    seen: dict[str, str] = {}
    uniq = []
    for ex in out:
        if ex.text not in seen:
            seen[ex.text] = ex.label
            uniq.append(ex)
    return uniq


def _fold(text: str) -> str:
    """Normalised text with 您 folded into 你 (the generator swaps them at random)."""
    return normalize(text).replace("您", "你")


def _template_regex(template: str) -> str:
    """A regex over folded text that matches EVERY expansion of `template` (nested groups included), not
    only the ones the seeded sampler happened to draw."""
    stack: list[list[list[str]]] = [[[]]]  # open groups → their alternatives → regex pieces
    for ch in template:
        if ch == "{":
            stack.append([[]])
        elif ch == "|" and len(stack) > 1:
            stack[-1].append([])
        elif ch == "}" and len(stack) > 1:
            alts = stack.pop()
            stack[-1][-1].append("(?:" + "|".join("".join(a) for a in alts) + ")")
        elif folded := _fold(ch):
            stack[-1][-1].append(re.escape(folded))
    if len(stack) != 1:
        raise ValueError(f"phrasing/templates.yaml: unbalanced braces in {template!r}")
    return "".join(stack[0][0])


@cache
def _generator_regex() -> re.Pattern[str]:
    data = templates()
    bodies = [re.escape(_fold(t)) for t in BARE]
    for name in CATEGORIES:
        spec = data.get("categories", {}).get(name, {})
        bodies += [re.escape(_fold(t)) for t in _lexicon_forms(name)]
        bodies += [_template_regex(t) for t in (*spec.get("templates", []), *spec.get("negatives", []))]
    bodies += [_template_regex(t) for t in data.get("neutral", [])]
    fillers = "|".join(re.escape(_fold(f)) for f in data.get("fillers", []) if _fold(f))
    particles = "|".join(re.escape(_fold(p)) for p in data.get("particles", []) if _fold(p))
    return re.compile(f"(?:{fillers})?(?:{'|'.join(bodies)})(?:{particles})?")


def could_generate(text: str) -> bool:
    """Whether the training generator can produce `text` (after normalisation, 您/你 folded), whatever the
    seed: any expansion of any template, lexicon form or bare word, with or without a filler / particle.
    The held-out set must contain no such sentence (tests/test_phrasing.py)."""
    return _generator_regex().fullmatch(_fold(text)) is not None
