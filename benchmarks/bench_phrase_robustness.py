"""Robustness of the phrase lexicons to ASR homophone errors.

Simulates Whisper-on-phone-audio errors by substituting characters with SAME-PINYIN (tone-less) characters
drawn from the ~3500 most frequent characters of jieba's dictionary, at a character error rate (CER), then
measures per lexicon:
  * recall, exact-only vs exact+pinyin, for every lexicon phrase embedded in a carrier sentence
    (a hit = the lexicon returns a match of the phrase's category overlapping the phrase);
  * false-positive rate on real 10086 agent turns (MobileCS sample, read from /work/shared; never copied):
    share of turns where `forbidden` / `colloquial` / `transfer` fire, after the same noise injection.

Run:  python benchmarks/bench_phrase_robustness.py [--trials 20] [--cer 0 0.1 0.15 0.2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from qa_pipeline.lexicon import load_lexicon
from qa_pipeline.text import is_cjk

MOBILECS = Path(__file__).resolve().parents[1].parent / "shared" / "real-audio" / "text" / "mobilecs_example.json"
CARRIERS = ["好的，{}。", "嗯{}", "那个{}，您看一下", "{}"]
POSITIVE_LEXICONS = ["greeting", "closing", "polite", "forbidden", "transfer", "hold_notice", "hold_apology", "confirm"]
NEGATIVE_LEXICONS = ["forbidden", "colloquial", "transfer"]


def homophone_table(top_n: int = 3500) -> dict[str, tuple[list[str], list[float]]]:
    import jieba
    from pypinyin import Style, lazy_pinyin

    freq: Counter[str] = Counter()
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            word, f, *_ = line.split()
            for ch in word:
                if is_cjk(ch):
                    freq[ch] += int(f)
    common = [c for c, _ in freq.most_common(top_n)]
    by_py: dict[str, list[str]] = defaultdict(list)
    for c in common:
        by_py[lazy_pinyin(c, style=Style.NORMAL)[0]].append(c)
    table = {}
    for c in common:
        alts = [a for a in by_py[lazy_pinyin(c, style=Style.NORMAL)[0]] if a != c]
        if alts:
            table[c] = (alts, [float(freq[a]) for a in alts])
    return table


def corrupt(text: str, cer: float, table, rng: random.Random) -> str:
    out = []
    for ch in text:
        if is_cjk(ch) and ch in table and rng.random() < cer:
            alts, w = table[ch]
            out.append(rng.choices(alts, weights=w)[0])
        else:
            out.append(ch)
    return "".join(out)


def bench_recall(cers, trials, table, rng):
    rows = []
    for name in POSITIVE_LEXICONS:
        lex = load_lexicon(name)
        for cer in cers:
            tot = {"all": [0, 0, 0], "long": [0, 0, 0]}  # n, exact hits, exact+pinyin hits
            for e in lex.entries:
                if e.whole or e.pattern:
                    continue
                for form in e.forms:
                    for t in range(trials):
                        carrier = CARRIERS[t % len(CARRIERS)]
                        pre = carrier.index("{}")
                        text = corrupt(carrier.format(form), cer, table, rng)
                        span = (pre, pre + len(form))

                        def hit(ms, e=e, span=span):  # bound now: the loop moves on
                            return any(m.category == e.category and m.start < span[1] and m.end > span[0] for m in ms)

                        ex, fz = hit(lex.find(text, fuzzy=False)), hit(lex.find(text))
                        for k in ("all", "long") if len(form) >= lex.min_fuzzy_len else ("all",):
                            tot[k][0] += 1
                            tot[k][1] += ex
                            tot[k][2] += fz
            rows.append((name, cer, tot))
    return rows


def bench_fp(cers, trials, table, rng):
    data = json.loads(MOBILECS.read_text())
    agent = [t["[SPEAKER 1]"] for d in data for t in d["content"] if t.get("[SPEAKER 1]")]
    cust = [t["[SPEAKER 2]"] for d in data for t in d["content"] if t.get("[SPEAKER 2]")]
    rows = []
    for name in NEGATIVE_LEXICONS:
        lex = load_lexicon(name)
        for cer in cers:
            for side, turns in (("agent", agent), ("customer", cust)):
                n = fp_ex = fp_all = 0
                for _trial in range(trials if cer > 0 else 1):
                    for turn in turns:
                        text = corrupt(turn, cer, table, rng)
                        n += 1
                        fp_ex += bool(lex.find(text, fuzzy=False))
                        fp_all += bool(lex.find(text))
                rows.append((name, cer, side, n, fp_ex, fp_all))
    return rows, len(agent), len(cust)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--cer", type=float, nargs="+", default=[0.0, 0.1, 0.15, 0.2])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    t0 = time.time()
    table = homophone_table()
    print(f"homophone table: {len(table)} common chars with ≥1 same-pinyin alternative")
    print("\nRECALL (phrase in carrier sentence; 'long' = phrases ≥ the lexicon's min_fuzzy_len)")
    print(f"{'lexicon':<13}{'CER':>5} {'n':>6} {'exact':>7} {'+pinyin':>8} | {'n_long':>6} {'exact':>7} {'+pinyin':>8}")
    for name, cer, tot in bench_recall(a.cer, a.trials, table, rng):
        n, ex, fz = tot["all"]
        nl, exl, fzl = tot["long"]
        print(
            f"{name:<13}{cer:>5.2f} {n:>6} {ex / n:>7.3f} {fz / n:>8.3f} | {nl:>6} "
            f"{(exl / nl if nl else float('nan')):>7.3f} {(fzl / nl if nl else float('nan')):>8.3f}"
        )
    if MOBILECS.exists():
        rows, na, nc = bench_fp(a.cer, a.trials, table, rng)
        print(f"\nFALSE POSITIVES on real MobileCS turns ({na} agent, {nc} customer; turns with ≥1 match)")
        print(f"{'lexicon':<13}{'CER':>5} {'side':>9} {'n':>6} {'exact':>7} {'+pinyin':>8}")
        for name, cer, side, n, fe, fa in rows:
            print(f"{name:<13}{cer:>5.2f} {side:>9} {n:>6} {fe / n:>7.4f} {fa / n:>8.4f}")
    print(f"\n({time.time() - t0:.1f} s, seed {a.seed}, {a.trials} trials)")


if __name__ == "__main__":
    main()
