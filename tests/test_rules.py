"""Rule language: every operator positive and negative on constructed calls, boolean and anchor logic, tags,
requirements, validation errors with line numbers, rubric bindings, lexicons next to the rubric."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qa_pipeline.judging import JudgeInputs, judge
from qa_pipeline.rubric import RubricError, load_rubric
from qa_pipeline.rules import expr as ex
from qa_pipeline.rules.engine import run_rules
from qa_pipeline.rules.loader import Resolver, RuleError, Source, load_rule_file, parse_rules, read_source
from qa_pipeline.timeline import timeline_from_segments
from qa_pipeline.types import CallMetadata, SpeechSegment, Transcript, Utterance


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests match the English wording of configuration errors; tests/test_config_errors.py checks that
    the same errors read in Chinese by default."""
    monkeypatch.setenv("CALLQA_LANG", "en")


EXAMPLES = Path(__file__).resolve().parents[1] / "scoring_rubrics" / "examples"


def call(turns, duration=None, loud=None):  # type: ignore[no-untyped-def]
    """(speaker, start, end, text) turns → (timeline, transcript); loudness per turn index optional."""
    segs = [SpeechSegment(s, a, b, (loud or {}).get(i, -20.0)) for i, (s, a, b, _) in enumerate(turns)]
    dur = duration if duration is not None else max(b for _, _, b, _ in turns) + 1.0
    tl = timeline_from_segments(segs, dur)
    tr = Transcript(tuple(Utterance(s, a, b, text) for s, a, b, text in turns), engine="test")
    return tl, tr


NORMAL = [
    ("agent", 0.5, 3.0, "您好，很高兴为您服务，请问有什么可以帮您？"),
    ("customer", 3.5, 7.0, "我想查一下这个月的话费，怎么扣了这么多。"),
    ("agent", 7.5, 10.0, "好的，请您稍等，我帮您查询一下。"),
    ("agent", 22.0, 26.0, "感谢您的耐心等待，您本月话费是八十六元。"),
    ("customer", 26.5, 28.0, "好的，谢谢。"),
    ("agent", 28.5, 31.0, "请问还有其他可以帮您的吗？再见。"),
]


def rules_of(yaml_text: str, base: Path | None = None):  # type: ignore[no-untyped-def]
    src = read_source(textwrap.dedent(yaml_text), "t.yaml")
    return parse_rules(src, (), src.data, Resolver(base))


def fired(yaml_text: str, turns, **kw):  # type: ignore[no-untyped-def]
    """(fail findings, tags) of the rules in `yaml_text` on a constructed call."""
    tl, tr = call(turns, **kw)
    findings, tags = run_rules(rules_of(yaml_text), tl, tr, CallMetadata("c1"))
    return [f for f in findings if f.status == "fail"], tags


def one(cond: str, turns=NORMAL, **kw) -> list:  # type: ignore[no-untyped-def]
    """Fail findings of a one-condition violation rule."""
    text = "id: r\nconditions:\n  a:\n" + textwrap.indent(textwrap.dedent(cond).strip(), "    ") + "\n"
    return fired(text, turns, **kw)[0]


# --------------------------------------------------------------------------------------------- text operators


def test_keyword_any_all_at_least_none_and_synonyms() -> None:
    assert len(one("keyword: {words: [话费, 宽带]}")) == 2  # two sentences say 话费
    assert one("keyword: {words: [宽带, 积分]}") == []
    assert one("keyword: {words: [话费, 稍等], match: all}")
    assert one("keyword: {words: [话费, 宽带], match: all}") == []
    assert one("keyword: {words: [话费, 稍等, 宽带], at_least: 2}")
    assert one("keyword: {words: [话费, 宽带, 积分], at_least: 2}") == []
    assert one("keyword: {words: [宽带], match: none}")  # none holds: one call-level hit
    assert one("keyword: {words: [话费], match: none}") == []
    assert one("keyword: {words: [电话费], synonyms: {电话费: [话费]}}")


