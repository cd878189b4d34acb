"""Store benchmark: a month of a mid-size centre (60,000 calls / ~1,000,000 utterances).

    python benchmarks/bench_store.py [--calls 60000] [--db /tmp/callqa_bench.db | postgresql://…] [--reuse]
    python benchmarks/bench_store.py --pg [--calls N]     # a throw-away PostgreSQL server (tests/pg_server.py)

Measures (targets from issues #4 and #13): import rate through `import_results` on samples of JSON files
with `--importers` concurrent importer processes (SQLite ≥ 200 calls/s; PostgreSQL ≥ 500 calls/s with 4),
search p95 for word, phrase and substring queries with filters (SQLite ≤ 50 ms, PostgreSQL ≤ 100 ms), a
month's scorecard for all agents (≤ 10 s). The generated DB is written outside the repo and not committed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa_pipeline.checks.registry import check_names  # noqa: E402
from qa_pipeline.privacy import RedactOptions, redaction_info  # noqa: E402
from qa_pipeline.report import build_scorecard, write_scorecard  # noqa: E402
from qa_pipeline.store import import_results, open_store  # noqa: E402
from qa_pipeline.store.search import search  # noqa: E402
from qa_pipeline.store.tokens import with_search_tokens  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞琳雪梅晨宇浩然欣怡子涵梓轩"
PRODUCTS = [
    "流量包",
    "宽带",
    "话费套餐",
    "国际漫游",
    "来电显示",
    "彩铃",
    "副卡",
    "5G套餐",
    "积分",
    "家庭网",
    "携号转网",
    "视频会员",
]
AMOUNTS = ["十元", "二十元", "三十八元", "五十八元", "一百二十八元", "九块九", "十九元", "两百元"]
AGENT = [
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "您好，中国移动客服，工号{n}为您服务。",
    "请您稍等，我帮您查询一下{p}。",
    "感谢您的耐心等待，已经为您查到了。",
    "您的{p}本月已经使用了百分之八十。",
    "这个{p}每月{a}，次月生效。",
    "请问您是机主本人吗？",
    "麻烦您提供一下身份证后四位。",
    "好的，已经为您办理成功了。",
    "非常抱歉给您带来不便。",
    "您可以通过中国移动APP自助办理{p}。",
    "我这边帮您登记一下，二十四小时内会有专人回复。",
    "请问还有其他可以帮您的吗？",
    "感谢您的来电，祝您生活愉快，再见。",
    "这个我不知道，您去营业厅问吧。",
    "您说的是{p}对吧？",
    "嗯嗯，对对对。",
    "我现在为您转接到专席，请您不要挂机。",
    "您的话费余额还有{a}。",
    "这个是系统自动扣费的，我帮您核实一下。",
    "您先别着急，我来帮您处理。",
    "不好意思，刚才没有听清楚，您能再说一遍吗？",
    "您反映的{p}问题我已经记录下来了。",
    "我不清楚，这个不归我们管。",
    "稍等一下啊，系统有点慢。",
    "请您保持电话畅通。",
]
CUSTOMER = [
    "我的{p}怎么扣了{a}？",
    "我想办理一个{p}。",
    "我不知道怎么取消{p}。",
    "你们这个{p}太贵了。",
    "我要投诉，{p}一直用不了。",
    "为什么我的话费扣得这么多？",
    "我想查一下这个月的账单。",
    "好的，谢谢。",
    "那我要怎么办理？",
    "我已经打了三次电话了。",
    "宽带一直连不上网，师傅什么时候来？",
    "我没有订过这个{p}啊。",
    "能不能帮我把{p}退订了？",
    "喂，听得到吗？",
    "你们的服务态度太差了。",
    "对，是我本人。",
    "我的手机欠费停机了。",
    "什么时候能到账？",
    "我不知道，你帮我查一下吧。",
    "那就这样吧，再见。",
    "我在外地，{p}能用吗？",
    "上个月也是这样，扣了{a}。",
]
# the check registry is the one list of checks; handling_time is judged against an archive average, which the
# generated per-call results do not model
CHECKS = [c for c in check_names() if c != "handling_time"]
FAIL_P = {
    "greeting": 0.05,
    "closing": 0.08,
    "polite_terms": 0.1,
    "forbidden_phrase": 0.02,
    "colloquialism": 0.15,
    "interruption": 0.1,
    "silence_over_30s": 0.06,
    "silence_over_60s": 0.02,
    "response_latency": 0.07,
}
ITEMS = [
    ("K01", "开头语", 5),
    ("K02", "结束语", 5),
    ("K03", "礼貌用语", 10),
    ("K04", "服务禁语", 20),
    ("K05", "语言规范", 10),
    ("K06", "倾听与打断", 10),
    ("K07", "静音与等待", 10),
    ("K08", "响应及时", 10),
    ("K09", "转接规范", 10),
    ("K10", "确认理解", 10),
]
ITEM_CHECKS = {
    "K01": ["greeting"],
    "K02": ["closing"],
    "K03": ["polite_terms", "honorific"],
    "K04": ["forbidden_phrase"],
    "K05": ["colloquialism"],
    "K06": ["interruption"],
    "K07": ["silence_over_30s", "silence_over_60s", "hold_notice", "hold_apology"],
    "K08": ["response_latency", "no_response_to_long_speech"],
    "K09": ["transfer_phrase", "transfer_pause"],
    "K10": ["confirm_understanding", "repeated_question"],
}
ENGINE = {
    "asr": "faster-whisper",
    "model": "large-v3",
    "compute_type": "int8",
    "rubric": "10086",
    "rubric_version": "2026.1",
    "package_version": "0.1.0",
    "vad": "silero",
    "options": {"beam_size": 5},
}


def _fill(rng: random.Random, t: str) -> str:
    return t.format(p=rng.choice(PRODUCTS), a=rng.choice(AMOUNTS), n=rng.randint(1000, 1099))


def make_agents(rng: random.Random, n: int = 300) -> list[tuple[str, str, str]]:
    return [
        (f"A{i:04d}", rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)]), f"{i % 15 + 1}组")
        for i in range(n)
    ]


def make_call(rng: random.Random, i: int, agents, prefix: str = "C") -> dict:
    aid, name, team = agents[rng.randrange(len(agents))]
    day, hour = rng.randint(1, 30), rng.choice([8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 17, 19, 20])
    n_utt = max(4, int(rng.gauss(16.7, 5)))
    t, utts = 0.0, []
    for k in range(n_utt):
        spk = "agent" if k % 2 == 0 else "customer"
        text = _fill(rng, rng.choice(AGENT if spk == "agent" else CUSTOMER))
        dur = 0.25 * len(text) + rng.random()
        utts.append({"speaker": spk, "start": round(t, 2), "end": round(t + dur, 2), "text": text})
        t += dur + rng.random() * 2
    status = {
        c: (
            "fail"
            if rng.random() < FAIL_P.get(c, 0.03)
            else ("not_applicable" if c.startswith(("transfer", "hold")) else "pass")
        )
        for c in CHECKS
    }
    checks = []
    for c in CHECKS:
        u = utts[rng.randrange(len(utts))]
        checks.append(
            {
                "check": c,
                "status": status[c],
                "start": u["start"],
                "end": u["end"],
                "speaker": "agent",
                "evidence": u["text"][:12] if status[c] == "fail" else "",
                "detail": {},
            }
        )
    items, total, fatal = [], 100.0, False
    for iid, title, pts in ITEMS:
        sts = [status[c] for c in ITEM_CHECKS[iid]]
        st = "fail" if "fail" in sts else ("pass" if "pass" in sts else "not_applicable")
        ded = pts if st == "fail" else 0.0
        total -= ded
        fatal |= iid == "K04" and st == "fail"
        items.append(
            {
                "id": iid,
                "title": title,
                "points": pts,
                "deduction": ded,
                "status": st,
                "fatal": iid == "K04" and st == "fail",
                "reasons": [],
            }
        )
    cid = f"{prefix}{i:07d}"
    return {
        "schema_version": 1,
        "call_id": cid,
        "status": "ok",
        "error": None,
        "agent_id": aid,
        "metadata": {
            "agent_name": name,
            "team": team,
            "started_at": f"2026-11-{day:02d}T{hour:02d}:{rng.randint(0, 59):02d}:00+08:00",
            "queue": "10086",
        },
        "audio": {
            "path": f"/data/calls/2026-11-{day:02d}/{cid}.wav",
            "sha256": "0" * 64,
            "duration_s": round(t, 1),
            "sample_rate": 8000,
            "channels": 2,
            "layout": "stereo",
            "codec": "pcm_s16le",
        },
        "engine": ENGINE,
        "utterances": utts,
        "events": [{"type": "speech", "start": u["start"], "end": u["end"], "speaker": u["speaker"]} for u in utts[:5]],
        "checks": checks,
        "score": {
            "total": max(total, 0.0),
            "max": 100.0,
            "fatal": fatal,
            "needs_review": rng.random() < 0.03,
            "items": items,
        },
        "timings": {"asr": 3.2},
    }


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def _import_worker(folder: str, db: str, out: mp.Queue, batch_size: int = 200) -> None:
    """One importer process (as one `callqa import` run): reports its calls, failures, the wall-clock span of
    `import_results` (epoch seconds, comparable across processes) and its own CPU time."""
    t0, c0 = time.time(), time.process_time()
    rep = import_results(Path(folder), db, batch_size=batch_size)
    out.put((rep.imported, len(rep.failed), t0, time.time(), time.process_time() - c0))


class ServerCpu:
    """CPU time of a local PostgreSQL server: its processes' run time from /proc (the postmaster's own and
    reaped children's, plus every live child's: backends, autovacuum, checkpointer …). None where the server
    is not on this machine or /proc cannot be read: then only the client's CPU is reported."""

    def __init__(self, pid: int):
        self.pid = pid

    @classmethod
    def of(cls, db: str) -> ServerCpu | None:
        if "://" not in db:
            return None
        import sqlalchemy as sa

        store = open_store(db)
        try:
            with store.engine.connect() as conn:
                backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            stat = Path(f"/proc/{backend}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if "postgres" not in Path(f"/proc/{ppid}/cmdline").read_bytes().decode(errors="replace"):
                return None
            return cls(ppid)
        except (OSError, ValueError, IndexError):
            return None
        finally:
            store.close()

    def seconds(self, settle: float = 0.0) -> float:
        """`settle`: wait first, so that backends which just ended are reaped (counted in cutime/cstime)."""
        time.sleep(settle)
        tick = os.sysconf("SC_CLK_TCK")
        f = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in f[11:15]) / tick  # utime, stime, cutime, cstime (reaped children)
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                g = (d / "stat").read_text().rsplit(")", 1)[1].split()
                if int(g[1]) == self.pid:
                    total += int((d / "schedstat").read_text().split()[0]) / 1e9  # live child, ns on CPU
            except (OSError, ValueError, IndexError):
                continue
        return total


