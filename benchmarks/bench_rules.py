"""Rules and rescoring benchmark (issue 12): `callqa rules test` and `callqa rescore` speed on the store
benchmark's synthetic month (benchmarks/bench_store.py: 60,000 calls / ~1,000,000 utterances), no audio.

Each generated call also gets a stored timeline (one speech segment per utterance, loudness drawn at random),
as `callqa score` stores it. Targets (issue 12): rules test ≥ 1,000 calls/s, rescore ≥ 200 calls/s.

    nice -n 5 python benchmarks/bench_rules.py --calls 60000 --db /tmp/callqa_rules_bench.db
    nice -n 5 python benchmarks/bench_rules.py --reuse --db /tmp/callqa_rules_bench.db [--workers 1,2]

Each run prints wall time, CPU time (this process plus the worker processes' batches; forkserver workers are
not this process's children, so each batch reports its own CPU time) and the load average, for -j 1 and -j 2.
Rescore writes: it runs on a copy of the database (next to it), so the benchmark database stays as generated.
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
from qa_pipeline.store.filters import CallFilter  # noqa: E402

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


def mark_judged(db: Path, date_from: str | None = None, date_to: str | None = None) -> None:
    """Record the current 10086 checks' fingerprints as `judged_with` on the stored timelines (of the calls of
    those days), as `callqa score` does. (The generated findings are random, not the checks' output: this
    measures the mechanics of the reuse path.)"""
    import json

    import sqlalchemy as sa

    from qa_pipeline.judging import check_fingerprints
    from qa_pipeline.store import schema as S

    fps = json.dumps(check_fingerprints(load_rubric("10086")), ensure_ascii=False)
    store = open_store(db)
    with store.engine.begin() as conn:
        t, c = S.call_timelines, S.calls
        q = t.update().values(timeline_json=sa.func.json_set(t.c.timeline_json, "$.judged_with", sa.func.json(fps)))
        if date_from and date_to:
            days = sa.select(c.c.call_id).where(c.c.call_date.between(date_from, date_to))
            q = q.where(t.c.call_id.in_(days))
        conn.execute(q)
    store.close()


def timed(label: str, n_of, fn):  # type: ignore[no-untyped-def]
    """Run once; print wall time, CPU time (this process + the worker processes' batches) and load average."""
    l0 = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    rep = fn()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    n = n_of(rep)
    pool = rep.pool
    workers_cpu = pool.batch_cpu_s if pool.workers > 1 else 0.0  # with one process its batches are in `cpu`
    total = cpu + workers_cpu
    print(
        f"{label} -j {pool.workers}: {n} calls, wall {wall:.1f} s = {n / wall:.0f} calls/s; "
        f"CPU {total:.1f} s (this process {cpu:.1f} + workers {workers_cpu:.1f}) = {n / max(total, 1e-9):.0f} "
        f"calls per CPU-second; load average {l0:.1f} → {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return rep


def copy_db(src: Path, dst: Path) -> Path:
    """Rescore writes: it runs on a copy, so the benchmark database stays as generated."""
    import shutil

    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=60_000)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "callqa_rules_bench.db")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare (-j)")
    ap.add_argument("--rescore-days", default="2026-11-01:2026-11-07", help="FROM:TO of the rescore")
    ap.add_argument("--full-day", default="2026-11-03", help="day whose calls get a full rescore (every check run)")
    ap.add_argument("--full-team", default="10组", help="only this team's calls of that day (a smaller sample)")
    args = ap.parse_args()
    if not (args.reuse and args.db.exists()):
        generate(args.db, args.calls)
        mark_judged(args.db)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus (on a shared machine CPU-seconds are the "
        "fairer figure; targets are wall clock on 2 idle cores)"
    )
    jobs = [int(j) for j in args.workers.split(",")]
    store = open_store(args.db)
    rules = [
        *load_rule_file(BUILTIN_RULES / "topics.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "escalation.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "marketing_script.yaml"),
        *load_rule_file(EXAMPLES / "rules" / "abnormal_call.yaml"),
    ]
    run_trial(store, rules[5:6], CallFilter(date_from="2026-11-01", date_to="2026-11-01"))  # warm-up
    for j in jobs:
        timed("rules test, 1 rule (escalation)", lambda r: r.calls, lambda j=j: run_trial(store, rules[5:6], workers=j))
        timed(f"rules test, {len(rules)} rules", lambda r: r.calls, lambda j=j: run_trial(store, rules, workers=j))
    store.close()
    mine = load_rubric(str(EXAMPLES / "my_rubric.yaml"))
    d0, d1 = args.rescore_days.split(":")
    week = CallFilter(date_from=d0, date_to=d1)
    day = CallFilter(date_from=args.full_day, date_to=args.full_day, team=args.full_team)
    with tempfile.TemporaryDirectory(dir=args.db.parent) as tmp:
        for j in jobs:
            # the checks' code or parameters may have changed since the database was generated (then their
            # stored findings are rightly re-judged): record today's fingerprints, so the first pass measures
            # the QA lead's case — a new rule or deduction, built-in checks unchanged
            mark_judged(copy_db(args.db, Path(tmp) / "rescore.db"), d0, d1)
            copy = open_store(Path(tmp) / "rescore.db")
            # first pass: the generated findings are random, so every call's rows are rewritten (worst case);
            # second pass (same rubric, --force): nothing changed, only the history rows are written
            timed(
                f"rescore my_rubric.yaml {d0}..{d1}, first pass (every row rewritten)",
                lambda r: r.rescored,
                lambda j=j, copy=copy: rescore(copy, mine, week, force=True, workers=j),
            )
            timed(
                f"rescore my_rubric.yaml {d0}..{d1}, again (nothing changed)",
                lambda r: r.rescored,
                lambda j=j, copy=copy: rescore(copy, mine, week, force=True, workers=j),
            )
            timed(
                f"rescore --full 10086 (every check run), {args.full_day} {args.full_team or ''}",
                lambda r: r.rescored,
                lambda j=j, copy=copy: rescore(copy, load_rubric("10086"), day, force=True, full=True, workers=j),
            )
            copy.close()


if __name__ == "__main__":
    main()
