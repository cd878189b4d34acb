"""`find(category, text)`: lexicon hits first (exact / pinyin), then classifier hits on the rest."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..lexicon import PhraseMatch, load_lexicon
from ..text import jieba_module, normalize
from .categories import FORBIDDEN, SHORT_CLAUSE, SHORT_UTTERANCE, category
from .generate import BARE
from .model import features_text, get_model

_CLAUSE = re.compile(r"[^，。！？；,.!?;、…_\s~～]+[？?]?")
_QUESTION_END = re.compile(r"[？?]$")
MAX_WHOLE_CHARS = 40
"""Utterances up to this many normalised characters are also classified whole."""
_BARE = frozenset(features_text(b) for b in BARE)
"""Units that are no category by themselves (generate.BARE: 不是 / 好了 / 还是 standing alone between ASR cuts).
The classifier learns them as `none`, but a lone word has so few features that the many templates sharing it
(不是…吗 反问, 好了好了 不耐烦) can still outvote that; their classifier scores are not used at all. Compared as the
classifier sees them (`_bare`)."""
_FILLER_CHARS = "啊嗯哦呃哎诶噢"


@dataclass(frozen=True)
class Thresholds:
    hit: float = 0.6
    """Classifier score from which a unit counts as the category."""
    review: float = 0.5
    """From here up to `hit` the unit is a borderline hit (the checks report `needs_review`)."""


DEFAULT_THRESHOLDS = Thresholds()
"""Only for a category the model has no calibration for (model.calibrate sets one per category)."""


def thresholds(
    hit: float | None = None,
    review: float | None = None,
    category: str | None = None,
    extra: Mapping[str, Iterable[str]] | None = None,
) -> Thresholds:
    """The thresholds for `category`: the ones calibrated on the generated validation folds
    (`model.calibrate`), unless the rubric sets `hit` / `review` itself."""
    cal = get_model(extra).limits.get(category) if category else None
    base = Thresholds(*cal) if cal else DEFAULT_THRESHOLDS
    h = base.hit if hit is None else float(hit)
    r = base.review if review is None else float(review)
    return Thresholds(h, min(r, h))


LONG_CLAUSE = 14
"""A clause longer than this many normalised characters is a run-on (ASR output often has no punctuation at all:
您这个月话费八十六元你自己不会看短信吗): its word windows are classified too (`_windows`)."""
_FINAL_PARTICLES = frozenset("吗呢吧啊嘛呀啦哈哦")
_BINDS_NEXT = frozenset(
    "帮 给 让 叫 把 被 跟 和 对 为 替 向 请 是 的 在 从 到 比 像".split()
    + "如果 要是 假如 确实是 就是 都是 不是 还是 帮您 给您 为您".split()
)
"""Words whose next word is their object or complement (帮|您仔细查一下, 如果确实是|我们的问题): a tail window never
starts there — cut off from its head, 您仔细查一下 reads as a reproach."""
_FILLERS_HEAD = r"(?:嗯|啊|哦|那个|就是)*"
"""Fillers an agent may open a clause with, before the customer as subject."""
_REPORTED = re.compile(
    rf"^{_FILLERS_HEAD}(?:这事|这件事|这个事情|这个问题|这个)?(?:您|你|客户)(?:刚才|刚刚|之前|是|一直|已经|也)*"
    r"(?:说|讲|提到|反映|讲到|觉得|认为|投诉|咨询|反馈|告诉|报|提供)"
)
"""A pseudo-sentence that opens by reporting the customer's words (您说… / 您刚才提到… / 您觉得…): its tails quote the
customer (您说您在营业厅等了很久都没办成), so no tail window is taken from it — the issue's "quoting the customer"."""


def reports_customer(unit: str) -> bool:
    """A unit that opens by reporting the customer's words (`_REPORTED`) and has no 我 after the report:
    您说已经跟营业厅反映过好几次了 is the customer's account (Category.model_skips_reported);
    您说没听懂，我都讲了三遍了 is not, nor is 您说的 + a topic (您刚才说的问题刚才已经解释过了: the
    agent's subject dropped)."""
    norm = normalize(unit)
    m = _REPORTED.match(norm)
    if m is None or norm[m.end() :].startswith("的"):
        return False
    # 我 as the one told (您已经告诉过我了) is no agent's own words
    return "我" not in re.sub(r"^(?:过|了)?(?:我们|我)", "", norm[m.end() :])


