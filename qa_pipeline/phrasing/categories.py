"""The phrase categories judged by callqa and where their lexicon evidence lives."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    lexicon: str
    lexicon_categories: tuple[str, ...]
    """Entries of `lexicon` that belong to this category; empty = all. The first names model hits."""
    agent_only: bool = True
    seed: str = ""
    """Where the 10086 standard asks for (or forbids) it."""
    positional: bool = False
    """The checks look for this category only at one moment (the call's opening or end, around a wait or a
    transfer), so a wording elsewhere that merely resembles it costs nothing: calibration may accept more
    false alarms on look-alikes (phrasing.model.POSITIONAL_TARGETS) for more recall."""
    model_questions_only: bool = False
    """The classifier only judges clauses ending in ？ — and, since ASR often drops the ？, a whole utterance of at
    most `SHORT_UTTERANCE` characters or a clause of at most `SHORT_CLAUSE` (你说啥 / 啥玩意 / 喂？喂？什么 哪个号码)
    — for this category:
    哦/嗯 as a one-word answer are the lexicon's business (嗯 alone is the backchannel the rubric asks for, l.26),
    a bare 啥？/你说啥？ the model's; a 口语化 word inside a longer statement (哦，发了个短信 …) is left to the
    lexicon's slang entries."""
    refusable: bool = False
    """A hit whose own clause says the action is not needed or not possible (这个不用转人工 / 暂时没法给您转过去 /
    转不了) is no announcement of it: `detect.find` drops such lexicon and classifier hits (`detect.REFUSED`)."""

    model_needs: re.Pattern[str] | None = None
    """A classifier hit counts only if its normalised unit contains this (`detect.find`); lexicon hits are exact
    wordings and need nothing more."""

    model_skips_reported: bool = False
    """A classifier unit that reports the customer's words (您说已经跟营业厅反映过好几次了 / 您刚才讲您问过
    两次了) with no 我 after the report is not this category: what was already said there is the customer's
    (`detect.reports_customer`)."""

    @property
    def hit_category(self) -> str:
        return self.lexicon_categories[0] if self.lexicon_categories else self.name


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("greeting", "greeting", (), seed="10086-hotline-service-standard.txt:5 标准开头语", positional=True),
        Category(
            "closing_ask", "closing", ("anything_else",), seed=":5 结束语 (请问还有其他可以帮您的吗)", positional=True
        ),
        Category("closing_thanks", "closing", ("thanks", "goodbye"), seed=":5-6 结束语, 谢谢/再见", positional=True),
        Category("hold_notice", "hold_notice", (), seed=":7 请稍等, 我帮您查询一下", positional=True),
        Category("hold_apology", "hold_apology", (), seed=":8 对不起, 让您久等了", positional=True),
        Category("dont_know", "forbidden", ("dont_know",), seed=":47 禁止“我不知道、我不清楚”"),
        Category("shirking", "forbidden", ("shirking",), seed=":44-46 禁止推诿"),
        Category("rhetorical", "forbidden", ("rhetorical",), seed=":25 禁止反问、质问、责备、训斥"),
        Category(
            "already_told",
            "forbidden",
            ("already_told",),
            seed=":30 禁止“刚刚已经跟您说过了”",
            # what 已经说过 is about: saying, telling, explaining, asking, repeating, N times. A classifier hit naming
            # none of it is the account's state (您已经取消过了 / 这个业务已经办过了 share 已经…过了 with the templates;
            # session 12: a real 10086 line, 您已经取消过了, scored 0.70 after new templates moved the model)
            model_needs=re.compile(r"[说讲话句问答告诉解释念读提遍次回重复交代]"),
            model_skips_reported=True,
        ),
        Category("argue", "forbidden", ("argue",), seed=":25 不应与客户争辩"),
        Category("impatient", "forbidden", ("impatient",), seed=":30-31 回答耐心, 禁止不耐烦"),
        Category("colloquial", "colloquial", (), seed=":9 口语化/口头禅, 反问式请重复", model_questions_only=True),
        Category("transfer", "transfer", (), seed=":16-22 转接用语", positional=True, refusable=True),
        Category("confirm", "confirm", ("understood", "anything_unclear"), seed=":39 解释后询问客户是否清楚"),
    )
}
SHORT_UTTERANCE = 6
"""See Category.model_questions_only."""
SHORT_CLAUSE = 3
"""See Category.model_questions_only: 什么 / 啥玩意 / 你说啥 cut off by a pause inside a longer turn. Longer clauses
there stay the lexicon's (with 6, an ASR fragment of a real 10086 line, 必须实名, became a hit)."""
FORBIDDEN = ("dont_know", "shirking", "rhetorical", "already_told", "argue", "impatient")


def by_hit_category(hit_category: str) -> str | None:
    """The phrase category whose classifier hits carry `hit_category` (PhraseMatch.category)."""
    return next((c.name for c in CATEGORIES.values() if c.hit_category == hit_category), None)


def category(name: str) -> Category:
    try:
        return CATEGORIES[name]
    except KeyError:
        raise KeyError(f"unknown phrase category {name!r}; known: {', '.join(CATEGORIES)}") from None
