"""How the checks scale with utterance length and with the number of utterances (issue 15 item 6).

Two shapes of input, built from the agent and customer turns of the sample transcripts (data_samples/):
* one call whose agent turn is a single utterance of 1k / 4k / 16k / 64k characters (sentences of the samples
  joined with their punctuation, as Whisper writes a long monologue), plus the customer's turns;
* one call of N utterances (default 2,000) alternating agent and customer.

For each it prints the wall time and the process CPU time of every check (`run_checks` over the registry, the
timeline events, and the whole `judge` with the 10086 rubric) and the cost per character: a linear check has a
flat ms/char column. Wall time on the shared machine is inflated by load; CPU time and the load average are
printed so the figures can be re-measured on a quiet machine.

Run:  nice -n 5 python benchmarks/bench_checks_scaling.py [--sizes 1000,4000,16000,64000] [--utterances 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa_pipeline.checks.registry import all_checks
from qa_pipeline.detect import run_checks, timeline_events
from qa_pipeline.judging import JudgeInputs, judge
from qa_pipeline.rubric import load_rubric
from qa_pipeline.timeline import timeline_from_segments
from qa_pipeline.types import CallMetadata, SpeechSegment, Transcript, Utterance

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
SEC_PER_CHAR = 0.22


def sample_turns() -> list[tuple[str, str]]:
    turns = []
    for f in sorted(SAMPLES.glob("*.transcript.json")):
        for u in json.loads(f.read_text(encoding="utf-8"))["utterances"]:
            if u.get("text") and u.get("speaker") in ("agent", "customer"):
                turns.append((u["speaker"], u["text"]))
    return turns


def _call(turns: list[tuple[str, str]]) -> tuple[Any, Transcript]:
    utts, t = [], 0.0
    for spk, text in turns:
        dur = max(0.8, len(text) * SEC_PER_CHAR)
        utts.append(Utterance(spk, round(t, 3), round(t + dur, 3), text))  # type: ignore[arg-type]
        t += dur + 0.6
    tl = timeline_from_segments([SpeechSegment(u.speaker, u.start, u.end) for u in utts], t + 1.0)
    return tl, Transcript(tuple(utts), "bench")


def long_utterance_call(chars: int, turns: list[tuple[str, str]]) -> tuple[Any, Transcript]:
    agent = [t for s, t in turns if s == "agent"]
    parts: list[str] = []
    n, i = 0, 0
    while n < chars:
        parts.append(agent[i % len(agent)])
        n += len(parts[-1])
        i += 1
    text = "".join(parts)[:chars]
    customer = [t for s, t in turns if s == "customer"][:3]
    return _call([("customer", customer[0]), ("agent", text), *[("customer", c) for c in customer[1:]]])


def many_utterances_call(n: int, turns: list[tuple[str, str]]) -> tuple[Any, Transcript]:
    return _call([turns[i % len(turns)] for i in range(n)])


def clear_caches() -> None:
    """Every measurement starts cold: the lexicons remember matches per utterance, the classifier its scores.
    (Tolerant of older code without some of these caches, so the same script measures before and after.)"""
    from qa_pipeline import lexicon
    from qa_pipeline.phrasing import detect

    for name in lexicon.available_lexicons():
        getattr(lexicon.load_lexicon(name), "_found", {}).clear()
    for cached in ("_normalized", "_fuzzy", "_encoded_norm"):
        if hasattr(lexicon, cached):
            getattr(lexicon, cached).cache_clear()
    detect._scores.clear()


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    clear_caches()
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def measure(label: str, tl: Any, tr: Transcript, chars: int, per_check: bool) -> dict[str, Any]:
    md = CallMetadata(call_id=label)
    rubric = load_rubric("10086")
    row: dict[str, Any] = {"case": label, "chars": chars, "utterances": len(tr.utterances), "checks": {}}
    w, c = _time(lambda: judge(JudgeInputs(tl, tr, md), rubric))
    row["judge"] = {"wall_s": round(w, 3), "cpu_s": round(c, 3), "cpu_ms_per_char": round(1000 * c / chars, 4)}
    w, c = _time(lambda: timeline_events(tl, tr, md))
    row["events"] = {"wall_s": round(w, 3), "cpu_s": round(c, 3)}
    if per_check:
        for name in all_checks():
            w, c = _time(lambda name=name: run_checks([name], tl, tr, md, rubric.check_params))  # type: ignore[misc]
            row["checks"][name] = {"wall_s": round(w, 3), "cpu_s": round(c, 3)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,4000,16000,64000", help="characters of the one long agent utterance")
    ap.add_argument("--utterances", type=int, default=2000, help="utterances of the many-utterance call")
    ap.add_argument("--per-check", action="store_true", help="also time every check on its own")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    turns = sample_turns()
    # warm-up: lexicons, OpenCC, pypinyin, the phrase classifier (trained or loaded from the cache)
    measure("warmup", *long_utterance_call(300, turns), 300, False)
    rows = []
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for size in [int(s) for s in args.sizes.split(",") if s]:
        tl, tr = long_utterance_call(size, turns)
        chars = sum(len(u.text) for u in tr.utterances)
        rows.append(measure(f"one {size}-char agent utterance", tl, tr, chars, args.per_check))
    if args.utterances:
        tl, tr = many_utterances_call(args.utterances, turns)
        chars = sum(len(u.text) for u in tr.utterances)
        rows.append(measure(f"{args.utterances} utterances", tl, tr, chars, args.per_check))
    print(f"{'case':<34} {'chars':>7} {'judge wall s':>12} {'judge cpu s':>11} {'cpu ms/char':>11}")
    for r in rows:
        j = r["judge"]
        print(f"{r['case']:<34} {r['chars']:>7} {j['wall_s']:>12.3f} {j['cpu_s']:>11.3f} {j['cpu_ms_per_char']:>11.4f}")
        slow = sorted(r["checks"].items(), key=lambda kv: -kv[1]["cpu_s"])[:4]
        if slow:
            print("    slowest checks (cpu s): " + ", ".join(f"{k} {v['cpu_s']:.3f}" for k, v in slow))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "loadavg": os.getloadavg()}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
