import json

import pytest
from helpers import REAL_AUDIO

from qa_pipeline.lexicon import PhraseMatch, available_lexicons, load_lexicon
from qa_pipeline.text import normalize

MOBILECS = REAL_AUDIO / "text" / "mobilecs_example.json"
REQUIRED = {
    "greeting",
    "closing",
    "polite",
    "honorific",
    "forbidden",
    "colloquial",
    "transfer",
    "hold_notice",
    "hold_apology",
    "confirm",
}


def test_all_lexicons_load_with_sources():
    assert REQUIRED <= set(available_lexicons())
    for name in available_lexicons():
        lex = load_lexicon(name)
        assert lex is load_lexicon(name)  # cached
        assert lex.entries
        for e in lex.entries:
            assert e.source and e.category and e.phrase


def test_every_pattern_matches_its_own_phrase():
    """A regex entry's phrase is its example: a pattern that cannot find it is broken (a `(:` typed for `(?:` made one
    session-12 entry demand literal colons, so it never matched anything)."""
    # the phrase without the agent's number, which the pattern requires
    fragments = {"号为您服务": "工号一二三四为您服务"}
    for name in available_lexicons():
        for e in load_lexicon(name).entries:
            if e.regex is not None:
                example = fragments.get(e.phrase, e.phrase)
                assert e.regex.search(normalize(example)), f"{name}: {e.phrase}"


def test_categories():
    assert set(load_lexicon("closing").categories()) == {"anything_else", "thanks", "goodbye", "rating"}
    assert {"dont_know", "already_told", "shirking", "rhetorical"} <= set(load_lexicon("forbidden").categories())
    assert {"knowledge_base", "ivr", "expert_seat"} <= set(load_lexicon("transfer").categories())
    assert "我不知道" in load_lexicon("forbidden").phrases("dont_know")


def test_exact_offsets_into_original():
    text = "嗯，这个我不清楚。"
    (m,) = load_lexicon("forbidden").find(text)
    assert isinstance(m, PhraseMatch)
    assert m.method == "exact" and m.category == "dont_know" and m.score == 1.0
    assert text[m.start : m.end] == "这个我不清楚"


@pytest.mark.parametrize(
    "lexicon,text,phrase",
    [
        ("hold_notice", "请您少等，我帮您查询一下", "请稍等我帮您查询一下"),
        ("hold_apology", "对不起，让您酒等了", "对不起让您久等了"),
        ("transfer", "我将把您的电话转至专家台息", "为了更好的为您解决问题我将把您的电话转至专家台席"),
        ("forbidden", "这个我不清处", "我不清楚"),
        ("forbidden", "刚才以经跟你说过了", "刚刚已经跟您说过了"),
        ("greeting", "您好很高兴您服务", "很高兴为您服务"),
        ("closing", "请问还有什么可以邦您", "请问还有什么可以帮您"),
    ],
)
def test_homophone_matches(lexicon, text, phrase):
    ms = load_lexicon(lexicon).find(text)
    assert any(m.phrase == phrase and m.method == "pinyin" for m in ms), ms
    assert not any(m.phrase == phrase for m in load_lexicon(lexicon).find(text, fuzzy=False))


def test_traditional_input():
    (m,) = load_lexicon("forbidden").find("這不歸我們管")
    assert m.category == "shirking" and m.method == "exact"
    assert any(m.category == "apology" for m in load_lexicon("hold_apology").find("對不起，讓您久等了"))


def test_negatives_and_context_guards():
    forb = load_lexicon("forbidden")
    assert forb.find("我知道了") == []
    assert forb.find("我不知道您是否方便接听") == []  # polite hedge, excluded
    assert forb.find("还有什么不清楚的吗") == []
    assert forb.find("不客气") == []
    assert load_lexicon("polite").find("不客气")[0].category == "welcome"


def test_short_phrases_never_fuzzy():
    coll = load_lexicon("colloquial")
    assert coll.find("哦")[0].phrase == "哦"
    assert coll.find("哦哦")
    assert coll.find("哦那就是说周末还有流量") == []  # particle inside a sentence is fine
    assert coll.find("喔") and coll.find("我") == []
    assert coll.find("嗯") == [] and coll.find("嗯？")
    assert coll.find("麻烦您再说一次") == [] and coll.find("再说一次")


def test_no_forbidden_on_real_mobilecs_turns():
    if not MOBILECS.exists():
        pytest.skip("MobileCS sample not available")
    forb = load_lexicon("forbidden")
    hits = [
        (t, m)
        for d in json.loads(MOBILECS.read_text())
        for turn in d["content"]
        for t in [turn.get("[SPEAKER 1]") or ""]
        for m in forb.find(t)
    ]
    assert hits == []


def test_a_pinyin_hit_keeps_the_negations() -> None:
    """One substituted syllable may be an ASR homophone (部是 for 不是) but not a negation added or taken away:
    就是您说的那样 agrees with the customer, 不是您说的那样 contradicts (lexicon.same_polarity)."""
    forbidden = load_lexicon("forbidden")
    assert not [m for m in forbidden.find("嗯没错就是您说的那样，积分年底清零") if m.category == "argue"]
    homophone = [m for m in forbidden.find("部是您说的那样") if m.category == "argue"]
    assert homophone and homophone[0].method == "pinyin", homophone
