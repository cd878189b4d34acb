"""Text role model (roles.RoleModel): agent vs customer talk it never saw, and what it may learn from."""

from __future__ import annotations

import numpy as np

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