_CUSTOMER_SAID = r"(?:您|你|客户)(?:刚才|刚刚|之前|是|一直|也)*"
"""The customer as the one who said or asked (您 / 您刚才 / 客户之前), the head of `_ASKED`, `_QUOTED` and
`_SAID_NANDAO`."""
_ASKED = re.compile(rf"^{_FILLERS_HEAD}{_CUSTOMER_SAID}问(?:我|我们|的是|的)?")
"""The opener of a reported question: 您问 / 您刚才问 / 客户问的是 (`quotes_customer`)."""
_INDIRECT_QUESTION = re.compile(
    r"能不能|可不可以|可以不|为什么|为啥|凭什么|凭啥|怎么|咋|是不是|有没有|多少|什么|哪|几|会不会|要不要|行不行"
)
"""The question word that makes 您问 + the rest a reported question (您问我能不能便宜点)."""

_QUOTED = re.compile(
    rf"^[\s，,]*{_FILLERS_HEAD}[\s，,]*{_CUSTOMER_SAID}(?:问|说|讲|提到|讲到)(?:的是|的|过)?[\s:：，,]*[“\"「『]"
)
"""The customer's words in quotation marks right after 您问 / 您说 (您说“难道我还要自己去查吗”，不用的…): a
quote, whatever it says."""


_CUSTOMER_SUBJECT = re.compile(rf"{_FILLERS_HEAD}{_CUSTOMER_SAID}(?:问|说|讲)?(?:的是|的|过)?")
"""A clause's head that is only the customer as subject, or as the one who asked (嗯您 / 您刚才 / 您问): what a
unit cut after it lost."""

_SAID_NANDAO = re.compile(rf"^{_FILLERS_HEAD}{_CUSTOMER_SAID}(?:说|问|讲)(?:的是|的|过)?(?:难道|凭什么)")
"""您刚才说难道你们就这么随便扣钱吗 (no quotation marks in ASR text): an agent never opens her own 反问 with
您说难道 — it is the customer's question repeated."""


def _quote_opener(clause: str) -> bool:
    """A clause that only announces the customer's question (您刚才问 / 客户问的是), not asked itself (您问？)
    and not naming the agent (您问我: a reply follows, not a quote)."""
    if _QUESTION_END.search(clause):
        return False
    opener = _ASKED.fullmatch(normalize(clause))
    return opener is not None and not opener.group(0).endswith(("我", "我们"))


def quotes_customer(text: str, s: int, e: int) -> bool:
    """Whether the unit text[s:e] restates the customer's question (session 15). It opens with 您问 + an indirect
    question (您问我能不能便宜点), with 您问的 (您问的都交了钱为什么还停机), with 您说难道… or with the customer's
    words in quotation marks (`_QUOTED`); or with a clause that only announces the question and the question after
    it; or it follows such a clause (您刚才问，为什么没用多少就扣了那么多). The agent is quoting, not asking back:
    no forbidden-attitude classifier hit there (the issue's hard negative "quoting the customer"). 您问我，我问谁去
    is no quote: no indirect question after 您问, and 您问我 names the agent. A unit cut right after its subject
    (您|问难道就没别的办法了吗, session 16) is read with the subject put back."""
    start = _clause_start(text, s)
    if start < s and _CUSTOMER_SUBJECT.fullmatch(normalize(text[start:s])):
        s = start
    if _QUOTED.match(text[s:e]):
        return True
    norm = normalize(text[s:e])
    m = _ASKED.match(norm)
    if m and (_INDIRECT_QUESTION.match(norm[m.end() :].lstrip("说")) or m.group(0).endswith("的")):
        return True  # 您问我能不能… / 您问的(是)…: whatever follows 您问的 is the customer's question
    if _SAID_NANDAO.match(norm):
        return True
    clauses = [c for c in _CLAUSE.finditer(text) if normalize(c.group(0))]
    inside = [c.group(0) for c in clauses if s <= c.start() and c.end() <= e]
    before = [c.group(0) for c in clauses if c.end() <= s]
    return len(inside) > 1 and _quote_opener(inside[0]) or bool(before) and _quote_opener(before[-1])


