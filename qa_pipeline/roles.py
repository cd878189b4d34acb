"""Role assignment for a diarized mono call: which provisional speaker is the agent, which the customer.

Stage of `pipeline.score_call` for mono recordings (docs/diarization.md): after `diarize` has split the speech
into provisional speakers (spk0, spk1, …) and the ASR has transcribed each of them, `assign_roles` reads who
talks like an agent — who opens with the greeting/service phrasing and whose text matches the agent-side
lexicons (greeting, closing, polite, hold_notice) — and `apply_roles` relabels the timeline and transcript
agent/customer, or leaves them "unknown" when the evidence is weak, so that role-dependent checks say
`needs_review` (never a guess).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .atomic import write_bytes_atomic
from .diarize import Diarization, DiarizeOptions
from .synth import builtin_specs
from .types import Speaker, Timeline, Transcript, Utterance

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

AGENT_LEXICONS = ("greeting", "closing", "polite", "hold_notice")


@dataclass(frozen=True)
class RoleAssignment:
    roles: dict[str, str]
    """provisional label → "agent" | "customer" | "unknown"."""
    confidence: float
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""

    @property
    def confident(self) -> bool:
        return all(r != "unknown" for r in self.roles.values())


AGENT_CATEGORIES = {
    # lexicon → categories only an agent says (customers say 你好 / 谢谢 / 再见 too, so those do not count)
    "closing": {"anything_else"},
    "polite": {"please_wait", "please", "welcome", "sorry"},
    "hold_notice": None,  # every category
}
AGENT_CUES = ("为您", "帮您", "给您", "先生", "女士")
"""Agent-side wording outside the lexicons: serving the caller (为您/帮您/给您办理…), addressing them as 先生/女士."""
CUSTOMER_CUES = ("你们", "我想", "我要", "投诉", "我的号码", "我这个", "帮我", "我家")
"""Customer-side wording: the company addressed as 你们, requests in the first person, complaints, 我家 (their
home line / broadband)."""


def _lex_hits(text: str) -> dict[str, list[str]]:
    from .lexicon import load_lexicon

    hits: dict[str, list[str]] = {}
    for name in AGENT_LEXICONS:
        ms = load_lexicon(name).find(text)
        if ms:
            hits[name] = sorted({m.category for m in ms})
    return hits


@dataclass(frozen=True)
class TextCues:
    """Role cues in one piece of text (the one source of them: `assign_roles` per speaker,
    `turntaking.decode_turns` per speech unit)."""

    service_greeting: bool
    """很高兴为您服务 / 请问有什么可以帮您 / 工号…为您服务 / VIP greeting."""
    hello: bool
    """Any greeting (a bare 您好/你好 counts only for whoever speaks first)."""
    agent_phrase: bool
    """Agent-only phrasing: closing "anything else", polite 请您稍等/麻烦您/不客气/抱歉, hold notices."""
    nin: bool
    """The polite 您."""
    customer: bool
    """Customer wording: 你们, 我想, 我要, 投诉, 帮我 …"""

    def score(self, *, opening: bool, first: bool) -> float:
        """Agent evidence minus customer evidence: +3 service greeting in the opening, +1 (bare hello) for the
        first speaker, +1 agent phrasing, +0.5 您, −1 customer wording."""
        s = 0.0
        if opening and self.service_greeting:
            s += 3
        elif first and self.hello:
            s += 1
        return s + self.agent_phrase + 0.5 * self.nin - self.customer


def text_cues(text: str) -> TextCues:
    hits = _lex_hits(text)
    g = hits.get("greeting", [])
    agent = any(cats is None or set(hits.get(lex, ())) & cats for lex, cats in AGENT_CATEGORIES.items() if lex in hits)
    agent = agent or any(c in text for c in AGENT_CUES)
    return TextCues(
        service_greeting=any(c in ("service", "vip") for c in g),
        hello=bool(g),
        agent_phrase=agent,
        nin="您" in text,
        customer=any(c in text for c in CUSTOMER_CUES),
    )


# --------------------------------------------------------------------------------------------- text role model

ROLE_TRAIN_SPECS = ("01", "02", "03", "04", "05", "10", "11", "12", "14", "15", "16")
"""Synth scripts (qa_pipeline/synth/specs) whose agent / customer turns the role model learns from: the tuning
calls of docs/diarization.md. The other scripts (06, 07, 08, 09, 13, 17) are the held-out calls of the
similar-voice measurement: the model never reads them."""
AGENT_PHRASE_CATEGORIES = ("greeting", "closing_ask", "hold_notice", "hold_apology", "transfer", "confirm", "shirking")
"""Phrasing-generator categories (qa_pipeline/phrasing) whose positives the role model learns as agent speech.
Left out on purpose: wordings a customer says as often as an agent — thanks/goodbye, 我不知道, 我刚才说过了,
rhetorical questions, arguing, impatience, 啥？ — learnt as "agent" they would make an angry customer the agent."""
ROLE_MODEL_C = 1.0


class RoleModel:
    """Agent-vs-customer text classifier: logistic regression over character 1–3-grams.

    Learns from (1) the phrasing generator's agent phrases (`AGENT_PHRASE_CATEGORIES`), (2) `role_phrases.yaml`
    (agent talk besides the phrase categories, and customer talk) and (3) the turns of the tuning scripts
    (`ROLE_TRAIN_SPECS`); classes are balanced, so `logit` is the text's own evidence, prior-free. Never
    trained on the real 10086 transcripts (the test set of text-only roles) nor on the held-out phrase set."""

    def __init__(self, vectorizer: TfidfVectorizer, clf: LogisticRegression) -> None:
        self._vec = vectorizer
        self._clf = clf
        self._agent = list(clf.classes_).index("agent")

    def logit(self, texts: Sequence[str]) -> np.ndarray:
        """log P(agent) − log P(customer) per text (0 for an empty one)."""
        out = np.zeros(len(texts))
        clean = [role_text(t) for t in texts]
        idx = [i for i, t in enumerate(clean) if t]
        if idx:
            margin = self._clf.decision_function(self._vec.transform([clean[i] for i in idx]))
            out[idx] = margin if self._agent == 1 else -margin
        return out


_NOT_WORDS = re.compile(r"[\W_]+")


def role_text(text: str) -> str:
    """What the role model reads: the words only. Punctuation and spacing depend on the source (the scripts end
    turns with 。, the phrase templates rarely do, ASR engines differ), so learnt from them they would be a
    source artefact, not role evidence."""
    return _NOT_WORDS.sub("", text)


def role_training_text() -> tuple[list[str], list[str]]:
    """(texts, labels "agent"/"customer") the role model learns from, deterministic (fixed seeds)."""
    texts, labels, _ = role_training_set()
    return texts, labels


def role_training_set() -> tuple[list[str], list[str], list[float]]:
    """`role_training_text` with a weight per example: each role's own examples weigh as much in total as the
    other's (balanced classes, so the model's log-odds are prior-free), and every text both parties say
    (role_phrases.yaml `shared`) weighs the same on both sides, so it carries no role evidence."""
    import yaml

    from .phrasing.generate import expand, template_rng, training_examples
    from .synth.spec import TurnSpec, load_spec

    texts: list[str] = []
    labels: list[str] = []
    for ex in training_examples():
        if ex.label in AGENT_PHRASE_CATEGORIES:
            texts.append(ex.text)
            labels.append("agent")
    data = yaml.safe_load((resources.files("qa_pipeline") / "role_phrases.yaml").read_text(encoding="utf-8"))
    # one random stream per template, seeded by its text (phrasing.generate.template_rng): a new template changes
    # only its own expansions, not every later template's
    for role in ("agent", "customer"):
        for tpl in data[role]:
            for t in expand(tpl, template_rng(role, tpl), 40):
                texts.append(t)
                labels.append(role)
    shared: list[str] = []
    for tpl in data.get("shared", ()):
        shared += expand(tpl, template_rng("shared", tpl), 40)
    for path in builtin_specs():
        if path.name[:2] not in ROLE_TRAIN_SPECS:
            continue
        for item in load_spec(path).items:
            if isinstance(item, TurnSpec) and item.text.strip():
                texts.append(item.text)
                labels.append(item.speaker)
    n = {role: labels.count(role) for role in ("agent", "customer")}
    weights = [len(labels) / (2 * n[role]) for role in labels]
    texts += shared + shared
    labels += ["agent"] * len(shared) + ["customer"] * len(shared)
    weights += [1.0] * (2 * len(shared))
    return texts, labels, weights


ROLE_MODEL_VERSION = "2"


def _role_model_key() -> str:
    """Hash of everything the role model learns from (templates, lexicons, the training scripts, this code,
    library versions): editing any of them retrains."""
    import sklearn

    pkg = resources.files("qa_pipeline")
    h = hashlib.sha256(f"{ROLE_MODEL_VERSION}|{ROLE_MODEL_C}|{sklearn.__version__}|{np.__version__}".encode())
    h.update(repr((ROLE_TRAIN_SPECS, AGENT_PHRASE_CATEGORIES)).encode())
    files = [pkg / "role_phrases.yaml", pkg / "roles.py", *(pkg / "phrasing").iterdir(), *(pkg / "lexicons").iterdir()]
    files += [pkg / "synth" / "specs" / p.name for p in builtin_specs() if p.name[:2] in ROLE_TRAIN_SPECS]
    for f in sorted(files, key=lambda f: str(f)):
        if f.name.endswith((".yaml", ".py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:20]


def train_role_model() -> RoleModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels, weights = role_training_set()
    texts = [role_text(t) for t in texts]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    clf = LogisticRegression(C=ROLE_MODEL_C, max_iter=2000)
    clf.fit(vec.fit_transform(texts), labels, sample_weight=np.asarray(weights))
    return RoleModel(vec, clf)


@cache
def role_model() -> RoleModel:
    """The role model: trained at first use (≈ 1.6 s CPU, deterministic) and pickled in the user cache dir
    ($CALLQA_HOME or ~/.cache/callqa, `role_model/role_model-<content hash>.pkl`), so later processes load it
    in milliseconds — a mono call's diarization share must stay small even for a batch worker's first call."""
    home = Path(os.environ.get("CALLQA_HOME", Path.home() / ".cache" / "callqa"))
    path = home / "role_model" / f"role_model-{_role_model_key()}.pkl"
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)  # our own file, written below under the same content key
        if isinstance(model, RoleModel):
            return model
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        pass
    model = train_role_model()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, pickle.dumps(model))
    except OSError:
        pass  # a read-only home only costs the retraining next time
    return model


def assign_roles(
    utterances: Iterable[Utterance], diar: Diarization, options: DiarizeOptions | None = None
) -> RoleAssignment:
    """Agent/customer for each provisional label, from who opens with the greeting and who talks like an agent.

    Evidence per speaker (score = agent evidence − customer evidence):
    +3 when their first utterance (within `opening_s`) carries a greeting *service* phrase (很高兴为您服务,
    请问有什么可以帮您, 工号…为您服务; a bare 您好/你好 counts +1 only for whoever speaks first); +1 for the
    first speaker of the call (the agent answers); +1 per utterance with agent-only phrasing (closing
    "anything else", polite 请您稍等/麻烦您/不客气/抱歉, hold notices); +0.5 per utterance with 您;
    −1 per utterance with customer wording (你们, 我想, 我要, 投诉, …).
    The agent is the top speaker; confidence = (top − runner-up) / (|top| + |runner-up| + 2), and either the
    top score is positive or the runner-up's is negative (it talks like a customer). A third speaker is an
    agent too (second agent after a transfer) when both non-customer speakers have agent evidence of their own;
    otherwise confidence reflects the weaker one.
    """
    o = options or DiarizeOptions()
    labels = diar.labels
    utts = sorted((u for u in utterances if u.text.strip()), key=lambda u: u.start)
    ev: dict[str, dict[str, Any]] = {
        lab: {"score": 0.0, "opening": None, "agent_phrases": 0, "nin": 0, "customer_cues": 0, "utterances": 0}
        for lab in labels
    }
    first_seen: set[str] = set()
    for k, u in enumerate(u for u in utts if str(u.speaker) in ev):
        lab = str(u.speaker)
        e = ev[lab]
        e["utterances"] += 1
        cues = text_cues(u.text)
        if k == 0:
            e["score"] += 1
            e["opening"] = "first speaker"
        if lab not in first_seen and u.start <= o.opening_s:
            first_seen.add(lab)
            if cues.service_greeting:
                e["score"] += 3
                e["opening"] = "service greeting"
            elif cues.hello and k == 0:
                e["score"] += 1
                e["opening"] = "first speaker, hello"
        if cues.agent_phrase:
            e["agent_phrases"] += 1
            e["score"] += 1
        if cues.nin:
            e["nin"] += 1
            e["score"] += 0.5
        if cues.customer:
            e["customer_cues"] += 1
            e["score"] -= 1
    if len(labels) < 2:
        return RoleAssignment({lab: "unknown" for lab in labels}, 0.0, ev, "only one speaker found")

    def conf_of(a: float, b: float) -> float:
        # evidence either way counts: agent phrasing on one side, or customer wording (complaints,
        # "你们") on the other side of a call whose agent never uses a service phrase
        return (a - b) / (abs(a) + abs(b) + 2) if (a > 0 or b < 0) else 0.0

    ranked = sorted(labels, key=lambda lab: -ev[lab]["score"])
    if len(labels) == 3:
        customer = ranked[-1]
        low = min(ev[a]["score"] for a in ranked[:2])
        conf = conf_of(low, ev[customer]["score"])
        roles = {lab: ("customer" if lab == customer else "agent") for lab in labels}
        reason = "three speakers: two with agent phrasing (agent + transferred agent), one customer"
    else:
        conf = conf_of(ev[ranked[0]]["score"], ev[ranked[1]]["score"])
        roles = {lab: "customer" for lab in labels}
        roles[ranked[0]] = "agent"
        reason = "agent = speaker with the greeting / agent phrasing"
    conf = round(max(0.0, conf), 3)
    need = o.role_min_confidence
    if conf < need:
        return RoleAssignment(
            {lab: "unknown" for lab in labels},
            conf,
            ev,
            f"role evidence too weak (confidence {conf} < {need})",
        )
    return RoleAssignment(roles, conf, ev, reason)


def apply_roles(
    timeline: Timeline, diar: Diarization, transcript: Transcript, roles: RoleAssignment
) -> tuple[Timeline, Transcript]:
    """Relabel to agent/customer; when roles are not confident, return the VAD timeline and 'unknown' text."""
    from .timeline import timeline_from_segments

    if not roles.confident:
        utts = tuple(replace(u, speaker="unknown") for u in transcript.utterances)
        return timeline, replace(transcript, utterances=utts)
    segs = [replace(s, speaker=roles.roles[s.speaker]) for s in diar.segments]  # type: ignore[arg-type]
    new_tl = replace(timeline_from_segments(segs, timeline.duration, timeline.layout), vad=timeline.vad)
    utts = tuple(
        replace(u, speaker=cast(Speaker, roles.roles.get(u.speaker, "unknown"))) for u in transcript.utterances
    )
    return new_tl, replace(transcript, utterances=utts)
