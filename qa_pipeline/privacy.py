"""PII redaction: find personal data in transcripts as Whisper writes it, mask text and audio spans.

Redaction sits at the edge of storage: :func:`redact_result` runs on a finished ``CallResult`` before anything
is written, so the per-call JSON, the database and its search index, calls.csv, scorecards and search output are
clean by construction. Audio written by callqa (clips, exported collections, audio the workstation serves) is
masked with :func:`mask_audio` over the spans recorded in the result (``pii_masked`` findings); the original
recordings are never touched.

What is found (categories, each with a fixed placeholder that keeps the text's shape):

- ``mobile`` ``[手机号]``: 11 digits starting 1[3-9] (optionally +86);
- ``landline`` ``[电话号码]``: 0 + area code + 7–8 digits; 7–12 digits right after a phone cue (电话/号码/座机…);
- ``id_card`` ``[身份证号]``: 18 characters (17 digits + digit/X), 15 after an ID cue;
- ``bank_card`` ``[银行卡号]``: 16–19 digits passing Luhn, or any length 12–19 after a card cue (卡号/银行卡);
- ``password`` ``[密码]`` / ``sms_code`` ``[验证码]``: 4–8 digits after 密码 / 验证码·校验码·动态码 (also when the
  other party asked for it in the previous turn);
- ``number`` ``[号码]``: any other run of 12+ digits (order/account numbers: identifiers, not quantities);
- ``email`` ``[邮箱]``: ``user@host.tld`` also spoken as 艾特/at and 点/dot;
- ``name`` ``[姓名]``: a personal name only where a cue makes it unambiguous (我叫/我的名字是/机主是 + surname…,
  a surname directly before 先生/女士/小姐).

Digits are read the way they are spoken and transcribed: Arabic (half/full width), Chinese 零〇一幺二两三…九,
mixed, split by spaces, commas, dashes, pauses (``_``/…) and fillers (嗯/呃), and across two consecutive utterances
of the same speaker. A run broken by 十/百/千/万 is a quantity (五十八元, 一千三百六十八分), never a number read
digit by digit; runs followed by a unit (元, 块, 号, 月, G, 兆…) or ordinal 第 are amounts, dates and counts; hotline
and service numbers (10086, 12580, 400/800…, 106 SMS ports) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .i18n import t
from .types import Finding, Transcript, Utterance, Word

__all__ = [
    "CATEGORIES",
    "DEFAULT_CATEGORIES",
    "LABELS",
    "REDACTOR_VERSION",
    "PiiSpan",
    "RedactOptions",
    "find_pii",
    "find_pii_in_text",
    "mask_audio",
    "masked_intervals",
    "parse_categories",
    "redact_result",
    "redact_strings",
    "redact_text",
    "redact_transcript",
    "redaction_info",
]

REDACTOR_VERSION = "1"
"""Bump when detection changes, so earlier results are re-scored (it is part of the resume key)."""

LABELS: dict[str, str] = {
    "mobile": "[手机号]",
    "landline": "[电话号码]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "password": "[密码]",
    "sms_code": "[验证码]",
    "number": "[号码]",
    "email": "[邮箱]",
    "name": "[姓名]",
}
CATEGORIES: tuple[str, ...] = tuple(LABELS)
DEFAULT_CATEGORIES: frozenset[str] = frozenset(CATEGORIES)
PII_CHECK = "pii_masked"
"""Check name of the findings that record where something was masked (start/end times, category)."""


@dataclass(frozen=True)
class RedactOptions:
    enabled: bool = True
    categories: frozenset[str] = DEFAULT_CATEGORIES
    max_gap_s: float = 15.0
    """Consecutive utterances of one speaker closer than this are read as one stream (a number split by a pause)."""


def parse_categories(spec: str | Iterable[str] | None) -> frozenset[str]:
    """'mobile,id_card' / 'all' / 'all,-name' → a validated set of categories (ValueError names the bad one)."""
    if spec is None:
        return DEFAULT_CATEGORIES
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    out: set[str] = set()
    for item in items:
        neg = item.startswith("-")
        name = item[1:] if neg else item
        names = set(CATEGORIES) if name == "all" else {name}
        if not names <= set(CATEGORIES):
            raise ValueError(t("privacy.error.unknown_category", name=name, known=", ".join(("all", *CATEGORIES))))
        if neg:
            out = (out or set(CATEGORIES)) - names
        else:
            out |= names
    if not out:
        raise ValueError(t("privacy.error.no_category"))
    return frozenset(out)


def redaction_info(options: RedactOptions | None) -> dict[str, Any] | None:
    """What goes into the result's engine options (and so into the resume key)."""
    if options is None or not options.enabled:
        return None
    return {"version": REDACTOR_VERSION, "categories": sorted(options.categories)}