_SUBJECT_END = re.compile(r"(?:您|你|客户|他|她)(?:刚才|刚刚|之前|以前|是|一直|已经|也|都)*$")


def _clause_start(text: str, s: int) -> int:
    """Where the clause holding text[s] starts (s itself when no clause holds it)."""
    return next((c.start() for c in _CLAUSE.finditer(text) if c.start() <= s < c.end()), s)


def _after_customer(text: str, s: int) -> bool:
    """Whether a unit starts right after a second-person (or third-person) subject in its clause: the unit
    之前已经反映过一次了, cut from 这个事情您|之前已经反映过一次了, is the customer's account with its subject
    cut off, not the agent's 之前已经说过了 (Category.model_skips_reported; session 15)."""
    return bool(_SUBJECT_END.search(normalize(text[_clause_start(text, s) : s])))


WINDOW_CHARS = (6, 12)
"""Window length in normalised characters: the violation wordings of the templates are 4–12 characters long."""


@lru_cache(maxsize=20000)
def _windows(clause: str) -> tuple[tuple[int, int], ...]:
    """Spans inside a run-on clause: its pseudo-sentences (split after a sentence-final particle 吗/呢/吧/啊…, where
    the punctuation would have been) and, of each, the word-aligned tails of WINDOW_CHARS characters — a phrase
    said after a business statement ends where the statement's sentence ends. On the dev set's positives written
    after a business statement without punctuation, recall was 0.07–0.70 for 不耐烦/反问/争辩/口语化 without them;
    windows starting anywhere (not only tails) found them too but also flagged 0.12–0.33 of the negatives."""
    toks = list(jieba_module().tokenize(clause))
    sentences, start = [], 0
    for k, (w, _, _) in enumerate(toks):
        # a ？ after the particle stays with its sentence
        if w in _FINAL_PARTICLES and k + 1 < len(toks) and normalize(toks[k + 1][0]) or k + 1 == len(toks):
            sentences.append([(a, bb) for _, a, bb in toks[start : k + 1]])
            start = k + 1
    out: dict[tuple[int, int], None] = {}
    lo, hi = WINDOW_CHARS
    for sent in sentences:
        end = sent[-1][1]
        if len(sentences) > 1 and len(normalize(clause[sent[0][0] : end])) >= 2:
            out[(sent[0][0], end)] = None
        if _REPORTED.match(normalize(clause[sent[0][0] : end])):
            continue  # the rest of 您说您在营业厅排队等了很久 is the customer's account, not the agent's words
        for k, (a, _) in enumerate(sent):
            n = len(normalize(clause[a:end]))
            if lo <= n <= hi and not (k and clause[sent[k - 1][0] : sent[k - 1][1]] in _BINDS_NEXT):
                out[(a, end)] = None
    return tuple(out)


def units(text: str, windows: bool = False) -> list[tuple[int, int]]:
    """Spans to classify: each clause, each pair of adjacent clauses, and the whole utterance when short; with
    `windows`, also word windows inside run-on clauses (`_windows`)."""
    # a lone character ("你", a cut-off word) says nothing by itself unless it is asked (啥？)
    clauses = [
        m.span()
        for m in _CLAUSE.finditer(text or "")
        if len(normalize(m.group(0))) >= 2 or (normalize(m.group(0)) and _QUESTION_END.search(m.group(0)))
    ]
    spans = list(clauses)
    spans += [(a[0], b[1]) for a, b in zip(clauses, clauses[1:], strict=False)]
    if clauses and len(normalize(text)) <= MAX_WHOLE_CHARS:
        spans.append((clauses[0][0], clauses[-1][1]))
    if windows:
        for s, e in clauses:
            if len(normalize(text[s:e])) > LONG_CLAUSE:
                spans += [(s + a, s + b) for a, b in _windows(text[s:e])]
    return list(dict.fromkeys(spans))


_CACHE_SIZE = 20000
_scores: OrderedDict[tuple[int, str], tuple[list[tuple[int, int]], np.ndarray]] = OrderedDict()
_lock = threading.Lock()


