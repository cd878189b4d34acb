"""Turn-taking decoder: who speaks each turn of a mono call whose two voices formed one cluster (similar voices).

Stage of `pipeline.transcribe_call` for mono recordings, after the ASR (docs/diarization.md, "Similar voices").
When agent and customer have nearly the same voice (same sex and age on a narrowband line), the voice
embeddings alone do not separate them (`diarize` returns one cluster). A call still has two parties who take
turns, and what each turn says shows who is speaking, so every VAD speech unit is labelled agent/customer
by a two-state hidden Markov model:

* transitions: the next unit is the other party with `turn_switch_prob` (turn-taking), 0.9 when the units
  overlap, 0.5 after a long pause (a hold: either may speak next); the agent speaks first with
  `turn_agent_first_prob` (the agent answers the call);
* emissions: the unit's text role score (`roles.TextCues.score`: service greeting, agent phrasing, 您 vs
  你们 / 我想 / 投诉 …) as log-odds, plus `turn_model_weight` × the text role model's log-odds
  (`roles.role_model`: character n-grams, agent vs customer talk — it reads the turns that carry no cue
  word, which is most of what real customers say), plus a voice term — the unit's embedding projected on the
  difference of the two parties' centroids, fitted from the current posteriors leaving the unit itself out, as a
  Gaussian log-likelihood ratio (≈ 0 when the voices do not differ);
* decoding: forward-backward → refit the voice term → … (`turn_iterations` rounds), then Viterbi.

The call gets two speakers when the audio split already looked like two parties (`FORCED_SPLIT_METHOD`) or the
text shows both roles (a unit with agent evidence and another with customer wording, or an agent cue word plus
units the role model reads as strongly customer-like — never the role model alone, which reads every text as
leaning one way); otherwise it stays one
speaker (IVR prompt, voicemail, one party only) and its roles stay unknown. Roles are kept only when the
decoder is sure (speech-weighted mean posterior ≥ `turn_min_confidence`) and the agent side has agent
evidence (or the customer side customer wording); else every speaker is "unknown" → needs_review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from .diarize import FORCED_SPLIT_METHOD, ONE_CLUSTER_METHOD, Diarization, DiarizeOptions
from .roles import RoleAssignment, assign_roles, role_model, text_cues
from .types import Speaker, SpeechSegment, Utterance, Word

__all__ = ["TURN_DECODE_METHOD", "TurnDecode", "decode_turns", "resolve_speakers", "wrong_side_risk"]

TURN_DECODE_METHOD = "resemblyzer+agglomerative+turn-taking"
"""A one-cluster call whose units the turn-taking decoder labelled (two speakers)."""

LONG_PAUSE_S = 1.5
OVERLAP_SWITCH = 0.9
LONG_PAUSE_SWITCH = 0.5
TEXT_LLR_CLIP = 4.0
AUDIO_LLR_CLIP = 3.0


@dataclass(frozen=True)
class TurnDecode:
    diarization: Diarization
    utterances: tuple[Utterance, ...]
    roles: RoleAssignment
    agent_posterior: np.ndarray = field(compare=False, repr=False)
    """P(agent) per unit (diarization.units order)."""


def resolve_speakers(
    diar: Diarization, utterances: Sequence[Utterance], options: DiarizeOptions
) -> tuple[Diarization, tuple[Utterance, ...], RoleAssignment]:
    """Roles for a diarized mono call: the turn-taking decoder for one-cluster calls, else `assign_roles`."""
    if diar.method in (FORCED_SPLIT_METHOD, ONE_CLUSTER_METHOD) and diar.units:
        dec = decode_turns(diar, utterances, options)
        return dec.diarization, dec.utterances, dec.roles
    return diar, tuple(utterances), assign_roles(utterances, diar, options)


# --------------------------------------------------------------------------------------------- text per unit


def _unit_of(units: Sequence[SpeechSegment], start: float, end: float) -> int:
    """The unit a span overlaps most (nearest by midpoint when it overlaps none)."""
    best, best_ov = -1, 0.0
    for i, s in enumerate(units):
        ov = min(end, s.end) - max(start, s.start)
        if ov > best_ov:
            best, best_ov = i, ov
    if best >= 0:
        return best
    mid = (start + end) / 2
    return min(range(len(units)), key=lambda i: abs((units[i].start + units[i].end) / 2 - mid))


def _text_by_time(u: Utterance, units: Sequence[SpeechSegment], shared: set[int]) -> list[tuple[int, str]]:
    """The text an utterance without word times lends each unit its span touches: (unit, text).

    A unit lying mostly (≥ half its length) inside this line and no other is this line's speaker talking: it
    gets the whole text, so a line that VAD cut at its pauses lends every piece all its cue words (cut into
    fragments, the pieces lost them: similar-voice calls 07/09 went from 3–5 % to 16–23 % DER in session 7).
    A unit the line only runs into, or one two lines both fill (`shared`: one stretch of mono speech holding
    the customer's last words and the agent interrupting), gets just the characters that fall in it, at an
    even rate over the line's SPEECH (the parts the units cover, never a pause): given the whole complaint,
    an interruption's unit read as the customer's."""
    spans = [(i, max(u.start, s.start), min(u.end, s.end)) for i, s in enumerate(units)]
    spans = [(i, a, b) for i, a, b in spans if b > a]
    n = len(u.text)
    if n < 2 or len(spans) < 2:
        return [(_unit_of(units, u.start, u.end), u.text)]
    total = sum(b - a for _, a, b in spans)
    share: dict[int, str] = {}
    done = 0.0  # speech time of the spans before the current one
    j = 0
    for k, ch in enumerate(u.text):
        pos = (k + 0.5) / n * total  # the character's middle, in speech time
        while j < len(spans) - 1 and pos > done + (spans[j][2] - spans[j][1]):
            done += spans[j][2] - spans[j][1]
            j += 1
        share[spans[j][0]] = share.get(spans[j][0], "") + ch
    return [(i, u.text if _fills(a, b, units[i]) and i not in shared else share[i]) for i, a, b in spans if i in share]


def _fills(start: float, end: float, unit: SpeechSegment) -> bool:
    return end - start >= 0.5 * unit.duration


def _shared_units(utts: Sequence[Utterance], units: Sequence[SpeechSegment]) -> set[int]:
    """Units that two or more lines each fill at least half of (overlapping talk in one stretch of speech)."""
    count = [0] * len(units)
    for u in utts:
        for i, s in enumerate(units):
            if _fills(max(u.start, s.start), min(u.end, s.end), s):
                count[i] += 1
    return {i for i, c in enumerate(count) if c >= 2}


def _pieces(u: Utterance, units: Sequence[SpeechSegment]) -> list[tuple[int, list[Word] | None, str]]:
    """An utterance cut at unit boundaries: (unit, words, text); one piece when it has no word times."""
    if not u.words:
        return [(_unit_of(units, u.start, u.end), None, u.text)]
    out: list[tuple[int, list[Word] | None, str]] = []
    for w in u.words:
        i = _unit_of(units, w.start, w.end)
        if out and out[-1][0] == i:
            cast(list[Word], out[-1][1]).append(w)
        else:
            out.append((i, [w], ""))
    return [(i, ws, "".join(w.text for w in ws or ()).strip()) for i, ws, _ in out]


# --------------------------------------------------------------------------------------------- HMM


def _forward_backward(log_e: np.ndarray, log_t: np.ndarray, log_init: np.ndarray) -> np.ndarray:
    """Posteriors (n, 2) of a 2-state HMM; log_t (n-1, 2, 2) per boundary."""
    n = len(log_e)
    a = np.zeros((n, 2))
    b = np.zeros((n, 2))
    a[0] = log_init + log_e[0]
    for i in range(1, n):
        a[i] = np.logaddexp.reduce(a[i - 1][:, None] + log_t[i - 1], axis=0) + log_e[i]
    for i in range(n - 2, -1, -1):
        b[i] = np.logaddexp.reduce(log_t[i] + (log_e[i + 1] + b[i + 1])[None, :], axis=1)
    g = a + b
    g -= np.logaddexp.reduce(g, axis=1, keepdims=True)
    return np.exp(g)


def _viterbi(log_e: np.ndarray, log_t: np.ndarray, log_init: np.ndarray) -> np.ndarray:
    n = len(log_e)
    d = log_init + log_e[0]
    back = np.zeros((n, 2), int)
    for i in range(1, n):
        m = d[:, None] + log_t[i - 1]
        back[i] = np.argmax(m, axis=0)
        d = m[back[i], [0, 1]] + log_e[i]
    path = np.zeros(n, int)
    path[-1] = int(np.argmax(d))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _transitions(units: Sequence[SpeechSegment], o: DiarizeOptions) -> np.ndarray:
    out = np.zeros((max(0, len(units) - 1), 2, 2))
    for i, (s, t) in enumerate(zip(units, units[1:], strict=False)):
        gap = t.start - s.end
        p = OVERLAP_SWITCH if gap < 0 else LONG_PAUSE_SWITCH if gap > LONG_PAUSE_S else o.turn_switch_prob
        out[i] = np.log([[1 - p, p], [p, 1 - p]])
    return out


def _voice_llr(emb: np.ndarray, has: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, float]:
    """log P(voice | agent) − log P(voice | customer) per unit, and the voices' separation d′.

    Each unit's embedding is projected on the difference of the two parties' centroids (posterior-weighted,
    the unit itself left out, so it cannot vote for its own label); the projections of each party are
    modelled as Gaussians with a shared variance, so indistinguishable voices give a ratio near 0."""
    llr = np.zeros(len(q))
    idx = np.where(has)[0]
    if len(idx) < 4:
        return llr, 0.0
    e, w = emb[idx].astype(np.float64), q[idx]
    v = 1 - w
    sa, sc = (w[:, None] * e).sum(0), (v[:, None] * e).sum(0)
    wa, wc = w.sum(), v.sum()
    if wa < 1.0 or wc < 1.0:
        return llr, 0.0
    ca = (sa[None, :] - w[:, None] * e) / np.maximum(wa - w, 1e-6)[:, None]
    cc = (sc[None, :] - v[:, None] * e) / np.maximum(wc - v, 1e-6)[:, None]
    z = np.einsum("ij,ij->i", e - (ca + cc) / 2, ca - cc)
    mu_a, mu_c = float((w * z).sum() / wa), float((v * z).sum() / wc)
    var = float((w * (z - mu_a) ** 2).sum() + (v * (z - mu_c) ** 2).sum()) / (wa + wc) + 1e-12
    # (Shrinking mu_a - mu_c by its standard error, against fitting noise, removed the term on every
    # similar-voice call measured: the clip and the text weight bound its influence instead.)
    llr[idx] = np.clip((mu_a - mu_c) / var * (z - (mu_a + mu_c) / 2), -AUDIO_LLR_CLIP, AUDIO_LLR_CLIP)
    return llr, (mu_a - mu_c) / np.sqrt(var)


def wrong_side_risk(p_other: np.ndarray, turns: np.ndarray | None = None, share: float = 1 / 3) -> float:
    """P(at least `share` of a side's units belong to the other party), from the units' probabilities `p_other`
    of being the other party (1 − the posterior of the side's label).

    `turns` (a turn id per unit): the decoder errs by whole turns (a customer turn whose words read agent-like is
    mislabelled as a whole), so each decoded turn (a run of consecutive units with one label) is the other
    party's all together with probability q = its least doubtful unit's p (the largest such common part the
    units' own probabilities allow), and otherwise its units err independently with what is left of their p
    ((p − q) / (1 − q): every unit keeps its marginal p). Without `turns`, every unit errs independently (the
    Poisson-binomial tail) — which understates the risk: independent errors average out, so a long call looked
    safe at any mean posterior, while the errors of a text-only decode come in whole turns. With calibrated
    unit posteriors this is the chance that the side is wrong by the benchmark's rule (the agent side holding
    ≥ 1/3 customer units); unlike a mean confidence it weighs how the doubt is spread (a 0.9 mean can hide a
    doubtful turn on a short side)."""
    n = len(p_other)
    if n == 0:
        return 1.0
    p_other = np.clip(np.asarray(p_other, dtype=np.float64), 0.0, 1.0)
    ids = np.arange(n) if turns is None else np.asarray(turns)
    dist = np.zeros(n + 1)
    dist[0] = 1.0
    for t in dict.fromkeys(ids.tolist()):
        p = p_other[ids == t]
        q = float(p.min())
        part = np.zeros(n + 1)  # the turn's count of wrong units when it is not wrong as a whole
        part[0] = 1.0
        for r in (p - q) / (1 - q) if q < 1 else np.zeros_like(p):
            part[1:] = part[1:] * (1 - r) + part[:-1] * r
            part[0] *= 1 - r
        k = len(p)
        whole = np.zeros(n + 1)
        whole[k:] = dist[: n + 1 - k]
        dist = q * whole + (1 - q) * np.convolve(dist, part)[: n + 1]
    return float(min(1.0, dist[int(np.ceil(n * share - 1e-9)) :].sum()))


# --------------------------------------------------------------------------------------------- decode


def decode_turns(diar: Diarization, utterances: Sequence[Utterance], options: DiarizeOptions) -> TurnDecode:
    """Label each speech unit of a one-cluster call agent/customer (see the module docstring)."""
    o = options
    units = list(diar.units)
    n = len(units)
    utts = sorted((u for u in utterances if u.text.strip()), key=lambda u: u.start)
    texts = [""] * n
    shared = _shared_units([u for u in utts if not u.words], units)
    for u in utts:
        if u.words:
            for i, _, text in _pieces(u, units):
                texts[i] += text
        else:  # no word times (a vendor transcript): whole text or its share by time, see _text_by_time
            for i, text in _text_by_time(u, units, shared):
                texts[i] += text
    score = np.zeros(n)
    first = next((i for i in range(n) if texts[i].strip()), -1)
    cues = [text_cues(t) if t.strip() else None for t in texts]
    for i, c in enumerate(cues):
        if c is not None:
            score[i] = c.score(opening=units[i].start <= o.opening_s, first=i == first)
    model = role_model().logit(texts) if o.turn_model_weight else np.zeros(n)
    text_ev = o.turn_text_weight * score + o.turn_model_weight * model
    text_llr = np.clip(text_ev, -TEXT_LLR_CLIP, TEXT_LLR_CLIP)

    emb = diar.unit_embeddings if diar.unit_embeddings is not None else np.zeros((n, 1), np.float32)
    has = np.linalg.norm(emb, axis=1) > 0
    log_t = _transitions(units, o)
    log_init = np.log([o.turn_agent_first_prob, 1 - o.turn_agent_first_prob])
    voice = np.zeros(n)
    separation = 0.0
    post = np.full(n, 0.5)
    for _ in range(max(1, o.turn_iterations)):
        llr = text_llr + voice  # state 0 = agent, 1 = customer
        log_e = np.stack([llr / 2, -llr / 2], axis=1)
        post = _forward_backward(log_e, log_t, log_init)[:, 0]
        voice, separation = _voice_llr(emb, has, post)
    llr = text_llr + voice
    log_e = np.stack([llr / 2, -llr / 2], axis=1)
    path = _viterbi(log_e, log_t, log_init)

    dur = np.array([s.duration for s in units])
    # Two parties from the text only on cue words: the role model reads any speech as leaning one way or the
    # other (a real one-voice clip of a lecture gave a unit +1.97), so it labels turns but never makes one
    # voice two speakers.
    # An agent cue word (service phrasing, 您, 为您/帮您 …) plus customer talk in other units — cue words or
    # `turn_customer_units` units the role model alone reads as strongly customer (real customers rarely use
    # the cue words) — also shows two parties. Only this way round: an agent cue is the anchor, so a lecture
    # or a customer-only recording whose units merely lean both ways stays one speaker.
    # Or the other way round, for an agent who never uses a service phrase (a rude call: 这不归我们管，你去营业厅
    # 办吧 — the calls QA most needs judged): a unit the role model reads as strongly agent, with no customer cue
    # word in it, plus customer cue words (你们, 我要, 投诉 …) in `turn_customer_units` other units. A lecture
    # has neither (its "你们可以听" is one unit, its most agent-like unit +1.97); an IVR prompt has no customer.
    strong_customer = int((model <= -o.turn_strong_evidence).sum())
    agent_cue = bool((score > 0).any())
    customer_cue_units = int((score < 0).sum())
    model_agent = bool(((model >= o.turn_strong_evidence) & (score >= 0)).any())
    both_roles = bool(
        (agent_cue and (customer_cue_units > 0 or strong_customer >= o.turn_customer_units))
        or (model_agent and customer_cue_units >= o.turn_customer_units)
    )
    two = (diar.method == FORCED_SPLIT_METHOD or both_roles) and len(set(path.tolist())) == 2
    decoder: dict[str, Any] = {
        "units": n,
        "voice_separation": round(float(separation), 3),
        "text_shows_both_roles": both_roles,
        "strong_customer_units": strong_customer,
        "audio_split": diar.method == FORCED_SPLIT_METHOD,
    }
    if not two:
        roles = RoleAssignment(
            {lab: "unknown" for lab in diar.labels},
            0.0,
            {"decoder": decoder},
            "one voice and no sign of a second party (IVR, voicemail, one party only?)",
        )
        return TurnDecode(diar, tuple(utterances), roles, post)

    # spk0 = the state with more speech, as `diarize` numbers speakers
    agent_s, cust_s = float(dur[path == 0].sum()), float(dur[path == 1].sum())
    agent_lab, cust_lab = ("spk0", "spk1") if agent_s >= cust_s else ("spk1", "spk0")
    lab_of = {0: agent_lab, 1: cust_lab}
    segs = tuple(
        SpeechSegment(cast(Speaker, lab_of[int(path[i])]), s.start, s.end, s.loudness_dbfs) for i, s in enumerate(units)
    )
    secs = {lab: round(float(dur[path == st].sum()), 2) for st, lab in lab_of.items()}
    new_diar = replace(diar, segments=segs, n_speakers=2, speaker_seconds=secs, method=TURN_DECODE_METHOD)

    new_utts: list[Utterance] = []
    for u in utterances:
        for i, words, text in _pieces(u, units):
            spk = cast(Speaker, lab_of[int(path[i])])
            if words:
                new_utts.append(Utterance(spk, words[0].start, max(w.end for w in words), text, tuple(words)))
            else:
                new_utts.append(replace(u, speaker=spk))
    new_utts.sort(key=lambda u: (u.start, u.end))

    chosen = np.where(path == 0, post, 1 - post)
    confidence = round(float((chosen * dur).sum() / max(dur.sum(), 1e-9)), 3)
    agent_text, cust_text = float(text_ev[path == 0].sum()), float(text_ev[path == 1].sum())
    evidence: dict[str, dict[str, Any]] = {
        lab_of[st]: {
            "units": int((path == st).sum()),
            "text_score": round(float(score[path == st].sum()), 2),
            "role_model": round(float(model[path == st].sum()), 2),
            "mean_posterior": round(float(chosen[path == st].mean()), 3),
        }
        for st in (0, 1)
    }
    turn_id = np.cumsum(np.r_[0, path[1:] != path[:-1]])
    on_agent = path == 0
    risk = round(wrong_side_risk(1 - post[on_agent], turn_id[on_agent]), 4)
    decoder["wrong_agent_risk"] = risk
    decoder["wrong_agent_risk_units"] = round(wrong_side_risk(1 - post[on_agent]), 4)
    decoder["uncertain_units"] = [
        [round(units[i].start, 2), round(units[i].end, 2), round(float(chosen[i]), 3)]
        for i in range(n)
        if chosen[i] < o.turn_unit_review_posterior
    ]
    evidence["decoder"] = decoder
    if confidence < o.turn_min_confidence:
        why = f"confidence {confidence} < {o.turn_min_confidence}"
    elif risk > o.turn_max_wrong_risk:
        why = f"risk of customer turns on the agent side {risk} > {o.turn_max_wrong_risk}"
    elif not (agent_text > 0 or cust_text < 0):
        why = "no agent or customer wording on either side"
    else:
        why = ""
    if why:
        unknown = {agent_lab: "unknown", cust_lab: "unknown"}
        roles = RoleAssignment(unknown, confidence, evidence, f"turn-taking decode too uncertain ({why})")
    else:
        roles = RoleAssignment(
            {agent_lab: "agent", cust_lab: "customer"},
            confidence,
            evidence,
            "similar voices: turns decoded from turn-taking, the text's role cues and the voices",
        )
    return TurnDecode(new_diar, tuple(new_utts), roles, post)