def test_keyword_and_similar_shorthands() -> None:
    """`keyword: [a, b]` / `keyword: a` mean `{words: …}`; `similar: [例句]` means `{examples: …}` (QA leads write
    the short form first; it was an error "expected a mapping")."""
    assert len(one("keyword: [话费, 宽带]")) == len(one("keyword: {words: [话费, 宽带]}")) == 2
    assert one("keyword: 稍等") and one("keyword: 宽带") == []
    src = rules_of("id: r\nconditions:\n  a: {similar: [请问还有什么可以帮您的吗]}\n")
    assert src[0].conditions["a"].params["examples"] == ["请问还有什么可以帮您的吗"]


def test_keyword_pinyin_tolerant_option() -> None:
    turns = [("customer", 0.0, 2.0, "我要头速你们")]  # ASR heard 投诉 as 头速
    assert one("keyword: {words: [投诉]}\nrole: customer", turns) == []
    assert one("keyword: {words: [投诉], pinyin: true}\nrole: customer", turns)


def test_regex_and_not_regex() -> None:
    assert one(r"regex: {pattern: '[八九]十六元'}")
    assert one(r"regex: {pattern: '[八九]十六元', not_regex: 话费}") == []
    assert one("regex: 宽带") == []


def test_similar_examples_threshold() -> None:
    # the wording score alone (model: false); the examples' classifier is tested below (it trains a model)
    hits = one("similar: {examples: [请问还有什么可以帮您的吗], threshold: 0.7, model: false}\nrole: agent")
    assert hits and "还有其他" in hits[0].evidence
    assert one("similar: {examples: [您的宽带已经为您报修], threshold: 0.6, model: false}") == []


# a category no phrase category covers: a QA lead's five example sentences of a marketing offer (营销推荐)
OFFER = """
similar:
  examples:
    - 现在有个流量优惠活动，每月只要十元就能多送五个G
    - 给您推荐一个新的套餐，月费比您现在的还便宜
    - 我们最近推出了宽带加装优惠，您要不要了解一下
    - 您可以办理一个副卡，家里人一起用更划算
    - 现在升级五G套餐可以免费送三个月视频会员
"""


@pytest.mark.slow  # trains the examples' classifier (cached by content afterwards)
def test_similar_from_bare_examples_learns_a_paraphrase_matcher() -> None:
    offers = [  # paraphrases: none of them is an example, and their wording overlaps the examples' little
        "正好我们这个月有个优惠活动，充一百送五十，您考虑一下吗",
        "您要不要办一个流量包，每个月多送十个G",
    ]
    unrelated = [  # agent turns of an ordinary call, and customers talking about packages and offers
        ("agent", "您好，很高兴为您服务"),
        ("agent", "请您稍等，我帮您查询一下"),
        ("agent", "您的话费余额还有三十二元"),
        ("agent", "这个套餐的月费是五十八元"),
        ("agent", "好的，已经帮您登记了，师傅明天上门"),
        ("agent", "请问还有其他可以帮您的吗"),
        ("customer", "我不要什么套餐，别给我推销了"),
        ("customer", "我想查一下我的话费"),
        ("customer", "您这个月的流量已经用完了吗"),
    ]
    turns = [(who, 5.0 * k, 5.0 * k + 4, text) for k, (who, text) in enumerate(unrelated)]
    assert one(OFFER, turns) == []  # no unrelated turn, agent or customer, counts as an offer
    for text in offers:
        with_offer = [*turns, ("agent", 60.0, 64.0, text)]
        hits = one(OFFER + "role: agent", with_offer)
        assert [h.evidence for h in hits] == [text], text
        assert hits[0].detail["method"] == "model"
        # the wording score alone does not see these paraphrases: the classifier does
        assert one(OFFER + "  model: false\nrole: agent", with_offer) == []
    # role scope: the same offer said by the customer is not the agent's offer
    assert one(OFFER + "role: agent", [*turns, ("customer", 60.0, 64.0, offers[0])]) == []