def prime(texts: Iterable[str], extra: Mapping[str, Iterable[str]] | None = None) -> None:
    """Classify every unit of every text in ONE batch (a per-call predict costs ~20× more) and remember the
    scores of all categories per text; the checks call this with all agent turns before asking `find`."""
    mdl = get_model(extra)
    with _lock:
        todo = [t for t in dict.fromkeys(texts) if (id(mdl), t) not in _scores]
    if not todo:
        return
    spans = [units(t, windows=True) for t in todo]
    flat = [t[s:e] for t, sp in zip(todo, spans, strict=True) for s, e in sp]
    probs = mdl.predict(flat)
    with _lock:
        i = 0
        for t, sp in zip(todo, spans, strict=True):
            _scores[(id(mdl), t)] = (sp, probs[i : i + len(sp)])
            i += len(sp)
        while len(_scores) > _CACHE_SIZE:
            _scores.popitem(last=False)


def _unit_scores(text: str, extra: Mapping[str, Iterable[str]] | None) -> tuple[list[tuple[int, int]], np.ndarray]:
    mdl = get_model(extra)
    key = (id(mdl), text)
    with _lock:
        hit = _scores.get(key)
    if hit is None:
        prime([text], extra)
        with _lock:
            hit = _scores[key]
    return hit


_ASK_BACK = frozenset({"rhetorical_ask", "direct_address"})
"""Lexicon categories (colloquial.yaml) that match a whole turn asked back: 什么？ / 什么呢 / 再说一次 / 是XX啊？"""


def _clause_ask_backs(lexicon: str, text: str, taken: list[PhraseMatch]) -> list[PhraseMatch]:
    """The whole-turn ask-backs of l.9 (`_ASK_BACK`) said as one question clause of a longer turn: 是宽带啊？宽带那得
    上门装 / 啊？什么呢_信号不好 (the turn goes on after the ask, or ASR joined two turns)."""
    clauses = [m.span() for m in _CLAUSE.finditer(text)]
    if len(clauses) < 2:
        return []
    out: list[PhraseMatch] = []
    for s, e in clauses:
        if not _QUESTION_END.search(text[s:e]) or any(s < m.end and m.start < e for m in (*taken, *out)):
            continue
        out += [
            replace(m, start=m.start + s, end=m.end + s)
            for m in load_lexicon(lexicon).find(text[s:e])
            if m.category in _ASK_BACK
        ]
    return out


def _lexicon_hits(name: str, text: str) -> list[PhraseMatch]:
    cat = category(name)
    hits = load_lexicon(cat.lexicon).find(text)
    if cat.model_questions_only:
        hits += _clause_ask_backs(cat.lexicon, text, hits)
    if cat.lexicon_categories:
        hits = [m for m in hits if m.category in cat.lexicon_categories]
    if name == "greeting":
        # an opening is 您好 + a service phrase (or a whole / VIP opening); half of it is no greeting
        cats = {m.category for m in hits}
        if not ({"vip", "full"} & cats or {"hello", "service"} <= cats):
            return []
    return hits


# what may follow a closing thanks in the same turn: a form of address, a particle, an okay
_CLOSING_FILLERS = frozenset(
    normalize(x)
    for x in ("啊", "哈", "呀", "呢", "哦", "嗯", "好", "好的", "行", "那", "的", "了", "好嘞", "您", "你", "您了")
    + ("你了", "先生", "女士", "小姐", "您先生", "您女士", "啊先生", "啊女士", "哈先生", "哈女士")
)


def _closing_material(clause: str, extra: Mapping[str, Iterable[str]] | None) -> bool:
    """A clause that can stand in a closing: empty, a filler, a closing phrase of the lexicon (the rating
    invitation included), or one the classifier scores as a closing ask / thanks (at least borderline)."""
    norm = normalize(clause)
    # a lone character is an ASR cut (好的那感谢_见: 再见 cut off), as in `units`
    if len(norm) <= 1 or norm in _CLOSING_FILLERS or _lexicon_hits("closing_ask", clause):
        return True
    if any(m.category == "goodbye" for m in _lexicon_hits("closing_thanks", clause)):
        return True
    if any(m.category == "rating" for m in load_lexicon("closing").find(clause)):
        return True  # 稍后请为我的服务打分: the survey invitation that follows the thanks
    mdl = get_model(extra)
    row = mdl.predict([clause])[0]
    return any(
        row[mdl.classes.index(c)] >= thresholds(category=c, extra=extra).review
        for c in ("closing_thanks", "closing_ask")
    )


