"""Score many calls: worker processes, resume, atomic per-call files, the batch table and summary."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .asr import AsrEngine, load_engine
from .atomic import remove_orphan_temps, write_json_atomic, write_text_atomic
from .audio import file_sha256
from .checks.registry import check_names
from .i18n import language, set_language, t
from .judging import warm_up
from .manifest import CallJob
from .pipeline import PipelineOptions, engine_info, score_call
from .result import CallResult
from .rubric import Rubric, load_rubric
from .safe import first_line, readable, safe_file_stem, spreadsheet_cell
from .store.db import result_hash

if TYPE_CHECKING:
    from .executors.ray_pool import RayOptions

CHECK_COLUMNS = check_names()
"""`calls.csv` has a `fail_<check>` column per catalogued check, in catalogue order."""


@dataclass
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    scores: list[float] = field(default_factory=list)
    violations: Counter[str] = field(default_factory=Counter)
    audio_s: float = 0.0
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def speed(self) -> float | None:
        """Audio hours per wall hour for the calls scored in this run."""
        return self.audio_s / self.wall_s if self.wall_s > 0 and self.audio_s > 0 else None


def call_path(out: Path, call_id: str) -> Path:
    """`out/calls/<safe name>.json`, unique per call id (see `safe.safe_file_stem`)."""
    return out / "calls" / f"{safe_file_stem(call_id)}.json"


def job_inputs(job: CallJob, options: PipelineOptions) -> dict[str, str | None]:
    """What else decides a result besides audio and engine: the call's metadata (a corrected agent or team) and,
    for the transcript engine, the transcript file's bytes (a corrected transcript)."""
    md = json.dumps(asdict(job.metadata), ensure_ascii=True, sort_keys=True, default=str)
    inputs: dict[str, str | None] = {"metadata": hashlib.sha256(md.encode()).hexdigest()[:16]}
    if options.asr.engine == "transcript":
        from .asr.transcript import find_transcript

        try:
            inputs["transcript"] = file_sha256(find_transcript(job.path, options.asr.transcripts_dir))
        except Exception:  # noqa: BLE001 - no transcript: scoring reports it
            inputs["transcript"] = None
    return inputs