@pytest.mark.slow  # the examples' classifier (trained once, cached)
def test_priming_a_batch_scores_the_sentences_once_and_changes_nothing() -> None:
    from qa_pipeline.rules import operators
    from qa_pipeline.rules.engine import prime

    rules = rules_of("id: offer\nconditions:\n  a:\n" + textwrap.indent(OFFER.strip() + "\nrole: agent", "    "))
    calls = [
        call([*NORMAL, ("agent", 32.0, 36.0, "正好我们这个月有个优惠活动，充一百送五十，您考虑一下吗")]),
        call([*NORMAL, ("agent", 32.0, 36.0, "您的宽带订单号是三八六号")]),
    ]
    md = CallMetadata("c")
    operators._model_scores.clear()
    alone = [run_rules(rules, tl, tr, md) for tl, tr in calls]
    operators._model_scores.clear()
    prime(rules, [operators.CallView(tl, tr, md) for tl, tr in calls])
    agent_sentences = {u.text for _, tr in calls for u in tr.utterances if u.speaker == "agent"}
    assert {t for _, t in operators._model_scores} == agent_sentences  # every agent sentence, in one batch
    assert [run_rules(rules, tl, tr, md) for tl, tr in calls] == alone
    assert alone[0][0][0].status == "fail" and alone[1][0][0].status == "pass"

    # anchored: only the agent sentences near a hit of the anchor are scored ahead
    anchored = rules_of(
        "id: offer_after_complaint\nconditions:\n  t:\n    keyword: {words: [投诉]}\n    role: customer\n  a:\n"
        + textwrap.indent(OFFER.strip() + "\nrole: agent\nanchor: {after: t, within_sentences: 1}", "    ")
        + "\nexpression: t && a\n"
    )
    complaint = [
        *NORMAL[:3],
        ("customer", 11.0, 13.0, "我要投诉你们"),
        ("agent", 14.0, 18.0, "正好我们这个月有个优惠活动，充一百送五十，您考虑一下吗"),
        ("agent", 19.0, 21.0, "您的宽带订单号是三八六号"),
    ]
    tl, tr = call(complaint)
    operators._model_scores.clear()
    alone = run_rules(anchored, tl, tr, md)
    operators._model_scores.clear()
    prime(anchored, [operators.CallView(tl, tr, md)])
    assert {t for _, t in operators._model_scores} == {complaint[4][3]}  # the one sentence right after 投诉
    assert run_rules(anchored, tl, tr, md) == alone and alone[0][0].status == "fail"


@pytest.mark.slow
def test_similar_through_the_paraphrase_classifier() -> None:
    """`similar: {category: …}` asks the phrasing classifier (trained at first use, cached)."""
    other = [("agent", 0.0, 2.0, "您看还有别的需要我帮忙处理的不"), ("agent", 2.5, 4.0, "我帮您查一下话费")]
    hits = one("similar: {category: closing_ask}\nrole: agent", other)
    assert [h.start for h in hits] == [0.0]
    assert one("similar: {category: closing_ask}\nrole: agent", other[1:]) == []


def test_role_and_position_scopes() -> None:
    assert one("keyword: {words: [话费]}\nrole: customer")[0].speaker == "customer"
    assert len(one("keyword: {words: [话费]}\nrole: agent")) == 1
    assert one("keyword: {words: [您好]}\nrole: agent\nposition: {first: 1}")
    assert one("keyword: {words: [再见]}\nrole: agent\nposition: {first: 2}") == []
    assert one("keyword: {words: [再见]}\nrole: agent\nposition: {last: 1}")
    assert one("keyword: {words: [您好]}\nposition: {from_s: 0, to_s: 5}")
    assert one("keyword: {words: [再见]}\nposition: {from_s: 0, to_s: 5}") == []
    assert one("keyword: {words: [再见]}\nposition: {from_pct: 80, to_pct: 100}")
    assert one("keyword: {words: [您好]}\nposition: {from_pct: 80}") == []


# ----------------------------------------------------------------------------------------- timeline operators


def test_silence_between_roles_and_after() -> None:
    assert len(one("silence: {min_s: 10}")) == 1  # the 12 s hold after the agent's 请您稍等
    assert one("silence: {min_s: 10, between: different}") == []  # agent → agent
    assert one("silence: {min_s: 10, between: same, after: agent}")
    assert one("silence: {min_s: 10, after: customer}") == []
    assert one("silence: {min_s: 20}") == []
    assert one("silence: {max_s: 0.6}")  # the short turn gaps