def _thanks_closes(text: str, m: PhraseMatch, extra: Mapping[str, Iterable[str]] | None) -> bool:
    """Whether a thanks closes the turn (10086 l.5-6 结束语) rather than thanking in passing: 谢谢您的配合，我现在
    帮您办理 / 感谢您提供的信息 thank for something and go on with the business, so they are no closing. The
    rest of the thanks' own clause must be a form of address / particle or closing wording, and every clause
    after it closing material."""
    clauses = [c.span() for c in _CLAUSE.finditer(text)]
    own = next(((s, e) for s, e in clauses if s <= m.start < e), (m.start, m.end))
    rest = normalize(text[m.end : own[1]])
    if rest and rest not in _CLOSING_FILLERS and not _closing_material(text[own[0] : own[1]], extra):
        return False
    return all(_closing_material(text[s:e], extra) for s, e in clauses if s >= own[1])


def _stable_windows(
    spans: list[tuple[int, int]], probs: np.ndarray, plain: set[tuple[int, int]], limits: Thresholds
) -> set[tuple[int, int]]:
    """The tail windows (`_windows`) that count: a clear hit (a borderline score on a fragment such as
    用|完了所以只剩下周末流量啦 is too weak to send a call to review) whose next-longer tail, one word more of context,
    still scores at least borderline. Cutting the polite head off a question makes a fragment look rude
    (您有没有试过|过关机重启呢: 0.63 反问, with one more word 0.39); a real phrase keeps its score with its neighbour
    (元|你自己不会看短信吗 0.93 vs 0.96)."""
    score = {sp: float(p) for sp, p in zip(spans, probs, strict=True)}
    windows = [sp for sp in spans if sp not in plain]
    ok = set()
    for s, e in windows:
        if score[(s, e)] < limits.hit:
            continue
        longer = [w for w in windows if w[1] == e and w[0] < s]
        if not longer or score[max(longer)] >= limits.review:
            ok.add((s, e))
    return ok