def read_up_to_date(
    out: Path, job: CallJob, expected_engine: dict[str, Any], inputs: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The stored result when it is OK and came from the same audio bytes, engine, rubric version and inputs."""
    path = call_path(out, job.metadata.call_id)
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("call_id") != job.metadata.call_id:
        return None
    eng = old.get("engine") or {}
    same_engine = all(eng.get(k) == expected_engine[k] for k in ("asr", "model", "rubric", "rubric_version", "options"))
    if inputs is not None and old.get("inputs") != inputs:
        return None
    try:
        same_audio = (old.get("audio") or {}).get("sha256") == file_sha256(job.path)
    except OSError:
        return None
    return old if old.get("status") == "ok" and same_engine and same_audio else None


def is_up_to_date(out: Path, job: CallJob, expected_engine: dict[str, Any]) -> bool:
    """Already scored OK from the same audio bytes with the same rubric version and engine?"""
    return read_up_to_date(out, job, expected_engine) is not None


class CallTimeout(BaseException):
    """A call ran past its time budget (a BaseException, like Ctrl-C, so that no stage's `except Exception`
    mistakes it for that stage's own error)."""


@dataclass
class _Scorer:
    """What one process holds to score calls: the options, the rubric (loaded and validated once), the engine
    (loaded once; when it cannot be loaded, every call fails with the reason — score_call says it) and the time
    budget of one call."""

    options: PipelineOptions
    rubric: Rubric
    engine: AsrEngine | None = None
    budget_s: float | None = None

    @classmethod
    def load(cls, options: PipelineOptions, budget_s: float | None = None) -> _Scorer:
        try:
            engine: AsrEngine | None = load_engine(options.asr)
        except Exception:  # reported per call by score_call with the proper message
            engine = None
        rubric = load_rubric(options.rubric)
        warm_up(rubric)
        return cls(options, rubric, engine, budget_s)


_WORKER: _Scorer | None = None


def _init_worker(options: PipelineOptions, budget_s: float | None = None, lang: str | None = None) -> None:
    global _WORKER
    set_language(lang)  # a spawned worker writes failure reasons in the batch's language (--lang)
    # load the rubric and the model once per worker, before the first call arrives
    _WORKER = _Scorer.load(options, budget_s)


def _score_in_worker(job: CallJob) -> dict[str, Any]:
    assert _WORKER is not None
    return _score_job(job, _WORKER)


def _failed(job: CallJob, error: str) -> dict[str, Any]:
    return CallResult(job.metadata.call_id, "failed", job.metadata, error=error).to_json()


def _score_job(job: CallJob, scorer: _Scorer) -> dict[str, Any]:
    if job.error:
        return _failed(job, job.error)
    try:
        with _time_budget(scorer.budget_s):
            result = score_call(
                job.path, job.metadata, scorer.options, engine=scorer.engine, rubric=scorer.rubric
            ).to_json()
    except CallTimeout:
        return _failed(job, t("batch.error.time_budget", file=readable(str(job.path)), seconds=f"{scorer.budget_s:g}"))
    except MemoryError:
        return _failed(job, t("batch.error.out_of_memory", file=readable(str(job.path))))
    except Exception as exc:  # a bug on one call must not stop the batch
        # the exception's class stays in the text: this is a bug to report, and the class says where to look
        reason = f"{type(exc).__name__}: {exc}"
        return _failed(job, t("batch.error.internal", file=readable(str(job.path)), reason=reason))
    return _with_search_tokens(result)


def _with_search_tokens(result: dict[str, Any]) -> dict[str, Any]:
    """The search index's token forms of the (redacted) transcript, added here, in the scoring worker, once:
    `callqa import` and the database write use them instead of segmenting again (store/tokens.py). Should
    that fail, the result goes without them and the store tokenises it as it always did."""
    try:
        from .store.tokens import with_search_tokens

        return with_search_tokens(result)
    except Exception:  # noqa: BLE001 - an optional speed-up, never a failed call
        result.pop("search_tokens", None)
        return result


@contextmanager
def _time_budget(budget_s: float | None) -> Iterator[None]:
    """Interrupt the call after `budget_s` (SIGALRM; main thread of this process only, elsewhere no limit)."""
    usable = (
        budget_s is not None
        and budget_s > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CallTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(budget_s))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def unique_ids(jobs: list[CallJob]) -> list[CallJob]:
    """A call id given to two different recordings is an error for the later ones (their results get a `~N` id
    so that nothing overwrites the first call's result); distinct ids always get distinct files."""
    seen: dict[str, Path] = {}
    count: Counter[str] = Counter()
    out = []
    for job in jobs:
        clean = readable(job.metadata.call_id)
        if clean != job.metadata.call_id:
            job = replace(job, metadata=replace(job.metadata, call_id=clean))
        cid = clean
        count[cid] += 1
        if cid in seen:
            error = t(
                "batch.error.duplicate_id", file=readable(str(job.path)), call_id=cid, other=readable(str(seen[cid]))
            )
            job = replace(job, metadata=replace(job.metadata, call_id=f"{cid}~{count[cid]}"), error=job.error or error)
        else:
            seen[cid] = job.path
        out.append(job)
    return out


DB_RETRIES = 3


def run_batch(
    jobs: list[CallJob],
    out: Path,
    options: PipelineOptions,
    *,
    workers: int = 1,
    resume: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    store: Any = None,
    time_budget_s: float | None = None,
    ray: RayOptions | None = None,
) -> BatchSummary:
    """Score `jobs` into `out/calls/*.json` (and `store`, when given), then rebuild `out/calls.csv`.

    Resume trusts a call only when its JSON is up to date *and* the database holds that same result; a call whose
    JSON is current but whose row is missing or stale (a crash between the two writes, an earlier --no-db run, a
    new --db) is written to the database from its JSON without re-scoring.

    `ray`: score on a Ray actor pool (executors/ray_pool.py) instead of local worker processes."""
    jobs = unique_ids(jobs)
    remove_orphan_temps(out / "calls")
    remove_orphan_temps(out)
    rubric = load_rubric(options.rubric)
    expected = engine_info(options, rubric).__dict__
    summary = BatchSummary()
    stored: dict[str, str | None] = store.source_hashes() if store is not None else {}
    archive_judge = None
    if store is not None:  # 四(二) 办理时长 against the stored calls' average (rescore.ArchiveJudge)
        from .rescore import ArchiveJudge

        archive_judge = ArchiveJudge.for_store(store, rubric)
    todo: list[tuple[CallJob, dict[str, Any]]] = []
    for job in jobs:
        inputs = job_inputs(job, options) if not job.error else {}
        old = read_up_to_date(out, job, expected, inputs) if resume and not job.error and job.path.exists() else None
        if old is None:
            todo.append((job, inputs))
            continue
        if store is not None and stored.get(old["call_id"]) != result_hash(old):
            problem = _store_write(store, old)
            if problem:
                summary.failed += 1
                summary.failures.append((old["call_id"], problem))
                continue
        summary.skipped += 1
    total = len(todo)
    start = time.perf_counter()
    inputs_of = {job.metadata.call_id: inputs for job, inputs in todo}

    def record(result: dict[str, Any], done: int) -> None:
        if result.get("status") == "ok":
            result["inputs"] = inputs_of.get(result["call_id"])
            if archive_judge is not None:
                try:
                    result = archive_judge(result)
                except Exception:  # noqa: BLE001 - the call keeps the pipeline's judgement (handling time: needs_review)
                    pass
        write_json_atomic(call_path(out, result["call_id"]), result)
        problem = _store_write(store, result) if store is not None else None
        if on_result and not problem:
            try:
                on_result(result)
            except Exception as exc:  # noqa: BLE001 - the call's failure, not the batch's
                problem = t("batch.error.not_stored", reason=first_line(exc, 200))
        _tally(summary, result)
        if problem:
            if result["status"] == "ok":
                summary.ok -= 1
                summary.failed += 1
            summary.failures.append((result["call_id"], problem))
        if progress:
            progress(done, total, result["call_id"])

    try:
        to_score = [j for j, _ in todo]
        if ray is not None:
            from .executors.ray_pool import ray_results

            make_scorer = partial(_Scorer.load, budget_s=time_budget_s)
            results: Iterator[dict[str, Any]] = ray_results(to_score, options, ray, make_scorer, _score_job)
        else:
            results = _results(to_score, options, workers, time_budget_s)
        for done, result in enumerate(results, start=1):
            record(result, done)
    finally:
        summary.wall_s = time.perf_counter() - start
        write_calls_csv(out)
    return summary


def _store_write(store: Any, result: dict[str, Any]) -> str | None:
    """Upsert with a few retries (another process may hold the write lock); the reason when it still fails."""
    last: Exception | None = None
    for attempt in range(DB_RETRIES):
        try:
            store.upsert_call(result)
            return None
        except Exception as exc:  # noqa: BLE001 - locked, disk full, constraint: that call's failure
            last = exc
            time.sleep(0.5 * (attempt + 1))
    return t("batch.error.db_write", reason=first_line(last, 200) if last else "")


def _results(
    todo: list[CallJob], options: PipelineOptions, workers: int, budget_s: float | None = None
) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(todo) <= 1:
        if not todo:
            return
        scorer = _Scorer.load(options, budget_s)
        for job in todo:
            yield _score_job(job, scorer)
        return
    queue: deque[CallJob] = deque(todo)
    while queue:
        suspects = yield from _pool_run(queue, options, workers, budget_s)
        # a worker died (OOM killer, segfault): the calls that were running are suspects; run each alone so the
        # one that kills its worker fails by itself and the others are scored
        yield from _one_by_one(suspects, options, budget_s)


def _pool_run(
    queue: deque[CallJob], options: PipelineOptions, workers: int, budget_s: float | None
) -> Generator[dict[str, Any], None, list[CallJob]]:
    # spawn: model runtimes (torch, CTranslate2, onnxruntime) are not fork-safe once threads exist
    pool = ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(options, budget_s, language())
    )
    pending: dict[Future[dict[str, Any]], CallJob] = {}
    try:
        while queue or pending:
            while queue and len(pending) < workers * 2:  # a small backlog so Ctrl-C leaves little behind
                job = queue.popleft()
                pending[pool.submit(_score_in_worker, job)] = job
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    return [job] + [pending.pop(f) for f in list(pending)]
                yield result
        return []
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _one_by_one(jobs: list[CallJob], options: PipelineOptions, budget_s: float | None) -> Iterator[dict[str, Any]]:
    """Each job alone in a one-worker pool (a new pool only after one dies): a job that kills its worker again
    fails with that reason and takes no other call with it."""
    pool: ProcessPoolExecutor | None = None
    try:
        for job in jobs:
            if pool is None:
                pool = ProcessPoolExecutor(
                    1,
                    mp_context=get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(options, budget_s, language()),
                )
            try:
                yield pool.submit(_score_in_worker, job).result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
                yield _failed(
                    job,
                    t("batch.error.worker_died", file=readable(str(job.path))),
                )
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _tally(summary: BatchSummary, result: dict[str, Any]) -> None:
    if result["status"] != "ok":
        summary.failed += 1
        summary.failures.append((result["call_id"], result.get("error") or ""))
        return
    summary.ok += 1
    summary.audio_s += (result.get("audio") or {}).get("duration_s", 0.0)
    score = result.get("score")
    if score and score.get("max"):
        # one scale everywhere: the automatic part as a % of the points the machine judged
        summary.scores.append(100.0 * float(score["total"]) / float(score["max"]))
    for c in result.get("checks", []):
        if c["status"] == "fail":
            summary.violations[c["check"]] += 1


CALLS_CSV_COLUMNS = [
    "call_id",
    "agent_id",
    "agent_name",
    "team",
    "started_at",
    "duration_s",
    "status",
    "score",
    "max",
    "score_pct",  # the one scale (review/final.py): automatic part as % of judged points,
    "score_100",  # the 100-point total (empty while the manual part is 待人工评分; 0 for a fatal call),
    "pending_points",  # points left to a person,
    "verdict",  # 红线 / 合格 / 不合格 / 待人工评分
    "fatal",
    "needs_review",
    "error",
    *(f"fail_{name}" for name in CHECK_COLUMNS),
]


def _scale_columns(score: dict[str, Any]) -> dict[str, Any]:
    if not score:
        return {"score_pct": "", "score_100": "", "pending_points": "", "verdict": ""}
    from .review.final import scale_from_score, scale_text

    sc = scale_from_score(score)
    return {
        "score_pct": "" if sc.auto_pct is None else sc.auto_pct,
        "score_100": "" if sc.total is None else sc.total,
        "pending_points": round(sc.max_points - sc.auto_points, 2),
        "verdict": scale_text(sc)["verdict"],
    }


def calls_table_row(result: dict[str, Any]) -> dict[str, Any]:
    score = result.get("score") or {}
    fails = Counter(c["check"] for c in result.get("checks", []) if c["status"] == "fail")
    md = result.get("metadata") or {}
    row = {
        "call_id": result["call_id"],
        "agent_id": result.get("agent_id") or "",
        "agent_name": md.get("agent_name", ""),
        "team": md.get("team", ""),
        "started_at": md.get("started_at", ""),
        "duration_s": (result.get("audio") or {}).get("duration_s", ""),
        "status": result["status"],
        "score": score.get("total", ""),
        "max": score.get("max", ""),
        **_scale_columns(score),
        "fatal": score.get("fatal", ""),
        "needs_review": score.get("needs_review", ""),
        "error": result.get("error") or "",
    }
    row.update({f"fail_{name}": fails.get(name, 0) for name in CHECK_COLUMNS})
    return row


def write_calls_csv(out: Path) -> Path | None:
    """Rebuild `calls.csv` from every per-call file (so a resumed run's table covers all calls).

    One row per call id: a file whose name is not its call id's file (left by an older naming) is ignored. Text
    cells that a spreadsheet would run as a formula are neutralised."""
    files = sorted((out / "calls").glob("*.json"))
    if not files:
        return None
    rows = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            if call_path(out, data["call_id"]).name != f.name:
                continue
            rows.append({k: spreadsheet_cell(v) for k, v in calls_table_row(data).items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    buf = io.StringIO()
    # the columns come from the code, not from the first row that happened to parse (there may be none)
    writer = csv.DictWriter(buf, fieldnames=CALLS_CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    target = out / "calls.csv"
    # UTF-8 with BOM so Excel/WPS show Chinese names correctly (a unique temp name: concurrent batches do not race)
    write_text_atomic(target, buf.getvalue(), encoding="utf-8-sig")
    return target