def test_interruption_overlap_chars_delay_who() -> None:
    turns = [
        ("customer", 0.0, 6.0, "我跟你说我这个月的话费根本不对"),
        ("agent", 3.0, 7.0, "您先别着急听我说完好吗"),
        ("customer", 8.0, 9.0, "嗯"),
        ("agent", 8.5, 9.5, "好的"),
    ]
    hits = one("interruption: {by: agent, min_overlap_ms: 1000}", turns)
    assert len(hits) == 1 and hits[0].start == 3.0 and hits[0].detail["overlap_ms"] == 3000
    assert one("interruption: {by: customer}", turns) == []
    assert one("interruption: {by: agent, min_overlap_ms: 4000}", turns) == []
    assert len(one("interruption: {by: agent, min_chars: 5}", turns)) == 1  # 好的 (2 chars) is not enough
    assert len(one("interruption: {by: agent, delay_ms: 1000}", turns)) == 1  # 好的 starts 0.5 s in


def test_speech_rate_per_sentence_and_call() -> None:
    fast = [("agent", 0.0, 2.0, "您好您的话费余额是八十六元请您及时充值谢谢")]  # 21 chars in 2 s = 630/min
    assert one("speech_rate: {min_cpm: 500}\nrole: agent", fast)
    assert one("speech_rate: {min_cpm: 500}\nrole: agent") == []
    assert one("speech_rate: {per: call, min_cpm: 500}\nrole: agent", fast)
    assert one("speech_rate: {per: call, max_cpm: 100}\nrole: agent", fast) == []


def test_first_response_and_hang_up() -> None:
    late = [("customer", 0.5, 2.0, "喂？"), ("agent", 6.0, 8.0, "您好，很高兴为您服务。")]
    assert one("first_response: {over_s: 3}", late)[0].detail["first_response_s"] == 6.0
    assert one("first_response: {over_s: 3}") == []
    hung = [*NORMAL[:5]]
    assert one("hang_up: {over_s: 5, last_speaker: customer}", hung, duration=40.0)
    assert one("hang_up: {over_s: 5, last_speaker: agent}", hung, duration=40.0) == []
    assert one("hang_up: {over_s: 5}", NORMAL) == []


def test_volume_band_jump_span() -> None:
    loud = {0: -20.0, 2: -45.0, 3: -21.0, 5: -20.0}
    assert len(one("volume: {max_dbfs: -40}\nrole: agent", loud=loud)) == 1
    assert one("volume: {max_dbfs: -40}\nrole: agent") == []
    assert len(one("volume: {min_jump_db: 12}\nrole: agent", loud=loud)) == 2  # down and back up
    assert one("volume: {min_jump_db: 12}\nrole: agent") == []
    assert one("volume: {min_span_db: 20}\nrole: agent", loud=loud)
    assert one("volume: {min_span_db: 20}\nrole: agent") == []


def test_duration_sentence_count_repeat() -> None:
    assert one("duration: {min_s: 30}")
    assert one("duration: {min_s: 60}") == []
    assert one("sentence_count: {min: 4}\nrole: agent")
    assert one("sentence_count: {min: 3}\nrole: customer") == []
    rep = [
        ("agent", 0.0, 2.0, "请问您的手机号码是多少？"),
        ("customer", 2.5, 3.0, "啊？"),
        ("agent", 3.5, 5.0, "请问您的手机号码是多少"),
    ]
    assert one("repeat: {within: 2, min_similarity: 0.9}\nrole: agent", rep)[0].start == 3.5
    assert one("repeat: {within: 2, min_similarity: 0.9}\nrole: agent") == []


# ------------------------------------------------------------------------------------ logic, anchors, kinds


def test_expression_parser() -> None:
    e = ex.parse("(a || b) && !c")
    assert ex.evaluate(e, {"a": False, "b": True, "c": False})
    assert not ex.evaluate(e, {"a": True, "b": False, "c": True})
    assert ex.evaluate(ex.parse("a and not b or c"), {"a": False, "b": False, "c": True})
    assert ex.positive_names(ex.parse("a && !(b || !c)")) == ["a", "c"]
    for bad in ("a &&", "(a || b", "a b", "a & b", ""):
        with pytest.raises(ex.ExprError):
            ex.parse(bad)


RULE_AB = """
id: r
conditions:
  a: {keyword: {words: [话费]}, role: customer}
  b: {keyword: {words: [宽带]}}
  c: {keyword: {words: [稍等]}, role: agent}
expression: "{expr}"
"""


@pytest.mark.parametrize(
    ("expr", "fires"),
    [("a && !b", True), ("a && b", False), ("(a || b) && c", True), ("(b || !a) && c", False), ("!b", True)],
)
def test_boolean_logic(expr: str, fires: bool) -> None:
    assert bool(fired(RULE_AB.replace("{expr}", expr), NORMAL)[0]) is fires