CONCILIATORY = re.compile(
    r"(?<![不没别咋])(?<!不能)(?<!不会)(?<!没法)(?<!无法)(?<!不可以)(?<!没办法)(?<!怎么)(?<!如何)"
    r"(?:帮|给|为)您\S{0,2}?(?:查|核实|核查|提交|申请|反馈|登记|处理|退|办|取消|看看|重置|恢复|更正)"
    r"|(?<!不是)(?<![不没])(?:我|我们)(?:刚才|刚刚|之前|前面)?(?:说|讲|看|搞|弄|报|算|记)错了"
    r"|(?:确实|的确)是?我们?(?:这边)?的(?:问题|失误|错|疏忽|责任)"
    r"|(?<!没什么)(?<!不用)(?:抱歉|对不起|不好意思|请您谅解|请您理解|还请您理解|给您添麻烦|敬请谅解|多包涵)"
    r"|(?<![不没])(?:跟|向|给)您(?:道个?歉|赔个?不是)"
    r"|(?:帮|给|为)您(?:读|念)(?:一下|一遍|一遍给您听)"
    r"|(?<![不没别])(?<!没法)(?<!无法)(?<!不能)(?<!没办法)(?:带着|带|陪|陪着|教)您(?:一步步|一步一步|一起)?"
    r"(?:点|找|操作|设置|弄|查)"
    r"|(?:给|留|告诉)您(?:一个|个)?(?:投诉|受理|工单|服务|查询)?(?:单号|编号)"
    r"|(?:不用|不需要|无需|没必要|用不着)(?:您)?(?:再|专门|特意|自己)?(?:去|跑|到)(?:一趟)?(?:营业厅|线下|门店)"
    r"|(?<![不没别咋])(?<!没法)(?<!无法)(?<!不能)(?:帮|给|为)您(?:直接)?(?:关掉|关闭|开通|下单|变更|改好|补办)"
)
"""The agent acting for the customer (我帮您提交核查 / 我先给您退订 / 帮您申请一下), owning an error
(我刚才说错了 / 确实是我们的失误) or apologising (非常抱歉 / 请您谅解) in the same turn, not negated,
refused or asked back (营业厅不给您办 / 没法帮您退 / 那我怎么帮您查 / 不是我说错了); session 15 added
先跟您道个歉, 个人部分我先给您读一下, 我带着您点, 我先给您一个投诉单号, 不用去营业厅, 帮您关掉 (wordings of
blind dev sets no. 16 to 19 the lists had missed). A bare 是我们的问题 is no admission: it is asked back
(怎么会是我们的问题呢) or quotes the customer (您说信号差是我们的问题) in 争辩 itself. An agent who does any of
these is handling the customer, not arguing with, reproaching or sending them away (`CONCILIATORY_SURE`)."""
WAY_GIVEN = re.compile(
    r"(?:我|我们)[^不没别？?]{0,20}?(?:发给您|发到您|给您发|发您|短信发|发过去|推送给您|推送到您)(?!了?[吗呢嘛]|了没)"
    r"|(?<![不没别])(?<!没法)(?<!无法)(?:帮|给|为)(?:您|你)(?:直接)?(?:转接|转到|转至|转过去|转给)"
)
"""The agent sending the customer the way (地址我给您发短信了 / 我把厂商的售后电话发到您手机上 /
要带的材料我短信发过去): a referral WITH help, which l.44-46 (首问负责) allows; a brush-off sends the
customer away with nothing. Or the agent handing the call over (我帮您转到专家台席: the transfer of
l.16-22; session 16: 9 推诿 hard negatives of the development sets, no positive). Not negated or asked
back (我不是发给您了吗 / 我没法发给您). Only for 推诿 (`CONCILIATORY_SURE`): 我们年年都发您短信提醒…
早干嘛去了 is still a reproach. When written (session 15): 12 of the 90 推诿 hard negatives of the eight
development sets, no 推诿 positive (74), and of the other forbidden categories' positives only that one 反问."""
CONCILIATORY_SURE: dict[str, float] = {"argue": 0.9, "rhetorical": 0.9, "shirking": 0.9}
"""争辩 / 反问 / 推诿 classifier hits below this score are dropped in a conciliatory turn (`CONCILIATORY`):
我们这边的记录和您说的不太一样，可能中间有误会，我帮您提交核查 states a disagreement and takes it on;
不是这样的哦，我刚才说错了 corrects the agent herself; 手机故障建议您去售后检测，话费的问题我都帮您处理好了
refers beside help given (首问负责, l.44-46); 按照规定需要机主本人来办理，非常抱歉 is polite firmness. A clear
reproach keeps its high score beside an offer, and lexicon hits are not touched. Measured when written (session 14)
on the seven development sets: no 争辩 / 反问 / 推诿 positive (375) is conciliatory; 36 %, 13 % and 35 % of
their hard negatives are."""


CONTEXT_FORMULAS = frozenset({"hold_notice", "hold_apology"})
CONTEXT_SURE: dict[str, float] = {"rhetorical": 0.9, "impatient": 0.9}
"""Forbidden categories whose clear but not sure hits (below this score) also need their context
(`_unsupported`): a clause that reads as 反问 / 不耐烦 only when cut out of its turn — 很多用户都找不到
before 我带着您点, 怎么样才能不被扣这个费呢？ answered at once by 您只需要发送TD…, 话费不足时会提前通知您
after 建议您开通余额提醒, a quoted complaint followed by 这个心情我理解 — while every larger unit around it
(with its neighbour, the whole short turn) scores below the review threshold. A real 反问 or brush-off
keeps a high score alone (这个道理你不懂吗？ 0.95) and usually with its neighbour. Not 争辩: its short
contradiction followed by the justification (不可能的，规定就是三个工作日 / 你别跟我犟了 + the record)
is the violation itself, and the pair scores low (session 9: the rule cost 争辩 two dev positives); not
我不知道 (不太清楚 after a business clause is still 我不清楚). 0.9 was chosen on the development sets,
blind10 included (session 9): it removed the four 反问 false alarms of phrasing_dev_blind10 and no
positive of any development set."""
"""The wait formulas, whose meaning depends on what is waited for (`_unsupported`). Not the closing ask: 还有别的可以
帮您吗 right after a business statement (已经为您兑换成功，话费将在二十四小时内到账。) is the normal closing, and the
pair scores as neither (sample 03 lost its closing when the rule covered every positional category)."""


