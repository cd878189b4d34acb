"""Workstation part 2 benchmark (issue 11) on bench_store's 60,000-call database.

    python benchmarks/bench_workstation_loop.py [--db /tmp/callqa_loop_bench.db] [--reuse] [--runs 30]

Seeds review work onto the generated calls (3 % reviewed with a final score, a tenth of those appealed — bulk
rows, as a month of a QA team's work would leave them), then measures through the real app (FastAPI TestClient,
so the figures include routing, authorisation, SQL and template rendering; the client's own overhead is in them
too, so they are upper bounds of server time):

- dashboard page p95 (targets: ≤ 150 ms) for the default range (14 days) and a full month, whole centre and one team;
- search page p95 (≤ 100 ms) for phrase queries with filters (the `callqa search` cases of bench_store);
- collection export of 50 clips (≤ 5 s), clips cut from a generated stereo WAV.

The generated DB lives outside the repo and is not committed.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_store import make_agents, make_call  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from qa_pipeline.review import collections as K  # noqa: E402
from qa_pipeline.review import loop_tables as L  # noqa: E402
from qa_pipeline.review import tables as T  # noqa: E402
from qa_pipeline.review.users import create_user, list_users  # noqa: E402
from qa_pipeline.store import open_store  # noqa: E402
from qa_pipeline.store import schema as S  # noqa: E402
from qa_pipeline.web import create_app  # noqa: E402
from qa_pipeline.web.settings import WebSettings  # noqa: E402

PW = "bench-password-1"


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def build(db: Path, n: int) -> None:
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    rng = random.Random(42)
    agents = make_agents(rng)
    store = open_store(db)
    t0, batch = time.perf_counter(), []
    for i in range(n):
        batch.append(make_call(rng, i, agents))
        if len(batch) == 2000:
            store.upsert_many(batch)
            batch = []
    store.upsert_many(batch)
    store.close()
    print(f"generated {n} calls in {time.perf_counter() - t0:.0f} s")


def seed(store, rng: random.Random) -> None:
    """Users, and review work as bulk rows (idempotent: skipped when reviews exist)."""
    names = {u.username for u in list_users(store)}
    for name, role in (("主管", "supervisor"), ("培训", "trainer"), ("王审", "reviewer")):
        if name not in names:
            create_user(store, name, role, PW)
    with store.read() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(T.reviews)).scalar():
            return
        calls = conn.execute(sa.select(S.calls.c.call_id, S.calls.c.call_date, S.calls.c.score_total)).all()
    rid = next(u.user_id for u in list_users(store) if u.username == "王审")
    picked = rng.sample(calls, k=len(calls) * 3 // 100)
    now = "2026-12-01T00:00:00+00:00"
    reviews = []
    for c in picked:
        total = max(0.0, float(c.score_total or 0) - rng.choice([0, 0, 2, 5, 10]))
        reviews.append(
            dict(
                call_id=c.call_id,
                call_date=c.call_date,
                purpose="review",
                reviewer_id=rid,
                state="submitted",
                final_total=total,
                final_auto=total,
                final_auto_max=100.0,
                final_fatal=False,
                verdict="pass" if total >= 80 else "fail",
                created_at=now,
                updated_at=now,
                submitted_at=now,
            )
        )
    with store.engine.begin() as conn:
        conn.execute(T.reviews.insert(), reviews)
        ids = dict(conn.execute(sa.select(T.reviews.c.call_id, T.reviews.c.review_id)).all())
        appeals = [
            dict(
                call_id=c.call_id,
                review_id=ids[c.call_id],
                target_kind="item",
                target_key="item:K01",
                item_id="K01",
                deduction=2.0,
                reason="bench",
                opened_by=rid,
                opened_at=now,
                state=rng.choice(["open", "upheld", "overturned"]),
            )
            for c in picked[: len(picked) // 10]
        ]
        conn.execute(L.appeals.insert(), appeals)
        conn.exec_driver_sql("ANALYZE")
    print(f"seeded {len(reviews)} reviews, {len(appeals)} appeals")


def timed(client: TestClient, url: str, runs: int) -> tuple[list[float], list[float]]:
    """(wall ms, process CPU ms) per request; CPU time is what a request costs when the machine is shared."""
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        r = client.get(url)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert r.status_code == 200
    return wall, cpu


def login(app, name: str) -> TestClient:
    import re

    c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    tok = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": name, "password": PW, "csrf_token": tok}).status_code == 303
    return c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "callqa_loop_bench.db")
    ap.add_argument("--calls", type=int, default=60_000)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if not (args.reuse and args.db.exists()):
        build(args.db, args.calls)
    store = open_store(args.db)
    with store.engine.begin() as conn:  # a DB generated before migration 10 had its index
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_calls_imported ON calls (imported_at)")
    with store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(S.calls)).scalar()
        last = conn.execute(sa.select(sa.func.max(S.calls.c.call_date))).scalar()
    print(f"database: {n} calls, last day {last}")
    seed(store, random.Random(7))
    app = create_app(WebSettings(db=str(args.db), secret_key="bench"), store)
    sup, tr = login(app, "主管"), login(app, "培训")

    import os

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print("\n| page | wall p50 ms | wall p95 ms | CPU p95 ms | target |\n|---|---|---|---|---|")
    cases = [
        ("dashboard, default (14 days)", sup, "/dashboard", 150),
        ("dashboard, whole month", sup, "/dashboard?date_from=2026-11-01&date_to=2026-11-30", 150),
        ("dashboard, one team, month", sup, "/dashboard?date_from=2026-11-01&date_to=2026-11-30&team=3组", 150),
        (
            "dashboard drill-down (team, passing)",
            sup,
            "/dashboard/calls?date_from=2026-11-01&date_to=2026-11-30&team=3组&outcome=pass",
            150,
        ),
    ]
    for q, flt in (
        ("我不知道", "&speaker=customer&date_from=2026-11-01&date_to=2026-11-07"),
        ('"我不知道"', "&speaker=agent&check=forbidden_phrase"),
        ("服务态度 太差", "&team=3组&min_score=60"),
        ("宽带 OR 流量包 NOT 取消", "&date_from=2026-11-10&date_to=2026-11-12&max_score=90"),
        ("我不知道", "&pinyin=1&speaker=agent&date_from=2026-11-20&date_to=2026-11-21"),
        ('"携号转网"', "&team=5组&speaker=customer"),
    ):
        cases.append((f"search {q} {flt}", tr, "/search?q=" + q + flt, 100))
    search_all: list[float] = []
    search_cpu: list[float] = []
    for label, client, url, target in cases:
        xs, cs = timed(client, url, args.runs)
        if label.startswith("search"):
            search_all += xs
            search_cpu += cs
        print(f"| {label} | {statistics.median(xs):.1f} | {p95(xs):.1f} | {p95(cs):.1f} | ≤ {target} |")
    print(
        f"| search page, all cases | {statistics.median(search_all):.1f} | {p95(search_all):.1f} | "
        f"{p95(search_cpu):.1f} | ≤ 100 |"
    )

    # collection export: 50 examples on 50 calls whose audio is a generated 3-minute stereo WAV
    wav = args.db.with_suffix(".bench.wav")
    sr = 8000
    tt = np.arange(180 * sr) / sr
    sf.write(wav, np.stack([0.2 * np.sin(2 * np.pi * 440 * tt), 0.2 * np.sin(2 * np.pi * 660 * tt)], 1), sr)
    with store.read() as conn:
        rows = conn.execute(
            sa.select(S.utterances.c.call_id, S.utterances.c.start, S.utterances.c.end, S.utterances.c.text)
            .where(S.utterances.c.idx == 3)
            .limit(50)
        ).all()
    with store.engine.begin() as conn:
        conn.execute(
            S.calls.update().where(S.calls.c.call_id.in_([r.call_id for r in rows])).values(audio_path=str(wav))
        )
    trainer = next(u for u in list_users(store) if u.username == "培训")
    cid = K.create_collection(store, trainer, f"bench {time.time():.0f}")
    for r in rows:
        K.add_example(store, trainer, cid, r.call_id, start=r.start, end=r.end, speaker="agent", text=r.text)
    times = []
    for _ in range(3):
        buf = io.BytesIO()
        t0 = time.perf_counter()
        nclips = K.export_zip(store, trainer, cid, buf)
        times.append(time.perf_counter() - t0)
    print(
        f"\ncollection export: {nclips} clips, {len(buf.getvalue()) / 1e6:.1f} MB zip, best {min(times):.2f} s, "
        f"worst {max(times):.2f} s of 3 (target ≤ 5 s)"
    )
    wav.unlink(missing_ok=True)
    store.close()


if __name__ == "__main__":
    main()