def _db_size(db: str) -> str:
    if "://" not in db:
        return f"{Path(db).stat().st_size / 1e6:.0f} MB"
    import sqlalchemy as sa

    store = open_store(db)
    with store.engine.connect() as conn:
        n = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
    store.close()
    return f"{n / 1e6:.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=60_000)
    ap.add_argument("--import-sample", type=int, default=1000, help="JSON files per importer")
    ap.add_argument("--importers", type=int, default=1, help="concurrent importer processes")
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "callqa_bench.db"), help="file or URL")
    ap.add_argument("--pg", action="store_true", help="start a throw-away PostgreSQL server and use it")
    ap.add_argument(
        "--pg-setting",
        action="append",
        metavar="NAME=VALUE",
        default=None,
        help="a setting of the throw-away server (repeatable); default shared_buffers=1GB, a department server's"
        " setting that holds utterance_search and its GIN index (docs/scaling.md); shared_buffers=128MB is"
        " PostgreSQL's own default",
    )
    ap.add_argument("--reuse", action="store_true", help="reuse an existing DB at --db")
    ap.add_argument("--search-rounds", type=int, default=15)
    ap.add_argument(
        "--search-parts",
        type=int,
        default=None,
        help="SQLite: rank each search in this many id ranges at once (default: as many as idle CPUs allow)",
    )
    ap.add_argument(
        "--unredacted-files", action="store_true", help="import files without redaction info (import redacts them)"
    )
    ap.add_argument("--batch-size", type=int, default=200, help="calls per import transaction")
    ap.add_argument(
        "--no-search-tokens",
        action="store_true",
        help="import files without the pipeline's search tokens (as results written before them: import tokenises)",
    )
    ap.add_argument(
        "--parts", default="import,search,scorecard", help="what to measure after loading: import, search, scorecard"
    )
    args = ap.parse_args()
    rng = random.Random(42)
    agents = make_agents(rng)
    server = None
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pg_server import start_server

        settings = dict(kv.split("=", 1) for kv in (args.pg_setting or ["shared_buffers=1GB"]))
        server = start_server(durable=True, settings=settings)
        args.db = server.create_database("bench")
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(f"PostgreSQL server started: {args.db} (fsync on, {shown or 'default settings'})")
    try:
        _run(args, rng, agents)
    finally:
        if server:
            server.stop()