def _unsupported(
    spans: list[tuple[int, int]], probs: np.ndarray, plain: set[tuple[int, int]], limits: Thresholds
) -> set[tuple[int, int]]:
    """Clauses (and clause pairs) that score as the category alone while every larger unit around them (the clause
    with its neighbour, the whole short turn) scores below the review threshold: for the wait formulas
    (`CONTEXT_FORMULAS`) the context decides. 请不要挂机 ends a transfer announcement (我帮您转接到…专席，请不要挂机)
    as often as it opens a lookup, 请您挂机后稍等片刻 asks to wait for an SMS, 在“查询”栏目里查看 is a self-service
    instruction. Of the forbidden categories only 反问 and 不耐烦 below a sure score (`CONTEXT_SURE`): 不太清楚 after a
    business clause is still 我不清楚."""
    score = {sp: float(p) for sp, p in zip(spans, probs, strict=True)}
    out = set()
    for s, e in plain:
        if score[(s, e)] < limits.review:
            continue
        larger = [sp for sp in plain if sp[0] <= s and e <= sp[1] and sp != (s, e)]
        if larger and max(score[sp] for sp in larger) < limits.review:
            out.add((s, e))
    return out


REFUSED = re.compile(
    r"(?:不用|不需要|不必|无需|无须|没必要|用不着|没法|没办法|无法|不能|不可以|不给|不会)"
    r"(?:[再去先帮给为把您你]|这边|电话){0,4}(?:转|接到|接过去|接通)"
    r"|(?:转|接)(?:不了|不过去|不通)"
)
"""A transfer said not to happen (Category.refusable): a need/ability negation right before the verb, with at most
a few helper words between (不用转人工 / 不需要给您转 / 暂时没法给您转过去 / 无法帮您转到人工), or 转不了 / 转不过去.
Only 给/帮/您… may stand between: 如果还是不能上网我帮您转到宽带专席 (ASR, no comma) is a transfer. 别/不要 are no
refusal here (您别挂机，我帮您转到专席)."""


def _refused(text: str, s: int, e: int) -> bool:
    """Whether the clause around a hit, up to the hit's end, refuses or declines the action (`REFUSED`); 转不了 /
    转不过去 anywhere in the clause."""
    clauses = [c.span() for c in _CLAUSE.finditer(text)]
    cs, ce = next(((a, b) for a, b in clauses if a <= s < b), (s, e))
    return bool(REFUSED.search(normalize(text[cs:e]))) or bool(re.search(r"(?:转|接)(?:不了|不过去)", text[cs:ce]))


_REPEATED_YES = re.compile(r"(好的|对的|是的|可以|没问题|好|行|对|是|嗯)\1+[啊呀哈嘛呢的啦]?")
"""A yes said two or more times (对对对 / 行行行 / 好好好好 / 好的好的): agreement, the backchannel l.26 asks for;
with a brush-off (行行行，别说了) it is 不耐烦, and the classifier judges the unit that holds the brush-off.
好了好了 / 行了行了 ("enough") are not yeses and stay the classifier's."""


_ACKNOWLEDGED = re.compile(
    r"(?:好的|好|行|对|是)?(?:我|我这边)?(?:已经)?(?:知道|明白|清楚|了解|听到|记下|收到|懂)(?:了|啦)[啊哈]?"
)
"""The agent's own acknowledgment said ONCE (我知道了 / 好的我明白了 / 行，我记下了): the receipt the rubric asks
for, not a category by itself. It stands in the 不耐烦 templates next to the brush-off that makes it rude
(行了行了，我知道了，别说了), so as a clause of its own (行，我知道了，我现在帮您提交) it scored 0.77 不耐烦; the
brush-off clause is judged on its own, and doubled (知道了知道了) or with 都 (我都知道了) it is no plain receipt and
stays the classifier's."""


def _bare(unit: str) -> bool:
    """A unit that is a BARE word, a repeated yes (`_REPEATED_YES`) or a single acknowledgment (`_ACKNOWLEDGED`), also
    after a leading filler (啊不用客气). Compared as the classifier sees it (a final ？ kept): 嗯 alone is bare, 嗯？ is
    the 反问式请重复 of l.9."""
    key = features_text(unit)
    if key in _BARE or key.lstrip(_FILLER_CHARS) in _BARE:
        return True
    if _ACKNOWLEDGED.fullmatch(key.lstrip(_FILLER_CHARS)):
        return True
    return _REPEATED_YES.fullmatch(key.lstrip(_FILLER_CHARS.replace("嗯", ""))) is not None


