"""Rules and rescoring benchmark (issue 12): `callqa rules test` and `callqa rescore` speed on the store
benchmark's synthetic month (benchmarks/bench_store.py: 60,000 calls / ~1,000,000 utterances), no audio.

Each generated call also gets a stored timeline (one speech segment per utterance, loudness drawn at random),
as `callqa score` stores it. Targets (issue 12): rules test ≥ 1,000 calls/s, rescore ≥ 200 calls/s.

    nice -n 5 python benchmarks/bench_rules.py --calls 60000 --db /tmp/callqa_rules_bench.db
    nice -n 5 python benchmarks/bench_rules.py --reuse --db /tmp/callqa_rules_bench.db
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import make_agents, make_call  # noqa: E402

from qa_pipeline.rescore import rescore  # noqa: E402
from qa_pipeline.rubric import load_rubric  # noqa: E402
from qa_pipeline.rules.loader import BUILTIN_RULES, load_rule_file  # noqa: E402
from qa_pipeline.rules.trial import run_trial  # noqa: E402
from qa_pipeline.store.db import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "scoring_rubrics" / "examples"


def with_timeline(call: dict, rng: random.Random) -> dict:
    utts = call["utterances"]
    speech = [[u["speaker"], u["start"], u["end"], round(rng.gauss(-24, 4), 2)] for u in utts]
    call["timeline"] = {
        "version": 1,
        "duration": call["audio"]["duration_s"] + 1.0,
        "layout": "stereo",
        "vad": "silero",
        "speech": speech,
    }
    return call


def generate(db: Path, n: int) -> None:
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    rng = random.Random(42)
    agents = make_agents(rng)
    store = open_store(db)
    t0, batch = time.perf_counter(), []
    for i in range(n):
        batch.append(with_timeline(make_call(rng, i, agents), rng))
        if len(batch) == 2000:
            store.upsert_many(batch)
            batch = []
            print(f"  generated {i + 1} calls ({time.perf_counter() - t0:.0f} s)", flush=True)
    if batch:
        store.upsert_many(batch)
    store.close()
    print(f"generate+load: {n} calls in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=60_000)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "callqa_rules_bench.db")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--rescore-calls", type=int, default=0, help="rescore only the first N days' calls (0: all)")
    args = ap.parse_args()
    if not (args.reuse and args.db.exists()):
        generate(args.db, args.calls)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    store = open_store(args.db)

    rules = [
        *load_rule_file(BUILTIN_RULES / "topics.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "escalation.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "marketing_script.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "abnormal_call.yaml"),
    ]
    for label, rs in (("1 rule (escalation)", rules[5:6]), (f"{len(rules)} rules (topics + examples)", rules)):
        rep = run_trial(store, rs)
        print(f"rules test, {label}: {rep.calls} calls in {rep.seconds:.1f} s = {rep.calls / rep.seconds:.0f} calls/s")

    for name in ("10086", str(EXAMPLES / "my_rubric.yaml")):
        rub = load_rubric(name)
        rep = rescore(store, rub, force=True)
        print(
            f"rescore --rubric {Path(name).name}: {rep.rescored} calls in {rep.seconds:.1f} s = "
            f"{rep.rescored / rep.seconds:.0f} calls/s"
        )
    store.close()


if __name__ == "__main__":
    main()
