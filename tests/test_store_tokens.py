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


def _result(texts: list[str]) -> dict:
    return {"call_id": "c1", "utterances": [{"speaker": "agent", "start": 0, "end": 1, "text": t} for t in texts]}


def test_carried_tokens_are_a_fresh_tokenisation():
    """The block the pipeline writes (`with_search_tokens`) holds exactly `index_columns` of each text, and
    `carried_forms` gives them back only while version and texts match."""
    import os

    shared = os.environ.get("CALLQA_SHARED")
    texts = _real_turns(Path(shared) if shared else None)[:300] + [
        "我不知道，这个不归我们管。",
        "5G套餐 ABC123 还行吗？",
        "ｆｕｌｌ　ｗｉｄｔｈ １２３",
        "",
        "嗯",
        "。。。",
    ]
    r = T.with_search_tokens(_result(texts))
    block = r[T.SEARCH_TOKENS]
    assert block["version"] == T.tokenizer_version() and "jieba" in block["version"]
    fresh = [T.index_columns(t) for t in texts]
    assert list(zip(block["seg"], block["py"], strict=True)) == fresh
    assert T.carried_forms(json.loads(json.dumps(r, ensure_ascii=False))) == fresh  # survives the JSON file
    # what the PostgreSQL backend makes of carried forms is the literal it makes from the text
    from qa_pipeline.store.backends.postgres import _carried_literal, _text_literal

    for t, (seg, py) in zip(texts, fresh, strict=True):
        assert _carried_literal(t, seg, py, True) == _text_literal(t, True)


def test_carried_tokens_are_ignored_when_stale_or_malformed():
    r = T.with_search_tokens(_result(["请您稍等", "我不知道"]))
    assert T.carried_forms(r) is not None

    def changed(fn) -> dict:
        x = json.loads(json.dumps(r, ensure_ascii=False))
        fn(x)
        return x

    stale = [
        changed(lambda x: x.pop(T.SEARCH_TOKENS)),  # a result written before the tokens were carried
        changed(lambda x: x[T.SEARCH_TOKENS].update(version="callqa-tokens 0; jieba 0.39")),  # another tokenizer
        changed(lambda x: x["utterances"][1].update(text="我不清楚")),  # the text changed since (redaction, edits)
        changed(lambda x: x["utterances"].append({"speaker": "agent", "start": 2, "end": 3, "text": "好"})),
        changed(lambda x: x[T.SEARCH_TOKENS]["seg"].pop()),
        changed(lambda x: x[T.SEARCH_TOKENS]["py"].__setitem__(0, None)),
        changed(lambda x: x.__setitem__(T.SEARCH_TOKENS, "qing nin")),
    ]
    for x in stale:
        assert T.carried_forms(x) is None, x
    assert T.SEARCH_TOKENS not in T.with_search_tokens({"call_id": "f", "status": "failed", "utterances": []})