@dataclass(frozen=True)
class PiiSpan:
    """A masked span: utterance index (-1 for free text), half-open char span of the original text, times."""

    category: str
    start_char: int
    end_char: int
    utterance: int = -1
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.category]


# ------------------------------------------------------------------------------------------------ digits

_DIGIT = {
    **{str(i): str(i) for i in range(10)},
    **{chr(0xFF10 + i): str(i) for i in range(10)},  # full-width ０-９
    "零": "0",
    "〇": "0",
    "○": "0",
    "一": "1",
    "幺": "1",
    "么": "1",  # Whisper's usual spelling of 幺
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_CJK_DIGIT_WORDS = set("零〇○一幺么二两三四五六七八九")
_WEAK = set("么")  # 幺 misspelt, but also 什么/怎么: a digit only between two real digits
_X = set("Xx叉ｘＸ")
_SEP = set(" \t\u3000,，、-－—–_·…~～。.:：/")
_FILLERS = set("嗯呃啊额唔")
_MAGNITUDE = set("十拾百佰千仟万亿")
_UNITS = tuple(
    "元 块 角 毛 分 钱 号 日 月 年 点 时 秒 岁 个 次 G g 兆 M m K k % 折 倍 天 周 位 页 条 张 遍 楼 层 室 栋 "
    "单元 期 级 度 块钱 多 余 斤 公斤 米 里 台 部 户 人 家 项 档 种 套 笔 小时 分钟 秒钟 毫 厘".split()
)
_SERVICE_PREFIXES = ("100", "101", "106", "118", "123", "125", "400", "800", "95", "96", "114", "110", "120", "119")
_MAX_SEP_CHARS = 4  # separators/fillers allowed between two digits of one number


@dataclass(frozen=True)
class _Run:
    digits: str  # normalised 0-9 (and a final X)
    positions: tuple[int, ...]  # index in the stream of each digit
    groups: tuple[int, ...]  # digit count of each separator-delimited group

    @property
    def start(self) -> int:
        return self.positions[0]

    @property
    def end(self) -> int:
        return self.positions[-1] + 1


def _digit_runs(s: str) -> list[_Run]:
    """Maximal runs of spoken digits joined by short separators; a magnitude word (十/百…) ends a run."""
    runs: list[_Run] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch not in _DIGIT or ch in _WEAK:
            i += 1
            continue
        # a Chinese digit glued to a magnitude word (五十, 三百) is a quantity, not a digit string
        digits: list[str] = []
        pos: list[int] = []
        groups: list[int] = []
        cur = 0
        j = i
        while j < n:
            c = s[j]
            if c in _DIGIT and (c not in _WEAK or (j + 1 < n and s[j + 1] in _DIGIT and s[j + 1] not in _WEAK)):
                digits.append(_DIGIT[c])
                pos.append(j)
                cur += 1
                j += 1
                continue
            if c in _X and len(digits) == 17:
                digits.append("X")
                pos.append(j)
                cur += 1
                j += 1
                break
            # separator chunk followed by a digit continues the run
            k = j
            while k < n and k - j < _MAX_SEP_CHARS and (s[k] in _SEP or s[k] in _FILLERS or s[k] == "杠"):
                k += 1
            if k > j and k < n and s[k] not in _WEAK and (s[k] in _DIGIT or (s[k] in _X and len(digits) == 17)):
                groups.append(cur)
                cur = 0
                j = k
                continue
            break
        groups.append(cur)
        runs.extend(_split_magnitudes(s, digits, pos, groups))
        i = max(j, i + 1)
    return runs


def _split_magnitudes(s: str, digits: list[str], pos: list[int], groups: list[int]) -> list[_Run]:
    """Drop Chinese digits that touch a magnitude word (三百, 五十八) from the ends of a run."""
    # trailing: "...一三八" followed by 十 → the last digit belongs to a quantity
    while pos and pos[-1] + 1 < len(s) and s[pos[-1] + 1] in _MAGNITUDE and s[pos[-1]] in _CJK_DIGIT_WORDS:
        digits.pop()
        pos.pop()
        groups[-1] -= 1
        if groups[-1] == 0:
            groups.pop()
    lead = 0
    while lead < len(pos) and pos[lead] > 0 and s[pos[lead] - 1] in _MAGNITUDE and s[pos[lead]] in _CJK_DIGIT_WORDS:
        lead += 1
        break
    if lead:
        digits, pos = digits[lead:], pos[lead:]
        groups = list(groups)
        groups[0] -= lead
        if groups and groups[0] == 0:
            groups.pop(0)
    if not digits:
        return []
    return [_Run("".join(digits), tuple(pos), tuple(g for g in groups if g > 0))]


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(value: str) -> bool:
    """GB 11643 check character (ISO 7064 MOD 11-2) of an 18-character resident ID."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return _ID_CHECK[sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11] == value[17].upper()


def _plausible_birth(value: str) -> bool:
    y, m, d = value[6:10], value[10:12], value[12:14]
    return y[:2] in ("19", "20") and "01" <= m <= "12" and "01" <= d <= "31"


# ------------------------------------------------------------------------------------------------ cues

_CUES: tuple[tuple[str, str], ...] = (
    # (regex, category); the cue nearest before a number decides
    (r"密码|口令", "password"),
    (r"验证码|校验码|动态码|短信码|随机码|认证码|确认码", "sms_code"),
    (r"身份证|证件号|证件号码|身份号", "id_card"),
    (r"银行卡|卡号|储蓄卡|信用卡|借记卡|账号|帐号|账户|帐户", "bank_card"),
    (r"手机|电话|号码|座机|联系方式|联系人|来电|回拨|打给|拨打|号是|机主", "phone"),
)
_CUE_RE = re.compile("|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_CUES)))
_LEAD_FILLER = " ，,、嗯呃啊额哦是就好的对那"
_CUE_WINDOW = 20  # characters before a number in which a cue counts


def _nearest_cue(context: str) -> str | None:
    last: str | None = None
    for m in _CUE_RE.finditer(context[-_CUE_WINDOW:]):
        last = _CUES[int(m.lastgroup[1:])][1]  # type: ignore[index]
    return last


def _is_service(d: str) -> bool:
    """Hotline and service numbers QA needs to see (10086, 1008611, 12580, 95588, 400/800…, 106 SMS ports)."""
    n = len(d)
    if n <= 6:
        return True  # (a 4–6 digit password or code needs its cue, checked before this)
    if d.startswith(("400", "800")) and n == 10:
        return True
    if d.startswith("106"):
        return True
    return d.startswith(("100", "101", "118", "123", "125", "95", "96")) and n <= 8


def _classify(d: str, cue: str | None, unit_after: bool, ordinal_before: bool) -> str | None:
    """The category of one digit string in context, or None to keep it."""
    n = len(d)
    has_x = d.endswith("X")
    if cue in ("password", "sms_code") and 4 <= n <= 8 and not has_x:
        return cue
    if (unit_after or ordinal_before) and n < 11:
        return None
    if has_x:
        return "id_card" if n == 18 else None
    if n == 11 and d[0] == "1" and d[1] in "3456789":
        return "mobile"
    if n == 13 and d.startswith("861") and d[3] in "3456789":
        return "mobile"
    if _is_service(d):
        return None
    if n == 18:
        if cue == "bank_card" and luhn_ok(d):
            return "bank_card"
        if cue == "id_card" or (id_checksum_ok(d) and _plausible_birth(d)):
            return "id_card"
        if luhn_ok(d):
            return "bank_card"
        return "id_card" if id_checksum_ok(d) or _plausible_birth(d) else "number"
    if n == 15 and cue == "id_card":
        return "id_card"
    if 16 <= n <= 19:
        return "bank_card" if luhn_ok(d) or cue == "bank_card" else "number"
    if 12 <= n <= 19 and cue == "bank_card":
        return "bank_card"
    if d[0] == "0" and d[1] != "0" and 10 <= n <= 12:
        return "landline"
    if cue == "phone" and 7 <= n <= 12:
        return "mobile" if n >= 10 and d[0] == "1" else "landline"
    if cue == "id_card" and n >= 14:
        return "id_card"
    if n >= 12:
        return "number"
    return None


def _partition(run: _Run) -> list[tuple[int, int]] | None:
    """Split a run that is two numbers read in a row ("138…，340…") at group boundaries: digit index spans
    that each classify on their own, covering the whole run; None when there is none."""
    bounds = [0]
    for g in run.groups:
        bounds.append(bounds[-1] + g)
    nb = len(bounds)
    if nb > 12:
        return None
    best: dict[int, list[tuple[int, int]]] = {0: []}
    for i in range(nb):
        if i not in best:
            continue
        for j in range(i + 1, nb):
            d = run.digits[bounds[i] : bounds[j]]
            if _classify(d, None, False, False) in ("mobile", "id_card", "bank_card", "landline") and j not in best:
                best[j] = best[i] + [(bounds[i], bounds[j])]
    return best.get(nb - 1)


# ------------------------------------------------------------------------------------------------ text

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}\s*(?:@|＠|艾特|\bat\b|圈a)\s*"
    r"[A-Za-z0-9\-]+(?:\s*(?:\.|点|dot)\s*[A-Za-z0-9\-]+)*\s*(?:\.|点|dot)\s*(?:com|cn|net|org|edu|gov|cc|io|me|top)\b",
    re.IGNORECASE,
)
_QQ_MAIL_RE = re.compile(r"(?<![0-9])[0-9]{5,12}\s*(?:@|＠|艾特|at)\s*qq\s*(?:\.|点|dot)\s*com", re.IGNORECASE)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝欧阳司马上官诸葛东方皇甫令狐"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "尉迟", "公孙", "慕容", "长孙", "宇文")
_NAME_CHAR = r"[\u4e00-\u9fff]"
_NOT_NAME_END = set("的了吗呢吧啊呀哦嗯是在有和跟就也都还要想说叫")
_NAME_CUE_RE = re.compile(
    r"(?:我叫|我的名字叫|我的名字是|名字叫|本人叫|机主是|机主叫|户主是|户主叫|机主姓名是|姓名是|联系人是)\s*"
    rf"(?P<name>(?:{'|'.join(_COMPOUND_SURNAMES)}|[{_SURNAMES}]){_NAME_CHAR}{{1,2}})"
)
_TITLE_RE = re.compile(rf"(?P<name>[{_SURNAMES}])(?=先生|女士|小姐)")
_TITLE_OK_BEFORE = set("好是的哦啊嗯喂位这您叫姓") | {""}
_NOT_SURNAME_WORDS = ("谢谢", "对于", "关于", "由于", "至于", "等于", "属于", "多于", "位于", "处于", "高于", "大于")


def _find_names(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _NAME_CUE_RE.finditer(text):
        a, b = m.span("name")
        while b - a > 2 and text[b - 1] in _NOT_NAME_END:  # 我叫张三的 → 张三
            b -= 1
        if text[b - 1] in _NOT_NAME_END:
            continue
        spans.append((a, b))
    for m in _TITLE_RE.finditer(text):
        a = m.start("name")
        before = text[a - 1] if a > 0 else ""
        if text[max(0, a - 1) : a + 1] in _NOT_SURNAME_WORDS:
            continue
        if before and ("\u4e00" <= before <= "\u9fff") and before not in _TITLE_OK_BEFORE:
            continue
        if any(s <= a < e for s, e in spans):
            continue
        spans.append((a, a + 1))
    return spans


@dataclass(frozen=True)
class _Piece:
    """One utterance's text inside a speaker's stream."""

    utterance: int
    offset: int  # where its text starts in the stream
    length: int


def _stream_spans(
    stream: str, opts: RedactOptions, cue_context: Mapping[int, str] | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, category) spans of the digits found in `stream`; `cue_context` maps a stream offset where a
    new utterance starts to the text said just before it by anyone (cues asked by the other party)."""
    out: list[tuple[int, int, str]] = []
    for run in _digit_runs(stream):
        context = stream[max(0, run.start - _CUE_WINDOW) : run.start]
        cue = _nearest_cue(context)
        if cue is None and cue_context:
            # the run opens an utterance (after fillers): the previous turn's cue counts (请您报一下验证码 → 三八五九)
            starts = [
                o for o in cue_context if o <= run.start and not stream[o : run.start].strip(" ，,、嗯呃啊额是就")
            ]
            if starts:
                cue = _nearest_cue(cue_context[max(starts)])
        after = stream[run.end : run.end + 2]
        unit_after = after.startswith(_UNITS)
        ordinal_before = run.start > 0 and stream[run.start - 1] in "第前后近约共"
        cat = _classify(run.digits, cue, unit_after, ordinal_before)
        if cat is not None:
            out.append((run.start, run.end, cat))
            continue
        if len(run.groups) > 1 and len(run.digits) >= 18:
            for a, b in _partition(run) or []:
                sub = run.digits[a:b]
                cat = _classify(sub, None, False, False)
                if cat:
                    out.append((run.positions[a], run.positions[b - 1] + 1, cat))
    return [s for s in out if s[2] in opts.categories]


def _text_spans(text: str, opts: RedactOptions) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    if "email" in opts.categories:
        for m in _EMAIL_RE.finditer(text):
            a = m.start()
            while a > 0 and (text[a - 1].isascii() and (text[a - 1].isalnum() or text[a - 1] in "._- ")):
                a -= 1  # a user name Whisper split into pieces ("zhang san at qq.com")
            while a < m.start() and text[a] == " ":
                a += 1
            out.append((a, m.end(), "email"))
        out += [(m.start(), m.end(), "email") for m in _QQ_MAIL_RE.finditer(text)]
    if "name" in opts.categories:
        out += [(a, b, "name") for a, b in _find_names(text)]
    return out


def _merge(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans → one (the first, longest wins the category)."""
    merged: list[tuple[int, int, str]] = []
    for a, b, c in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if merged and a < merged[-1][1]:
            pa, pb, pc = merged[-1]
            merged[-1] = (pa, max(pb, b), pc)
        else:
            merged.append((a, b, c))
    return merged


def find_pii_in_text(text: str, options: RedactOptions | None = None) -> list[PiiSpan]:
    """PII spans in one free-standing string (a search query, a metadata value, a finding's evidence)."""
    opts = options or RedactOptions()
    if not opts.enabled or not text:
        return []
    spans = _stream_spans(text, opts) + _text_spans(text, opts)
    return [PiiSpan(c, a, b) for a, b, c in _merge(spans)]


def _apply(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    out, last = [], 0
    for a, b, c in sorted(spans):
        if a < last:
            continue
        out.append(text[last:a])
        out.append(LABELS[c])
        last = b
    out.append(text[last:])
    return "".join(out)


def redact_text(text: str, options: RedactOptions | None = None) -> str:
    """`text` with every PII span replaced by its placeholder."""
    spans = find_pii_in_text(text, options)
    return _apply(text, [(s.start_char, s.end_char, s.category) for s in spans]) if spans else text


# ------------------------------------------------------------------------------------------------ transcripts


def find_pii(transcript: Transcript, options: RedactOptions | None = None) -> list[PiiSpan]:
    """Every PII span of a transcript, per utterance (a number split across two utterances of one speaker gives
    one span in each), with times from word timestamps where present."""
    opts = options or RedactOptions()
    if not opts.enabled:
        return []
    utts = transcript.utterances
    found: dict[int, list[tuple[int, int, str]]] = {}
    # one stream per speaker: consecutive utterances joined by a separator, so "…一三八" + "一二三四…" is one run
    by_speaker: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_speaker.setdefault(u.speaker, []).append(i)
    for idxs in by_speaker.values():
        parts: list[str] = []
        pieces: list[_Piece] = []
        cue_context: dict[int, str] = {}
        pos = 0
        prev_end: float | None = None
        for i in idxs:
            u = utts[i]
            text = u.text or ""
            if parts:
                joiner = "，" if prev_end is not None and u.start - prev_end <= opts.max_gap_s else "\n\n\n\n\n"
                parts.append(joiner)
                pos += len(joiner)
            cue_context[pos] = _previous_text(utts, i, opts.max_gap_s * 2)
            pieces.append(_Piece(i, pos, len(text)))
            parts.append(text)
            pos += len(text)
            prev_end = u.end
        stream = "".join(parts)
        for a, b, c in _stream_spans(stream, opts, cue_context):
            for p in pieces:
                lo, hi = max(a, p.offset), min(b, p.offset + p.length)
                if lo < hi:
                    found.setdefault(p.utterance, []).append((lo - p.offset, hi - p.offset, c))
    for i, u in enumerate(utts):
        extra = _text_spans(u.text or "", opts)
        if extra:
            found.setdefault(i, []).extend(extra)
    spans: list[PiiSpan] = []
    for i in sorted(found):
        u = utts[i]
        for a, b, c in _merge(found[i]):
            t0, t1 = _span_times(u, a, b)
            spans.append(PiiSpan(c, a, b, i, t0, t1, u.speaker))
    return spans


def _previous_text(utts: Sequence[Utterance], i: int, max_gap_s: float) -> str:
    """What was said just before utterance i (the two previous utterances, any speaker, if recent)."""
    out: list[str] = []
    for j in range(i - 1, max(-1, i - 3), -1):
        if utts[i].start - utts[j].end > max_gap_s:
            break
        out.insert(0, utts[j].text or "")
    return "，".join(out)


def _word_offsets(u: Utterance) -> list[tuple[int, int]]:
    """Char span of each word in `u.text` (words concatenate to the text; found in order when they do not)."""
    offsets: list[tuple[int, int]] = []
    if "".join(w.text for w in u.words).strip() == u.text:
        pos = -(len("".join(w.text for w in u.words)) - len("".join(w.text for w in u.words).lstrip()))
        for w in u.words:
            offsets.append((max(0, pos), max(0, pos + len(w.text))))
            pos += len(w.text)
        return offsets
    pos = 0
    for w in u.words:
        key = w.text.strip()
        k = u.text.find(key, pos) if key else -1
        if k < 0:
            offsets.append((pos, pos))
        else:
            offsets.append((k, k + len(key)))
            pos = k + len(key)
    return offsets


def _span_times(u: Utterance, a: int, b: int) -> tuple[float, float]:
    if u.words:
        offs = _word_offsets(u)
        hit = [w for w, (s, e) in zip(u.words, offs, strict=True) if s < b and e > a]
        if hit:
            return min(w.start for w in hit), max(w.end for w in hit)
    n = max(len(u.text), 1)
    dur = u.end - u.start
    return u.start + dur * a / n, u.start + dur * min(b, n) / n


def _redact_words(u: Utterance, spans: Sequence[tuple[int, int, str]]) -> tuple[Word, ...]:
    if not u.words:
        return ()
    offs = _word_offsets(u)
    out: list[Word] = []
    for w, (s, e) in zip(u.words, offs, strict=True):
        text = w.text
        lead = len(text) - len(text.lstrip()) if s == 0 else 0
        pieces, cursor = [], s
        for a, b, c in spans:
            if a >= e or b <= s:
                continue
            lo, hi = max(a, s), min(b, e)
            pieces.append(u.text[cursor:lo])
            if lo == a:  # the word where the span begins carries the placeholder
                pieces.append(LABELS[c])
            cursor = hi
        if cursor == s and not pieces:
            out.append(w)
            continue
        pieces.append(u.text[cursor:e])
        out.append(replace(w, text=text[:lead] + "".join(pieces)))
    return tuple(out)


def redact_transcript(transcript: Transcript, options: RedactOptions | None = None) -> tuple[Transcript, list[PiiSpan]]:
    """The transcript with PII replaced by placeholders (text and word texts), and the spans masked."""
    spans = find_pii(transcript, options)
    if not spans:
        return transcript, []
    per_utt: dict[int, list[tuple[int, int, str]]] = {}
    for s in spans:
        per_utt.setdefault(s.utterance, []).append((s.start_char, s.end_char, s.category))
    utts = list(transcript.utterances)
    for i, sp in per_utt.items():
        u = utts[i]
        utts[i] = replace(u, text=_apply(u.text, sp), words=_redact_words(u, sorted(sp)))
    return replace(transcript, utterances=tuple(utts)), spans


# ------------------------------------------------------------------------------------------------ results


def redact_strings(value: Any, replacements: Sequence[tuple[str, str]], options: RedactOptions) -> Any:
    """Every string inside `value` (dicts, lists, tuples) with the known originals replaced and PII masked."""
    if isinstance(value, str):
        for orig, label in replacements:
            if orig in value:
                value = value.replace(orig, label)
        return redact_text(value, options)
    if isinstance(value, dict):
        return {k: redact_strings(v, replacements, options) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(v, replacements, options) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_strings(v, replacements, options) for v in value)
    return value


def redact_result(result: Any, options: RedactOptions | None = None) -> Any:
    """A CallResult with the transcript, findings' evidence/detail, score reasons and extra metadata redacted,
    plus one ``pii_masked`` finding per masked span (time, speaker, category: what audio export masks)."""
    opts = options or RedactOptions()
    if not opts.enabled:
        return result
    changes: dict[str, Any] = {}
    spans: list[PiiSpan] = []
    replacements: list[tuple[str, str]] = []
    if result.transcript is not None:
        originals = [u.text for u in result.transcript.utterances]
        new_tr, spans = redact_transcript(result.transcript, opts)
        changes["transcript"] = new_tr
        for s in spans:
            orig = originals[s.utterance][s.start_char : s.end_char]
            if len(orig) >= 4:  # short fragments (a split number's tail) could match ordinary text
                replacements.append((orig, s.label))
        replacements.sort(key=lambda r: -len(r[0]))
    checks = [
        replace(
            f,
            evidence=redact_strings(f.evidence, replacements, opts),
            detail=redact_strings(f.detail, replacements, opts),
        )
        for f in result.checks
        if f.check != PII_CHECK
    ]
    checks += [
        Finding(
            PII_CHECK,
            "pass",
            start=s.start_s,
            end=s.end_s,
            speaker=s.speaker,  # type: ignore[arg-type]
            evidence=s.label,
            detail={"category": s.category, "utterance": s.utterance, "chars": [s.start_char, s.end_char]},
        )
        for s in spans
    ]
    changes["checks"] = tuple(checks)
    if result.score is not None:
        items = tuple(
            replace(i, reasons=tuple(redact_strings(list(i.reasons), replacements, opts))) for i in result.score.items
        )
        changes["score"] = replace(result.score, items=items)
    if result.tags:  # tags from rules carry the sentence that set them (rules, issue 12)
        changes["tags"] = tuple(
            replace(tag, evidence=redact_strings(tag.evidence, replacements, opts)) for tag in result.tags
        )
    md = result.metadata
    if md.extra:
        changes["metadata"] = replace(md, extra=redact_strings(dict(md.extra), replacements, opts))
    if result.error:
        changes["error"] = redact_text(result.error, opts)
    return replace(result, **changes)


# ------------------------------------------------------------------------------------------------ audio


def masked_intervals(result: Mapping[str, Any], pad_s: float = 0.15) -> list[tuple[float, float]]:
    """Time spans to mask in any audio written from this call (result JSON or a row list with start/end)."""
    spans: list[tuple[float, float]] = []
    for c in result.get("checks") or []:
        if c.get("check") == PII_CHECK and c.get("start") is not None and c.get("end") is not None:
            spans.append((max(0.0, float(c["start"]) - pad_s), float(c["end"]) + pad_s))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def mask_audio(
    data: np.ndarray,
    sample_rate: int,
    intervals: Iterable[tuple[float, float]],
    *,
    offset_s: float = 0.0,
    mode: str = "tone",
    tone_hz: float = 1000.0,
    level: float = 0.1,
) -> np.ndarray:
    """A copy of `data` (frames or frames×channels, starting `offset_s` into the call) with every interval of
    call time replaced, on all channels, by a quiet tone (``mode="tone"``) or silence (``"silence"``)."""
    if mode not in ("tone", "silence"):
        raise ValueError(f"mask mode must be tone or silence, not {mode!r}")
    out = np.array(data, copy=True)
    n = out.shape[0]
    for a, b in intervals:
        i0 = max(0, int(np.floor((a - offset_s) * sample_rate)))
        i1 = min(n, int(np.ceil((b - offset_s) * sample_rate)))
        if i1 <= i0:
            continue
        if mode == "silence":
            out[i0:i1] = 0
            continue
        times = (np.arange(i0, i1) / sample_rate).astype(np.float64)
        tone = (level * np.sin(2 * np.pi * tone_hz * times)).astype(out.dtype if out.dtype.kind == "f" else np.float32)
        if out.dtype.kind != "f":
            tone = (tone * np.iinfo(out.dtype).max).astype(out.dtype)
        out[i0:i1] = tone[:, None] if out.ndim == 2 else tone
    return out


def spans_summary(spans: Iterable[PiiSpan]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in spans:
        counts[s.category] = counts.get(s.category, 0) + 1
    return counts


def redact_result_json(data: dict[str, Any], options: RedactOptions | None = None) -> dict[str, Any]:
    """A result JSON that was written without redaction (`--no-redact`, or before callqa redacted) redacted the
    same way `redact_result` does, for `callqa import`; a result that records its redaction is returned as is."""
    opts = options or RedactOptions()
    engine = data.get("engine") or {}
    if not opts.enabled or (engine.get("options") or {}).get("redaction") is not None:
        return data
    utts = []
    for u in data.get("utterances") or []:
        words = tuple(
            Word(str(w.get("text") or ""), float(w.get("start") or 0), float(w.get("end") or 0), w.get("probability"))
            for w in u.get("words") or []
        )
        utts.append(
            Utterance(u.get("speaker", "unknown"), float(u["start"]), float(u["end"]), u.get("text") or "", words)
        )
    originals = [u.text for u in utts]
    red, spans = redact_transcript(Transcript(tuple(utts), "import"), opts)
    out = dict(data)
    new_utts = []
    for raw, u in zip(data.get("utterances") or [], red.utterances, strict=True):
        d = dict(raw, text=u.text)
        if raw.get("words"):
            d["words"] = [dict(w, text=nw.text) for w, nw in zip(raw["words"], u.words, strict=True)]
        new_utts.append(d)
    out["utterances"] = new_utts
    replacements = sorted(
        {(originals[s.utterance][s.start_char : s.end_char], s.label) for s in spans if s.end_char - s.start_char >= 4},
        key=lambda r: -len(r[0]),
    )
    checks = [
        dict(
            c,
            evidence=redact_strings(c.get("evidence") or "", replacements, opts),
            detail=redact_strings(c.get("detail") or {}, replacements, opts),
        )
        for c in data.get("checks") or []
        if c.get("check") != PII_CHECK
    ]
    checks += [
        {
            "check": PII_CHECK,
            "status": "pass",
            "start": s.start_s,
            "end": s.end_s,
            "speaker": s.speaker,
            "evidence": s.label,
            "detail": {"category": s.category, "utterance": s.utterance, "chars": [s.start_char, s.end_char]},
        }
        for s in spans
    ]
    out["checks"] = checks
    if data.get("score"):
        out["score"] = dict(
            data["score"],
            items=[
                dict(i, reasons=redact_strings(list(i.get("reasons") or []), replacements, opts))
                for i in data["score"].get("items") or []
            ],
        )
    known = {"agent_name", "team", "started_at", "queue", "transferred_at"}
    md = data.get("metadata") or {}
    out["metadata"] = {k: (v if k in known else redact_strings(v, replacements, opts)) for k, v in md.items()}
    if data.get("error"):
        out["error"] = redact_text(str(data["error"]), opts)
    if engine:
        out["engine"] = dict(engine, options={**(engine.get("options") or {}), "redaction": redaction_info(opts)})
    return out
