"""Text role model (roles.RoleModel): agent vs customer talk it never saw, and what it may learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import spy_file_reads

from qa_pipeline.roles import AGENT_PHRASE_CATEGORIES, ROLE_TRAIN_SPECS, role_model, role_training_text
from qa_pipeline.synth import builtin_specs
from qa_pipeline.synth.spec import TurnSpec, load_spec

# Written for this test, in no training source (checked below): ordinary agent and customer lines of a
# hotline call, none with the cue words roles.TextCues counts (你们, 我想, 我要, 投诉, 为您/帮您…).
AGENT_LINES = [
    "您反映的信号问题已经登记好了，明天会有工程师跟您联系。",
    "您本月已经使用了四个G的流量，套餐外按每兆三分钱计费。",
    "这个活动办理后次月一号生效，合约期是十二个月。",
    "麻烦您核对一下机主的姓名和证件号码。",
]
CUSTOMER_LINES = [
    "我上礼拜刚交的一百块，怎么又提示欠费了？",
    "小区里打电话老是断断续续的，根本听不清。",
    "那个会员到底是啥时候开上的，我一点都不知道啊。",
    "那就先不换了，我回去跟家里人商量商量。",
]


def test_training_text_has_both_roles_and_none_of_the_test_lines() -> None:
    texts, labels = role_training_text()
    assert len(texts) == len(labels) and {"agent", "customer"} == set(labels)
    assert labels.count("customer") >= 500 and labels.count("agent") >= 500
    seen = set(texts)
    assert not seen & set(AGENT_LINES + CUSTOMER_LINES)
    assert len(AGENT_PHRASE_CATEGORIES) >= 5


def test_training_never_reads_the_held_out_scripts() -> None:
    """The turns of the scripts outside ROLE_TRAIN_SPECS (the held-out similar-voice calls) are not learnt
    (a line that another source happens to contain word for word, e.g. 好的, is no leak)."""
    texts, _ = role_training_text()
    seen = set(texts)
    tuning = {
        item.text
        for p in builtin_specs()
        if p.name[:2] in ROLE_TRAIN_SPECS
        for item in load_spec(p).items
        if isinstance(item, TurnSpec)
    }
    held_out = [
        item.text
        for p in builtin_specs()
        if p.name[:2] not in ROLE_TRAIN_SPECS
        for item in load_spec(p).items
        if isinstance(item, TurnSpec) and len(item.text) >= 8 and item.text not in tuning
    ]
    assert len(held_out) >= 20
    leaked = [t for t in held_out if t in seen]
    assert not leaked, leaked


def test_unseen_lines_lean_to_their_side() -> None:
    """A classifier, not a rule: most unseen lines on each side lean the right way, and each side's mean does
    (measured: agent 4/4, +0.13…+1.40, mean +0.67; customer 3/4, mean −1.21 — 我上礼拜刚交的一百块，怎么又提示
    欠费了？ comes out +0.13). Weak single-line evidence: the decoder adds turn-taking and the voices."""
    m = role_model()
    agent, customer = m.logit(AGENT_LINES), m.logit(CUSTOMER_LINES)
    assert (agent > 0).sum() >= 3 and (customer < 0).sum() >= 3, (agent, customer)
    assert agent.mean() > 0.3 and customer.mean() < -0.3, (agent, customer)


def test_empty_text_is_no_evidence_and_model_is_deterministic() -> None:
    m = role_model()
    out = m.logit(["", "   ", "请您稍等"])
    assert out[0] == 0 and out[1] == 0 and out[2] > 1
    from qa_pipeline.roles import train_role_model

    again = train_role_model().logit(AGENT_LINES + CUSTOMER_LINES)
    assert np.allclose(again, m.logit(AGENT_LINES + CUSTOMER_LINES))


def test_training_never_reads_the_tuning_dialogues(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The decoder's weights and risk bound are chosen on benchmarks/data/role_tuning_dialogues*.yaml (every set:
    A, B, the blind set C and any later one): training opens nothing under benchmarks/, and no tuning turn of 10+
    characters is training text unless it is a standard script phrase the phrasing generator or a tuning script
    also has (您好，很高兴为您服务 …)."""
    import yaml

    from qa_pipeline.phrasing.generate import training_examples
    from qa_pipeline.roles import role_text

    data = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
    opened = spy_file_reads(monkeypatch)
    texts = role_training_text()[0]
    monkeypatch.undo()
    assert opened, "the spy saw no file at all"
    assert not [f for f in opened if Path(f).resolve().is_relative_to(data.parent)]

    standard = {role_text(ex.text) for ex in training_examples()}
    standard |= {
        role_text(item.text)
        for p in builtin_specs()
        if p.name[:2] in ROLE_TRAIN_SPECS
        for item in load_spec(p).items
        if isinstance(item, TurnSpec)
    }
    seen = {role_text(t) for t in texts} - standard
    sets = sorted(data.glob("role_tuning_dialogues*.yaml"))
    assert len(sets) >= 2, sets
    turns = [
        role_text(t[2:])
        for f in sets
        for d in yaml.safe_load(f.read_text(encoding="utf-8"))["dialogues"]
        for t in d["turns"]
    ]
    long_turns = [t for t in turns if len(t) >= 10]
    assert len(long_turns) >= 250
    leaked = [t for t in long_turns if t in seen]
    assert not leaked, leaked


def test_back_channels_and_punctuation_carry_no_role_evidence() -> None:
    """Words both parties say (role_phrases.yaml `shared`, weighted the same on both sides) stay near 0 (measured
    喂 −0.11, 好的 −0.19, 嗯嗯 +0.03, 再见 −0.20); punctuation is not read at all (sources punctuate differently)."""
    m = role_model()
    assert np.abs(m.logit(["喂", "好的", "嗯嗯", "再见"])).max() < 0.6
    a, b = m.logit(["您好。请问您是机主本人吗？", "您好请问您是机主本人吗"])
    assert a == b
