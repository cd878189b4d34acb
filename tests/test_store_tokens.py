"""store/tokens.py: the index's token forms."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from qa_pipeline.store import tokens as T


def _reference_pinyin(text: str) -> tuple[str, ...]:
    """`pinyin_tokens` as written before the phrase memo: pypinyin's module-level `lazy_pinyin`."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for chunk in lazy_pinyin(T.normalize(text), style=Style.NORMAL, errors=T._unchanged):
        out.extend(w for w in re.split(r"[^0-9a-zA-Z\u00C0-\u024F]+", chunk) if w)
    return tuple(out)


def _real_turns(shared: Path | None) -> list[str]:
    texts: list[str] = []
    if shared is not None:
        f = shared / "real-audio" / "text" / "mobilecs_example.json"
        if f.exists():
            for conv in json.loads(f.read_text(encoding="utf-8")):
                for turn in conv["content"]:
                    texts += [v for k, v in turn.items() if k.startswith("[SPEAKER") and isinstance(v, str)]
    return texts


def test_pinyin_with_phrase_memo_is_pypinyins_lazy_pinyin():
    """The remembered phrase results change nothing: polyphones decided by their phrase (重庆 / 重新, 银行 / 行走,
    音乐 / 乐观), text around a phrase, non-Han runs, full-width forms, and the same phrases met again (memo hits)
    all give what pypinyin's own `lazy_pinyin` gives."""
    import os

    shared = os.environ.get("CALLQA_SHARED")
    texts = _real_turns(Path(shared) if shared else None)
    base = [
        "重庆的重新开始",
        "银行门口行走",
        "音乐让人乐观",
        "长大以后长度不够",
        "5G套餐 ABC123 还行吗？",
        "ｆｕｌｌ　ｗｉｄｔｈ １２３",
        "é café 中文",
        "我不知道，这个不归我们管。",
        "",
        "嗯",
    ]
    rng = random.Random(5)
    chars = "".join(base + texts) or "重新银行音乐"
    soup = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 24))) for _ in range(400)]
    T.pinyin_tokens.cache_clear()
    for text in base + texts + soup + base:  # base twice: the second time from the memo
        assert T.pinyin_tokens(text) == _reference_pinyin(text), text
    T.pinyin_tokens.cache_clear()
    assert T.pinyin_tokens("重新") == ("chong", "xin") and T.pinyin_tokens("重庆") == ("chong", "qing")
    assert T.pinyin_tokens("银行") == ("yin", "hang") and T.pinyin_tokens("行走") == ("xing", "zou")