def _run(args, rng, agents) -> None:
    is_url = "://" in args.db
    if not (args.reuse and (is_url or Path(args.db).exists())):
        if not is_url:
            for p in (Path(args.db), Path(f"{args.db}-wal"), Path(f"{args.db}-shm")):
                p.unlink(missing_ok=True)
        store = open_store(args.db)
        t0, n_utt, batch = time.perf_counter(), 0, []
        for i in range(args.calls):
            c = make_call(rng, i, agents)
            n_utt += len(c["utterances"])
            batch.append(c)
            if len(batch) == 2000:
                store.upsert_many(batch)
                batch = []
        store.upsert_many(batch)
        dt = time.perf_counter() - t0
        print(
            f"generate+bulk load: {args.calls} calls, {n_utt} utterances in {dt:.1f} s ({args.calls / dt:.0f} calls/s)"
        )
        store.close()
    print(f"db size: {_db_size(args.db)}")

    parts = set(args.parts.split(","))
    if "import" in parts:
        _bench_import(args, rng, agents)
    store = open_store(args.db)
    if "search" in parts:
        _bench_search(store, agents, args.search_rounds, args.search_parts)
    if "scorecard" in parts:
        _bench_scorecard(store)
    store.close()


def _bench_import(args, rng, agents) -> None:
    # import rate through the real path (JSON files → import_results), into the populated DB, with
    # --importers processes at once (each its own folder of files, as several `callqa import` runs)
    tmp = Path(tempfile.mkdtemp(prefix="callqa_bench_"))
    stamp = int(time.time())
    # `callqa score` redacts by default and records it in the engine options, so `callqa import` stores its
    # results as they are; --unredacted-files writes results as `--no-redact` would (import redacts them)
    engine = dict(ENGINE)
    if not args.unredacted_files:
        engine["options"] = {**ENGINE["options"], "redaction": redaction_info(RedactOptions())}
    # the files carry the search index's tokens as the pipeline writes them (batch._score_job: the same
    # `with_search_tokens`), computed here, before the timing; --no-search-tokens: files of an older callqa
    folders, size = [], 0
    for w in range(args.importers):
        folder = tmp / f"w{w}"
        (folder / "calls").mkdir(parents=True)
        for i in range(args.import_sample):
            c = make_call(rng, i, agents, prefix=f"IMP{stamp}-{w}-")
            c["engine"] = engine
            if not args.no_search_tokens:
                with_search_tokens(c)
            data = json.dumps(c, ensure_ascii=False).encode("utf-8")
            size += len(data)
            (folder / "calls" / f"{c['call_id']}.json").write_bytes(data)
        folders.append(folder)
    print(
        f"import files: {'without' if args.no_search_tokens else 'with'} the pipeline's search tokens,"
        f" {size / max(1, args.importers * args.import_sample):.0f} bytes/call"
    )
    print(f"load average before import: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cpus)")
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    server = ServerCpu.of(args.db)
    s0 = server.seconds() if server else 0.0
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_import_worker, args=(str(f), args.db, q, args.batch_size)) for f in folders]
    for p in procs:
        p.start()
    reps = [q.get() for _ in procs]
    for p in procs:
        p.join()
    dt = time.perf_counter() - t0
    imported = sum(r[0] for r in reps)
    # the rate is over the span in which the importers ran import_results (first start to last end): the
    # benchmark's own process start-up (spawn, importing this module) is not part of `callqa import`
    span = max(r[3] for r in reps) - min(r[2] for r in reps)
    cpu = sum(r[4] for r in reps)
    s1 = server.seconds(settle=1.0) if server else 0.0
    srv = f" server CPU {s1 - s0:.1f} s = {1000 * (s1 - s0) / max(imported, 1):.1f} ms/call;" if server else ""
    print(
        f"import_results × {args.importers} concurrent: {imported} calls in {span:.2f} s"
        f" = {imported / span:.0f} calls/s"
        f" (client CPU {cpu:.1f} s = {1000 * cpu / max(imported, 1):.1f} ms/call;{srv}"
        f" failed {sum(r[1] for r in reps)};"
        f" per importer {', '.join(f'{r[3] - r[2]:.1f}' for r in reps)} s; with process start-up {dt:.1f} s;"
        f" load {os.getloadavg()[0]:.1f}; target ≥ 200 SQLite / ≥ 500 PostgreSQL with 4)"
    )
    t0 = time.perf_counter()
    rep2 = import_results(folders[0], args.db)
    print(f"re-import (unchanged): {rep2.unchanged} files in {time.perf_counter() - t0:.2f} s")
    shutil.rmtree(tmp)