def test_anchor_before_after_around_sentences_and_seconds() -> None:
    base = """
    id: r
    conditions:
      hold: {keyword: {words: [稍等]}, role: agent}
      thanks: {keyword: {words: [耐心等待]}, role: agent, anchor: {ANCHOR}}
    expression: thanks
    """
    assert fired(base.replace("{ANCHOR}", "{after: hold, within_sentences: 1}"), NORMAL)[0]
    assert fired(base.replace("{ANCHOR}", "{before: hold, within_sentences: 3}"), NORMAL)[0] == []
    assert fired(base.replace("{ANCHOR}", "{around: hold, within_sentences: 1}"), NORMAL)[0]
    assert fired(base.replace("{ANCHOR}", "{after: hold, within_s: 15}"), NORMAL)[0]
    assert fired(base.replace("{ANCHOR}", "{after: hold, within_s: 5}"), NORMAL)[0] == []


def test_requirement_and_tag_rules() -> None:
    req = "id: must_close\nrequire: true\nconditions:\n  bye: {keyword: {words: [再见]}, role: agent}\n"
    assert fired(req, NORMAL)[0] == []
    miss = fired(req, NORMAL[:5])[0]
    assert len(miss) == 1 and miss[0].detail["reason"]
    tag = "id: t\ntag: 话费查询\ntopic: true\nconditions:\n  a: {keyword: {words: [话费]}, role: customer}\n"
    f, tags = fired(tag, NORMAL)
    assert f == [] and [t.tag for t in tags] == ["话费查询"] and tags[0].topic and tags[0].speaker == "customer"
    assert fired(tag.replace("话费]", "宽带]"), NORMAL)[1] == []


def test_two_instances_of_one_operator_with_different_params() -> None:
    rules = """
    rules:
      - id: agent_forbidden
        conditions: {a: {keyword: {words: [我不知道]}, role: agent}}
      - id: customer_escalation
        tag: 升级风险
        conditions: {a: {keyword: {words: [投诉, 工信部, "12300"]}, role: customer}}
    """
    turns = [("customer", 0.0, 2.0, "再这样我就打12300投诉你们"), ("agent", 2.5, 4.0, "这个我不知道")]
    f, tags = fired(rules, turns)
    assert [x.check for x in f] == ["agent_forbidden"] and [t.tag for t in tags] == ["升级风险"]


def test_role_rules_on_unattributed_calls_need_review() -> None:
    tl, tr = call([("unknown", 0.0, 2.0, "我不知道")])
    findings, _ = run_rules(
        rules_of("id: r\nconditions: {a: {keyword: {words: [我不知道]}, role: agent}}"), tl, tr, CallMetadata("c")
    )
    assert findings[0].status == "needs_review"


# ------------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("id: r\nconditions:\n  a:\n    keywrd: {words: [x]}\n", 4, "unknown operator 'keywrd'"),
        ("id: r\nconditions:\n  a:\n    silence: {min_s: 3, maxs: 4}\n", 4, "unknown parameter of silence 'maxs'"),
        ("id: r\nconditions:\n  a: {regex: x}\nexpression: a && b\n", 4, "unknown condition 'b'"),
        ("id: r\nconditions:\n  a: {regex: x}\nexpression: a &&\n", 4, "column"),
        ("id: r\nconditions:\n  a:\n    regex: x\n    anchor: {after: z, within_s: 3}\n", 5, "unknown condition 'z'"),
        ("id: r\nconditions:\n  a:\n    keyword: {lexicon: nope}\n", 4, "unknown lexicon 'nope'"),
        ("id: r\nconditions:\n  a:\n    regex: '('\n", 4, "invalid parameters for regex"),
        ("id: r\nconditions:\n  a:\n    regex: x\n    role: boss\n", 5, "role"),
        ("id: r\nconditions:\n  a:\n    similar: {category: goodbye}\n", 4, "unknown phrase category"),
    ],
)
def test_validation_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(RuleError) as e:
        rules_of(text)
    assert f"t.yaml:line {line}:" in str(e.value) and words in str(e.value)