def _asks(text: str, s: int, e: int, plain: set[tuple[int, int]]) -> bool:
    """A question clause, or a short clause or whole utterance (ASR drops the ？ of 你说啥 often, and cuts a turn at
    its pauses: 喂？喂？什么 哪个号码 asks back with its 什么); a tail window of a run-on is no clause of its own."""
    n = len(normalize(text[s:e]))
    whole = len(normalize(text)) <= SHORT_UTTERANCE
    return bool(_QUESTION_END.search(text[s:e])) or whole or (s, e) in plain and n <= SHORT_CLAUSE


def find(
    name: str,
    text: str,
    *,
    model: bool = True,
    extra: Mapping[str, Iterable[str]] | None = None,
    limits: Thresholds | None = None,
) -> list[PhraseMatch]:
    """Hits of phrase category `name` in `text`: lexicon matches, plus classifier hits (method "model",
    score ≥ `limits.review`, by default the category's calibrated thresholds) on clauses no lexicon hit
    covers. Offsets index `text`."""
    cat = category(name)
    hits = _lexicon_hits(name, text)
    refused = [m for m in hits if cat.refusable and _refused(text, m.start, m.end)]
    hits = [m for m in hits if m not in refused]
    if name == "closing_thanks" and model:
        hits = [m for m in hits if m.category != "thanks" or _thanks_closes(text, m, extra)]
    if not model or not normalize(text):
        return hits
    limits = limits or thresholds(category=name, extra=extra)
    spans, scores = _unit_scores(text, extra)
    if not spans:
        return hits
    probs = scores[:, get_model(extra).classes.index(name)]
    plain = set(units(text))
    window_ok = _stable_windows(spans, probs, plain, limits)
    if name in CONTEXT_FORMULAS:
        unsupported = _unsupported(spans, probs, plain, limits)
    elif name in CONTEXT_SURE:
        sure = CONTEXT_SURE[name]
        unsupported = {sp for sp in _unsupported(spans, probs, plain, limits) if probs[spans.index(sp)] < sure}
    else:
        unsupported = set()
    cands = sorted(
        (
            (float(p), s, e)
            for p, (s, e) in zip(probs, spans, strict=True)
            if ((s, e) in plain and p >= limits.review and (s, e) not in unsupported or (s, e) in window_ok)
            and (not cat.model_questions_only or _asks(text, s, e, plain))
            and not _bare(text[s:e])
            and (cat.model_needs is None or cat.model_needs.search(normalize(text[s:e])) is not None)
            and not (cat.model_skips_reported and (reports_customer(text[s:e]) or _after_customer(text, s)))
            and not (name in FORBIDDEN and quotes_customer(text, s, e))
        ),
        key=lambda c: (-c[0], c[2] - c[1]),
    )
    if name in CONCILIATORY_SURE and (
        CONCILIATORY.search(normalize(text)) or name == "shirking" and WAY_GIVEN.search(normalize(text))
    ):
        cands = [c for c in cands if c[0] >= CONCILIATORY_SURE[name]]
    taken = [(m.start, m.end) for m in (*hits, *refused)]
    for p, s, e in cands:
        if cat.refusable and _refused(text, s, e):
            taken.append((s, e))
            continue
        if any(s < te and e > ts for ts, te in taken):
            continue
        m = PhraseMatch(cat.lexicon, cat.hit_category, text[s:e], s, e, "model", round(p, 3))
        if name == "closing_thanks" and not _thanks_closes(text, m, extra):
            continue
        taken.append((s, e))
        hits.append(m)
    return sorted(hits, key=lambda m: m.start)


def is_sure(name: str, m: PhraseMatch, extra: Mapping[str, Iterable[str]] | None = None) -> bool:
    """A lexicon hit, or a classifier hit at or above the category's calibrated hit threshold."""
    return m.method != "model" or m.score >= thresholds(category=name, extra=extra).hit


def find_in_utterance(name: str, text: str, speaker: str | None, **kw: object) -> list[PhraseMatch]:
    """`find` for one turn: agent-side categories ignore what anyone but the agent says."""
    if category(name).agent_only and speaker not in (None, "agent"):
        return []
    return find(name, text, **kw)  # type: ignore[arg-type]