def _bench_search(store, agents, rounds: int, parts: int | None = None) -> None:
    cases = [
        ("我不知道", dict(speaker="customer", date_from="2026-11-01", date_to="2026-11-07")),
        ('"我不知道"', dict(speaker="agent", check="forbidden_phrase", status="fail")),
        ("服务态度 太差", dict(team="3组", min_score=60)),
        ('"话费余额"', dict(agent=agents[7][0])),
        ("宽带 OR 流量包 NOT 取消", dict(date_from="2026-11-10", date_to="2026-11-12", max_score=90)),
        ("我不知道", dict(pinyin=True, speaker="agent", date_from="2026-11-20", date_to="2026-11-21")),
        ('"携号转网"', dict(team="5组", speaker="customer")),
        # substrings across jieba's words (这不归/我们/管), two characters, one character
        ("不归我们管", dict(date_from="2026-11-01", date_to="2026-11-07")),
        ("余额", dict(team="2组", speaker="agent")),
        ("贵", dict(date_from="2026-11-15", date_to="2026-11-16", speaker="customer")),
    ]
    plans: tuple[str, ...] = ("calls", "fts", "tags") if store.version >= 4 else ("calls", "fts")
    server = ServerCpu.of(store.engine.url.render_as_string(hide_password=False)) if store.dialect != "sqlite" else None
    for q, kw in cases:  # warm-up (jieba load, page cache); every plan must return the same true top 20
        got, took = {}, {}
        for p in plans:
            t0 = time.perf_counter()
            got[p] = [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=20, plan=p, **kw)]
            took[p] = (time.perf_counter() - t0) * 1000
        assert all(got[p] == got["fts"] for p in plans), (q, kw)
        if store.dialect == "sqlite":  # ranked in 2 id ranges on 2 connections: the same hits, order and bm25
            split = [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=20, parts=2, **kw)]
            assert split == got["fts"], (q, kw, "parts")
        print(f"  plans {q} {json.dumps(kw, ensure_ascii=False)}: " + ", ".join(f"{p} {took[p]:.0f} ms" for p in plans))
    times, cpus, srvs, per = [], [], [], {}
    for _ in range(rounds):
        for q, kw in cases:
            s0 = server.seconds() if server else 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            hits = search(store, q, limit=20, **kw) if parts is None else search(store, q, limit=20, parts=parts, **kw)
            d, c = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            sv = (server.seconds() - s0) * 1000 if server else 0.0
            times.append(d)
            cpus.append(c)
            srvs.append(sv)
            per.setdefault(q + " " + json.dumps(kw, ensure_ascii=False), []).append((d, c, len(hits), sv))
    for k, v in per.items():
        print(
            f"  search {k}: median {statistics.median(x for x, _, _, _ in v):.1f} ms"
            f" (client CPU {statistics.median(c for _, c, _, _ in v):.1f}"
            + (f", server CPU {statistics.median(sv for _, _, _, sv in v):.1f}" if server else "")
            + f"), hits {v[0][2]}"
        )
    print(f"load average during search: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cpus)")
    # client CPU: this process's; server CPU (a local PostgreSQL): all its processes' (ServerCpu)
    print(
        f"search p95 over {len(times)} queries: {p95(times):.1f} ms (median {statistics.median(times):.1f};"
        f" client CPU p95 {p95(cpus):.1f}, median {statistics.median(cpus):.1f};"
        + (
            f" server CPU p95 {p95(srvs):.1f}, median {statistics.median(srvs):.1f};"
            f" client + server CPU p95 {p95([a + b for a, b in zip(cpus, srvs, strict=True)]):.1f};"
            if server
            else ""
        )
        + f" target ≤ {50 if store.dialect == 'sqlite' else 100})"
    )


def _bench_scorecard(store) -> None:
    server = ServerCpu.of(store.engine.url.render_as_string(hide_password=False)) if store.dialect != "sqlite" else None
    s0 = server.seconds() if server else 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    card = build_scorecard(store, "2026-11-01", "2026-11-30")
    c1 = time.process_time()
    srv = f", server CPU {server.seconds() - s0:.2f} s" if server else ""
    t1 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="callqa_bench_sc_"))
    write_scorecard(card, "xlsx", out / "sc.xlsx")
    t2 = time.perf_counter()
    write_scorecard(card, "html", out / "sc.html")
    t3 = time.perf_counter()
    print(f"load average after scorecard: {os.getloadavg()[0]:.1f}")
    print(
        f"scorecard month, {len(card.summary)} agents, {card.overall['calls']} calls: build {t1 - t0:.2f} s, "
        f"+xlsx {t2 - t1:.2f} s, +html {t3 - t2:.2f} s, total {t3 - t0:.2f} s (target ≤ 10);"
        f" build CPU {c1 - c0:.2f} s (this process){srv}"
    )
    shutil.rmtree(out)


if __name__ == "__main__":
    main()