def test_rubric_references_resolve_next_to_the_rubric(tmp_path: Path) -> None:
    (tmp_path / "lexicons").mkdir()
    (tmp_path / "lexicons" / "my_words.yaml").write_text(
        "name: my_words\nentries:\n  - {phrase: 没办法, category: refusal, source: centre}\n", encoding="utf-8"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "refusal.yaml").write_text(
        "id: refusal\nconditions:\n  a: {keyword: {lexicon: my_words}, role: agent}\n", encoding="utf-8"
    )
    rub = tmp_path / "my.yaml"
    rub.write_text(
        textwrap.dedent(
            """\
            id: mine
            title: mine
            version: "1"
            extends: 10086
            checks:
              forbidden_phrase: {lexicon: my_words}
            rules: [refusal]
            items:
              - id: R1
                title: 拒绝
                points: 3
                checks:
                  - {rule: refusal, deduct: 1, once: true}
            """
        ),
        encoding="utf-8",
    )
    r = load_rubric(rub)
    assert [x.id for x in r.rules] == ["refusal"] and len(r.items) > 30
    turns = [*NORMAL[:2], ("agent", 7.5, 10.0, "这个没办法，系统就是这样。"), ("agent", 11.0, 12.0, "没办法。")]
    tl, tr = call(turns)
    j = judge(JudgeInputs(tl, tr, CallMetadata("c")), r)
    assert [f.status for f in j.findings if f.check == "refusal"] == ["fail", "fail"]
    item = next(i for i in j.score.items if i.id == "R1")
    assert item.deduction == 1.0  # once: true
    assert any(
        f.check == "forbidden_phrase" and f.status == "fail" for f in j.findings
    )  # the lexicon reached the check

    bad = rub.read_text(encoding="utf-8").replace("{rule: refusal", "{rule: refusl")
    rub.write_text(bad, encoding="utf-8")
    with pytest.raises(RubricError, match=r"line 13: .*unknown rule 'refusl'"):
        load_rubric(rub)
    rub.write_text(bad.replace("refusl", "refusal").replace("lexicon: my_words", "lexicon: my_wrds"), encoding="utf-8")
    with pytest.raises(RubricError, match=r"line 6: .*unknown lexicon 'my_wrds'"):
        load_rubric(rub)


def test_example_rubric_is_valid_and_its_rules_fire_on_constructed_calls() -> None:
    r = load_rubric(EXAMPLES / "my_rubric.yaml")
    ids = {x.id for x in r.rules}
    assert {"marketing_script", "customer_escalation", "late_answer", "abnormal_hang_up"} <= ids

    def result(turns, **kw):  # type: ignore[no-untyped-def]
        tl, tr = call(turns, **kw)
        j = judge(JudgeInputs(tl, tr, CallMetadata("c")), r)
        return {f.check: f.status for f in j.findings if f.check in ids}, {t.tag for t in j.tags}

    ok, tags = result(NORMAL)
    assert ok["marketing_script"] == ok["late_answer"] == ok["abnormal_hang_up"] == "pass" and "话费查询" in tags
    offer = [*NORMAL[:4], ("agent", 26.5, 29.0, "为您推荐一个新套餐，每月三十元。"), NORMAL[5]]
    assert result(offer)[0]["marketing_script"] == "fail"  # no start date
    offer_ok = [*offer[:4], ("agent", 26.5, 29.0, "为您推荐一个新套餐，每月三十元，下个月生效。"), NORMAL[5]]
    assert result(offer_ok)[0]["marketing_script"] == "pass"
    angry = [NORMAL[0], ("customer", 3.5, 7.0, "你们乱扣费，我要去工信部投诉你们！"), *NORMAL[2:]]
    assert "升级风险" in result(angry)[1] and "升级风险" not in tags
    late = [("customer", 0.5, 1.0, "喂"), ("agent", 5.0, 7.0, "您好，请问有什么可以帮您？"), *NORMAL[1:]]
    assert result(late)[0]["late_answer"] == "fail"
    hung = [*NORMAL[:5]]
    assert result(hung, duration=45.0)[0]["abnormal_hang_up"] == "fail"


def test_rule_file_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("id: r\nconditions:\n  a:\n    silence: {min_s: -1}\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"x.yaml:line 4"):
        load_rule_file(p)
    assert isinstance(read_source("a: 1", "s"), Source)
