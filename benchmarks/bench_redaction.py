"""Redaction benchmark: recall per PII category on generated mentions, false redactions on ordinary 10086 talk.

    python benchmarks/bench_redaction.py [--mentions 2400] [--seed 7] [--json out.json]

Positives: PII mentions in every form Whisper writes them (Arabic, Chinese 一二三/幺/两/零〇 and mixed digits, split
by spaces, commas, dashes, pauses and fillers, across two utterances of the same speaker, asked for by the agent and
read by the customer), embedded in agent/customer turns. A mention counts as found when every character of it is
inside a masked span of the right category.

Negatives (nothing may be masked): the real 10086 transcripts in ``../shared/real-audio/text/`` and the sample
calls' transcripts (``data_samples/*.transcript.json``), plus generated ordinary talk full of numbers that QA
needs: prices and amounts, dates and times, durations, hotline and service numbers, package names, 4G/5G, counts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_pipeline.privacy import find_pii  # noqa: E402
from qa_pipeline.types import Transcript, Utterance  # noqa: E402

CN = "零一二三四五六七八九"
FILLERS = ("嗯", "呃", "啊")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌小晓海波"


@dataclass(frozen=True)
class Case:
    utterances: tuple[Utterance, ...]
    category: str
    pii: tuple[tuple[int, str], ...]  # (utterance index, substring that must be masked)
    form: str


# ------------------------------------------------------------------------------------------- numbers


def luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        s = prefix + d
        total = 0
        for i, ch in enumerate(reversed(s)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return s
    raise AssertionError


def make_mobile(r: random.Random) -> str:
    return "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))


def make_landline(r: random.Random) -> tuple[str, int]:
    area = r.choice(["010", "020", "021", "022", "023", "024", "025", "027", "028", "029"] + ["0755", "0571", "0531"])
    local = r.choice("2345678") + "".join(
        r.choice("0123456789") for _ in range(7 if len(area) == 3 else r.choice([6, 7]))
    )
    return area + local, len(area)


def make_id(r: random.Random) -> str:
    from qa_pipeline.privacy import _ID_CHECK, _ID_WEIGHTS

    region = r.choice(["110105", "310104", "440305", "330106", "510107", "420111", "370102", "230102"])
    birth = f"{r.randint(1950, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
    seq = f"{r.randint(0, 999):03d}"
    body = region + birth + seq
    return body + _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def make_card(r: random.Random) -> str:
    n = r.choice([16, 16, 17, 18, 19, 19])
    bin_ = r.choice(["622202", "621700", "622848", "621226", "623668", "436742", "625965", "622588"])
    return luhn_complete(bin_ + "".join(r.choice("0123456789") for _ in range(n - len(bin_) - 1)))


def make_code(r: random.Random) -> str:
    return "".join(r.choice("0123456789") for _ in range(r.choice([4, 6, 6, 6, 8])))


def groups_of(number: str, kind: str, r: random.Random) -> list[str]:
    """How a person chunks the number when reading it."""
    if kind == "mobile":
        return [number[:3], number[3:7], number[7:]]
    if kind == "id_card":
        return r.choice(
            [
                [number[:6], number[6:14], number[14:]],
                [number[:3], number[3:6], number[6:10], number[10:14], number[14:]],
            ]
        )
    if kind == "bank_card":
        return [number[i : i + 4] for i in range(0, len(number), 4)]
    if kind == "code":
        return [number[:3], number[3:]] if len(number) >= 6 else [number]
    return [number]


def spell(digits: str, style: str, r: random.Random) -> str:
    """Digits as Whisper may write them."""
    out = []
    for ch in digits:
        if ch == "X":
            out.append(r.choice("Xx"))
        elif style == "arabic":
            out.append(ch)
        elif style == "fullwidth":
            out.append(chr(0xFF10 + int(ch)))
        else:  # chinese
            if ch == "1":
                out.append(r.choice("一幺幺"))
            elif ch == "0":
                out.append(r.choice("零零〇"))
            elif ch == "2" and r.random() < 0.15:
                out.append("两")
            else:
                out.append(CN[int(ch)])
    return "".join(out)


FORMS = (
    "arabic",
    "arabic_spaced",
    "arabic_commas",
    "chinese",
    "chinese_commas",
    "mixed",
    "fillers",
    "dashes",
    "fullwidth",
)


def render(groups: list[str], form: str, r: random.Random) -> str:
    if form == "arabic":
        return "".join(groups)
    if form == "fullwidth":
        return spell("".join(groups), "fullwidth", r)
    if form == "arabic_spaced":
        return " ".join(groups)
    if form == "arabic_commas":
        return "，".join(groups)
    if form == "dashes":
        return "-".join(groups)
    if form == "chinese":
        return spell("".join(groups), "chinese", r)
    if form == "chinese_commas":
        return r.choice(["，", " ", "、"]).join(spell(g, "chinese", r) for g in groups)
    if form == "mixed":
        return r.choice(["", " ", "，"]).join(spell(g, r.choice(["arabic", "chinese"]), r) for g in groups)
    if form == "fillers":
        sep = [r.choice(["，", " "]) + r.choice(FILLERS) + r.choice(["，", " ", ""]) for _ in groups[1:]]
        style = r.choice(["arabic", "chinese"])
        return spell(groups[0], style, r) + "".join(
            s + spell(g, style, r) for s, g in zip(sep, groups[1:], strict=True)
        )
    raise ValueError(form)


# ------------------------------------------------------------------------------------------- dialogues

AGENT_OPEN = [
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "您好，请问有什么可以帮到您？",
    "您好，这边是10086，请问您要办理什么业务？",
]
NUMBER_TEMPLATES = {
    "mobile": (
        ["请问您的手机号码是多少？", "麻烦您报一下要查询的手机号码。", "您要办理的是哪个号码？"],
        [
            "我的手机号是{n}",
            "号码是{n}",
            "{n}",
            "就是{n}这个号",
            "嗯，{n}",
            "我用的是{n}，帮我查一下话费",
            "你记一下，{n}",
        ],
        ["您的号码是{n}，对吗？", "好的，{n}，我这边帮您查询。"],
    ),
    "landline": (
        ["请您留一个联系电话。", "您方便留个座机吗？"],
        ["座机是{n}", "家里电话{n}", "你打这个电话{n}找我", "{n}，这是我单位的"],
        ["好的，座机号码是{n}，稍后会有工作人员联系您。"],
    ),
    "id_card": (
        ["请您提供一下机主的身份证号码。", "为了核实身份，请您报一下身份证号。"],
        ["我的身份证号是{n}", "{n}", "身份证{n}", "证件号码是{n}"],
        ["您的身份证号码是{n}，核对无误。"],
    ),
    "bank_card": (
        ["请问您要绑定的银行卡号是多少？", "您是用哪张卡缴费的？"],
        ["卡号是{n}", "银行卡{n}", "{n}，工商银行的", "就是这张{n}"],
        ["好的，您的卡号是{n}。"],
    ),
    "password": (
        ["请您说一下服务密码。", "为了验证身份，麻烦您提供一下服务密码。"],
        ["服务密码是{n}", "密码{n}", "我的密码是{n}", "{n}"],
        ["您说的密码是{n}对吧？"],
    ),
    "sms_code": (
        ["我给您发了一个验证码，请您念一下。", "请您报一下收到的短信验证码。"],
        ["验证码是{n}", "{n}", "收到了，验证码{n}", "校验码{n}"],
        ["好的，验证码{n}已经验证通过。"],
    ),
}
CLOSERS = ["好的，我这边帮您查询一下，请您稍等。", "好的，已经为您记录了。", "嗯好的。"]


def _case_number(kind: str, r: random.Random) -> Case:
    if kind == "mobile":
        number, groups = make_mobile(r), None
    elif kind == "landline":
        number, alen = make_landline(r)
        groups = (
            [number[:alen], number[alen:]]
            if r.random() < 0.7
            else [number[:alen], number[alen : alen + 4], number[alen + 4 :]]
        )
    elif kind == "id_card":
        number, groups = make_id(r), None
        if r.random() < 0.1:
            number = number[:17] + "X"
    elif kind == "bank_card":
        number, groups = make_card(r), None
    else:
        number, groups = make_code(r), None
    groups = groups or groups_of(number, "code" if kind in ("password", "sms_code") else kind, r)
    form = r.choice(FORMS)
    if number.endswith("X") and form in ("chinese", "chinese_commas", "mixed", "fillers", "fullwidth"):
        form = r.choice(["arabic", "arabic_spaced"])
    text = render(groups, form, r)
    asks, says, confirms = NUMBER_TEMPLATES[kind]
    utts: list[tuple[str, str]] = [("agent", r.choice(AGENT_OPEN))]
    mode = r.random()
    pii: list[tuple[int, str]] = []
    split = kind in ("mobile", "id_card", "bank_card", "landline") and len(groups) >= 2 and r.random() < 0.2
    if mode < 0.6:  # the agent asks, the customer reads it
        utts.append(("agent", r.choice(asks)))
        template = r.choice(says)
    else:  # the customer volunteers it (with a cue of their own)
        template = r.choice([s for s in says if not s.startswith("{n}")] or says)
    if split:  # "一三八一二三四" … pause … "五六七八" (same speaker, two utterances)
        cut = r.randint(1, len(groups) - 1)
        first, second = render(groups[:cut], form, r), render(groups[cut:], form, r)
        # the pause falls inside the number: the first piece ends its utterance, the rest opens the next
        utts.append(("customer", template.split("{n}")[0] + first))
        pii.append((len(utts) - 1, first))
        if r.random() < 0.5:
            utts.append(("agent", "嗯"))
        utts.append(("customer", second + template.split("{n}")[1]))
        pii.append((len(utts) - 1, second))
        text_form = f"{form}+split"
    else:
        utts.append(("customer", template.replace("{n}", text)))
        pii.append((len(utts) - 1, text))
        text_form = form
    if r.random() < 0.3:
        again = render(groups, r.choice(FORMS[:4]), r) if not number.endswith("X") else number
        utts.append(("agent", r.choice(confirms).replace("{n}", again)))
        pii.append((len(utts) - 1, again))
    utts.append(("agent", r.choice(CLOSERS)))
    return Case(_timed(utts), kind, tuple(pii), text_form)


def _case_email(r: random.Random) -> Case:
    user = r.choice(["zhangsan", "li.wei", "wangfang88", "chen_jie", "liu2019", "xiaoming.wang", "abc123"])
    user = user if r.random() < 0.8 else str(r.randint(10000, 999999999))
    host = r.choice(["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "139.com", "foxmail.com", "sohu.com.cn"])
    form = r.choice(["plain", "spaced_at", "aite", "dian", "upper"])
    if form == "plain":
        e = f"{user}@{host}"
    elif form == "spaced_at":
        e = f"{user} at {host}"
    elif form == "aite":
        e = f"{user}艾特{host}"
    elif form == "dian":
        e = f"{user}@{host.replace('.', '点')}"
    else:
        e = f"{user.upper()}@{host.upper()}"
    utts = [("agent", r.choice(AGENT_OPEN)), ("agent", "请您留一个邮箱地址。")]
    utts.append(("customer", r.choice(["邮箱是{e}", "发到我邮箱{e}", "{e}", "我的邮箱{e}，谢谢"]).replace("{e}", e)))
    utts.append(("agent", r.choice(CLOSERS)))
    return Case(_timed(utts), "email", ((2, e),), form)


def _case_name(r: random.Random) -> Case:
    surname = r.choice(SURNAMES)
    name = surname + "".join(r.choice(GIVEN) for _ in range(r.choice([1, 2])))
    form = r.choice(["wojiao", "jizhu", "title", "title_female"])
    utts = [("agent", r.choice(AGENT_OPEN))]
    if form == "wojiao":
        utts.append(
            ("customer", r.choice(["我叫{n}，我想查一下话费", "你好，我叫{n}", "我的名字叫{n}"]).replace("{n}", name))
        )
        pii = ((1, name),)
    elif form == "jizhu":
        utts.append(("agent", "请问机主姓名是？"))
        utts.append(("customer", r.choice(["机主是{n}", "机主叫{n}，是我爱人"]).replace("{n}", name)))
        pii = ((2, name),)
    else:
        title = "先生" if form == "title" else r.choice(["女士", "小姐"])
        utts.append(("customer", "你好，我想问一下流量的事情"))
        utts.append(
            (
                "agent",
                r.choice(["好的{s}{t}，请您稍等", "{s}{t}您好，我这边帮您查询", "您好{s}{t}，还有其他问题吗？"]).format(
                    s=surname, t=title
                ),
            )
        )
        pii = ((2, surname),)
    utts.append(("agent", r.choice(CLOSERS)))
    return Case(_timed(utts), "name", pii, form)


def _timed(utts: list[tuple[str, str]]) -> tuple[Utterance, ...]:
    t, out = 0.5, []
    for speaker, text in utts:
        d = 0.3 + 0.22 * len(text)
        out.append(Utterance(speaker, round(t, 2), round(t + d, 2), text))  # type: ignore[arg-type]
        t += d + 0.6
    return tuple(out)


CATEGORIES = ("mobile", "landline", "id_card", "bank_card", "password", "sms_code", "email", "name")


def generate_cases(n: int, seed: int = 7) -> list[Case]:
    r = random.Random(seed)
    cases = []
    for i in range(n):
        kind = CATEGORIES[i % len(CATEGORIES)]
        cases.append(_case_email(r) if kind == "email" else _case_name(r) if kind == "name" else _case_number(kind, r))
    return cases


def mention_found(case: Case, spans) -> bool:  # type: ignore[no-untyped-def]
    for utt, sub in case.pii:
        text = case.utterances[utt].text
        a = text.find(sub)
        assert a >= 0, (text, sub)
        covered = set()
        for s in spans:
            if s.utterance == utt and s.category == case.category:
                covered.update(range(s.start_char, s.end_char))
        need = {i for i in range(a, a + len(sub)) if not text[i].isspace() and text[i] not in "，、-"}
        if not need <= covered:
            return False
    return True


# ------------------------------------------------------------------------------------------- negatives

NEG_TEMPLATES = [
    "您好，您这个月的套餐费是{price}元，已经扣过了。",
    "您本月话费一共是{cn_price}元，其中流量费{cn_small}元。",
    "现在有个{pkg}，每月{price}元，包含{gb}G国内流量和{mins}分钟通话。",
    "您的余额还有{cn_price}元{cn_small}角。",
    "八十六元五角是您上个月的消费。",
    "这个活动是{month}月{day}号开始的，{cn_month}月{cn_day}号结束。",
    "您是{year}年{month}月{day}日开通的这个业务。",
    "您是二零{cn_yy}年开的卡，到现在已经{cn_small}年了。",
    "我们会在{cn_hours}个小时之内给您回复。",
    "工作人员会在{hours}小时内联系您，最晚{time}之前。",
    "您明天上午{cn_clock}点到{cn_clock2}点之间保持电话畅通。",
    "有问题您可以随时拨打10086咨询。",
    "您可以拨打{hotline}查询，或者发短信到10086。",
    "您发送CXYE到10086就可以查询余额。",
    "这个可以通过12580办理，也可以拨打{hotline}。",
    "您的手机支持5G，可以办理5G套餐，4G也能用。",
    "您这个是{pkg}，月费{cn_price}元，含{cn_gb}个G流量。",
    "您这个月已经用了{mb}兆，还剩{cn_mb}兆。",
    "您的积分有{cn_points}分，{cn_points2}分以上就可以兑换。",
    "已经为您办理了{cn_count}个业务，请您注意查收{cn_count}条短信。",
    "请您稍等两分钟，我帮您查一下。",
    "让您久等了，刚才查询了大概三十秒。",
    "这个优惠是打{cn_small}折的，连续送{cn_count}个月。",
    "宽带是{mbps}兆的，每年{price}元。",
    "您的号码是我们的{pkg}用户，星级是{cn_small}星。",
    "好的，我已经为您记录了，工单号会通过短信发给您。",
    "您现在的套餐是{price}元的，超出部分每兆{cn_small}毛钱。",
    "您可以登录中国移动APP，或者拨打{hotline}人工服务。",
    "办理成功以后第{cn_count}个月生效，一共{cn_count2}期。",
    "您{cn_month}月份的账单是{cn_price}块{cn_small}毛{cn_small2}。",
    "国际长途每分钟{cn_small}块{cn_small2}，港澳台每分钟{cn_small2}块。",
    "您这张卡开通了{cn_count}年了，网龄{cn_count2}年。",
    "我这边查到您{month}月{day}号{clock}点{minute}分有一笔{price}元的扣费。",
    "嗯，对，就是那个{pkg}。",
    "好的，谢谢您的来电，再见。",
    "您好，请问还有其他可以帮您的吗？",
]
PKGS = [
    "畅享套餐",
    "动感地带",
    "全球通",
    "神州行",
    "飞享套餐",
    "流量放心包",
    "和家庭",
    "5G智享套餐",
    "芒果卡",
    "任我看",
]
HOTLINES = ["10086", "12580", "10010", "10000", "12315", "95588", "4008100086", "1008611", "10086一号位"]


def _cn(n: int) -> str:
    import cn2an

    return cn2an.an2cn(n, "low")


def negative_utterances(n: int, seed: int = 11) -> list[str]:
    r = random.Random(seed)
    out = []
    for _ in range(n):
        tpl = r.choice(NEG_TEMPLATES)
        values = {
            "price": r.choice([8, 18, 28, 38, 58, 88, 128, 158, 198, 238, 588]),
            "cn_price": _cn(r.choice([18, 38, 58, 86, 128, 1368, 256])),
            "cn_small": _cn(r.randint(1, 9)),
            "cn_small2": _cn(r.randint(1, 9)),
            "pkg": r.choice(PKGS),
            "gb": r.choice([1, 2, 5, 10, 20, 30, 40, 100]),
            "cn_gb": _cn(r.choice([1, 2, 5, 10, 20, 30])),
            "mins": r.choice([100, 200, 300, 500, 1000]),
            "month": r.randint(1, 12),
            "day": r.randint(1, 28),
            "cn_month": _cn(r.randint(1, 12)),
            "cn_day": _cn(r.randint(1, 28)),
            "year": r.randint(2005, 2026),
            "cn_yy": "".join(CN[int(c)] for c in f"{r.randint(5, 26):02d}"),
            "cn_hours": _cn(r.choice([24, 48, 72])),
            "hours": r.choice([24, 48, 72]),
            "time": f"{r.randint(8, 20)}:{r.choice(['00', '30'])}",
            "cn_clock": _cn(r.randint(8, 11)),
            "cn_clock2": _cn(r.randint(12, 18)),
            "clock": r.randint(0, 23),
            "minute": r.randint(10, 59),
            "hotline": r.choice(HOTLINES),
            "mb": r.choice([426, 512, 1024, 2048, 300]),
            "cn_mb": _cn(r.choice([426, 512, 1024, 300, 150])),
            "cn_points": _cn(r.choice([1368, 2500, 5000, 860])),
            "cn_points2": _cn(r.choice([2500, 3000, 10000])),
            "cn_count": _cn(r.randint(1, 12)),
            "cn_count2": _cn(r.randint(1, 24)),
            "mbps": r.choice([100, 200, 300, 500, 1000]),
        }
        out.append(tpl.format(**values))
    return out


def real_utterances() -> list[tuple[str, str]]:
    """(source, text) of every real/sample utterance: the MobileCS 10086 transcripts and the sample calls."""
    out: list[tuple[str, str]] = []
    real = Path(os.environ.get("CALLQA_REAL_AUDIO") or ROOT.parent / "shared" / "real-audio")
    for base in (real / "text" / "mobilecs_example.json",):
        if base.exists():
            for dlg in json.loads(base.read_text(encoding="utf-8")):
                for turn in dlg["content"]:
                    for k in ("[SPEAKER 1]", "[SPEAKER 2]"):
                        if turn.get(k):
                            out.append(("mobilecs", turn[k]))
            break
    for f in sorted((ROOT / "data_samples").glob("*.transcript.json")):
        for u in json.loads(f.read_text(encoding="utf-8"))["utterances"]:
            out.append((f.name, u["text"]))
    return out


def false_redactions(texts: list[str]) -> list[tuple[str, str]]:
    """(text, masked part) for every span found in utterances that contain no PII (one utterance per transcript,
    so a cue in one cannot reach into another)."""
    bad = []
    for text in texts:
        for s in find_pii(Transcript((Utterance("customer", 0.0, 1.0, text),), "bench")):
            bad.append((text, text[s.start_char : s.end_char]))
    return bad


def false_redactions_dialogue(texts: list[str]) -> list[tuple[str, str]]:
    """The same, with the utterances in dialogue order (cues across turns and split numbers can act)."""
    utts = tuple(Utterance("agent" if i % 2 else "customer", i * 3.0, i * 3.0 + 2.5, t) for i, t in enumerate(texts))  # type: ignore[arg-type]
    return [
        (utts[s.utterance].text, utts[s.utterance].text[s.start_char : s.end_char])
        for s in find_pii(Transcript(utts, "bench"))
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=2400)
    ap.add_argument("--negatives", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--show", type=int, default=5, help="print this many misses per category")
    args = ap.parse_args()

    cases = generate_cases(args.mentions, args.seed)
    t0 = time.perf_counter()
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    misses: dict[str, list[Case]] = {}
    for case in cases:
        spans = find_pii(Transcript(case.utterances, "bench"))
        totals[case.category] += 1
        if mention_found(case, spans):
            hits[case.category] += 1
        else:
            misses.setdefault(case.category, []).append(case)
    t_pos = time.perf_counter() - t0

    real = real_utterances()
    gen = negative_utterances(args.negatives)
    t1 = time.perf_counter()
    fp_real = false_redactions([t for _, t in real])
    fp_real_dlg = false_redactions_dialogue([t for _, t in real])
    fp_gen = false_redactions(gen)
    t_neg = time.perf_counter() - t1

    report = {
        "mentions": len(cases),
        "recall": {c: round(hits[c] / totals[c], 4) for c in CATEGORIES},
        "mentions_per_category": dict(totals),
        "real_utterances": len(real),
        "false_redactions_real": len(fp_real),
        "false_redactions_real_dialogue": len(fp_real_dlg),
        "generated_negative_utterances": len(gen),
        "false_redactions_generated": len(fp_gen),
        "false_per_1000_utterances": round(1000 * (len(fp_real) + len(fp_gen)) / (len(real) + len(gen)), 3),
        "utterances_per_s": round((sum(len(c.utterances) for c in cases) + len(real) + len(gen)) / (t_pos + t_neg)),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    for cat, ms in misses.items():
        for case in ms[: args.show]:
            print(f"MISS {cat} ({case.form}):", " | ".join(f"{u.speaker}:{u.text}" for u in case.utterances))
    for text, part in (fp_real + fp_real_dlg + fp_gen)[:20]:
        print(f"FALSE: {part!r} in {text}")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
