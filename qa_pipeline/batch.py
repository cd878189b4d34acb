"""Score many calls: worker processes, resume, atomic per-call files, the batch table and summary."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audio import file_sha256
from .manifest import CallJob
from .pipeline import PipelineOptions, engine_info, score_call
from .result import CallResult, write_json_atomic
from .rubric import load_rubric

if TYPE_CHECKING:
    from .executors.ray_pool import RayOptions

CHECK_COLUMNS = (
    "greeting",
    "closing",
    "polite_terms",
    "honorific",
    "forbidden_phrase",
    "colloquialism",
    "interruption",
    "silence_over_30s",
    "silence_over_60s",
    "hold_notice",
    "hold_apology",
    "response_latency",
    "no_response_to_long_speech",
    "speech_rate",
    "volume",
    "transfer_phrase",
    "transfer_pause",
    "confirm_understanding",
    "repeated_question",
    "wait_fluency",
)


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
    safe = "".join(c if c.isalnum() or c in "-_.~" else "_" for c in call_id)
    return out / "calls" / f"{safe}.json"


def is_up_to_date(out: Path, job: CallJob, expected_engine: dict[str, Any]) -> bool:
    """Already scored OK from the same audio bytes with the same rubric version and engine?"""
    path = call_path(out, job.metadata.call_id)
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    eng = old.get("engine") or {}
    same_engine = all(eng.get(k) == expected_engine[k] for k in ("asr", "model", "rubric", "rubric_version", "options"))
    return old.get("status") == "ok" and same_engine and (old.get("audio") or {}).get("sha256") == file_sha256(job.path)


_WORKER_OPTIONS: PipelineOptions | None = None


def _init_worker(options: PipelineOptions) -> None:
    global _WORKER_OPTIONS
    _WORKER_OPTIONS = options
    # load the model once per worker, before the first call arrives
    from .asr import load_engine

    try:
        load_engine(options.asr)
    except Exception:  # reported per call by score_call with the proper message
        pass


def _score_in_worker(job: CallJob) -> dict[str, Any]:
    assert _WORKER_OPTIONS is not None
    return _score_job(job, _WORKER_OPTIONS)


def _score_job(job: CallJob, options: PipelineOptions) -> dict[str, Any]:
    if job.error:
        return CallResult(job.metadata.call_id, "failed", job.metadata, error=job.error).to_json()
    try:
        return score_call(job.path, job.metadata, options).to_json()
    except Exception as exc:  # a bug on one call must not stop the batch
        return CallResult(
            job.metadata.call_id, "failed", job.metadata, error=f"{job.path}: internal error: {exc!r}"
        ).to_json()


def unique_ids(jobs: list[CallJob]) -> list[CallJob]:
    """Same stem in two folders → suffix the later call ids so no result overwrites another."""
    seen: Counter[str] = Counter()
    out = []
    for job in jobs:
        cid = job.metadata.call_id
        seen[cid] += 1
        if seen[cid] > 1:
            job = replace(job, metadata=replace(job.metadata, call_id=f"{cid}~{seen[cid]}"))
        out.append(job)
    return out


def run_batch(
    jobs: list[CallJob],
    out: Path,
    options: PipelineOptions,
    *,
    workers: int = 1,
    resume: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    ray: RayOptions | None = None,
) -> BatchSummary:
    """Score `jobs` into `out/calls/*.json`, then rebuild `out/calls.csv`; returns this run's summary.
    `ray`: score on a Ray actor pool (executors/ray_pool.py) instead of local worker processes."""
    jobs = unique_ids(jobs)
    expected = engine_info(options, load_rubric(options.rubric)).__dict__
    summary = BatchSummary()
    todo = []
    for job in jobs:
        if resume and not job.error and job.path.exists() and is_up_to_date(out, job, expected):
            summary.skipped += 1
        else:
            todo.append(job)
    total = len(todo)
    start = time.perf_counter()

    def record(result: dict[str, Any], done: int) -> None:
        write_json_atomic(call_path(out, result["call_id"]), result)
        if on_result:
            on_result(result)
        _tally(summary, result)
        if progress:
            progress(done, total, result["call_id"])

    try:
        if ray is not None:
            from .executors.ray_pool import ray_results

            results = ray_results(todo, options, ray, _score_job, _init_worker)
        else:
            results = _results(todo, options, workers)
        for done, result in enumerate(results, start=1):
            record(result, done)
    finally:
        summary.wall_s = time.perf_counter() - start
        write_calls_csv(out)
    return summary


def _results(todo: list[CallJob], options: PipelineOptions, workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(todo) <= 1:
        for job in todo:
            yield _score_job(job, options)
        return
    # spawn: model runtimes (torch, CTranslate2, onnxruntime) are not fork-safe once threads exist
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(options,)
    ) as pool:
        pending: set[Future[dict[str, Any]]] = set()
        queue = iter(todo)
        try:
            for job in queue:  # keep a small backlog so Ctrl-C does not leave a huge queue behind
                pending.add(pool.submit(_score_in_worker, job))
                if len(pending) >= workers * 2:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        yield fut.result()
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _tally(summary: BatchSummary, result: dict[str, Any]) -> None:
    if result["status"] != "ok":
        summary.failed += 1
        summary.failures.append((result["call_id"], result.get("error") or ""))
        return
    summary.ok += 1
    summary.audio_s += (result.get("audio") or {}).get("duration_s", 0.0)
    if result.get("score"):
        summary.scores.append(result["score"]["total"])
    for c in result.get("checks", []):
        if c["status"] == "fail":
            summary.violations[c["check"]] += 1


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
        "fatal": score.get("fatal", ""),
        "needs_review": score.get("needs_review", ""),
        "error": result.get("error") or "",
    }
    row.update({f"fail_{name}": fails.get(name, 0) for name in CHECK_COLUMNS})
    return row


def write_calls_csv(out: Path) -> Path | None:
    """Rebuild `calls.csv` from every per-call file (so a resumed run's table covers all calls)."""
    files = sorted((out / "calls").glob("*.json"))
    if not files:
        return None
    rows = []
    for f in files:
        try:
            rows.append(calls_table_row(json.loads(f.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError):
            continue
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    target = out / "calls.csv"
    tmp = target.with_suffix(".csv.tmp")
    # UTF-8 with BOM so Excel/WPS show Chinese names correctly
    tmp.write_text(buf.getvalue(), encoding="utf-8-sig")
    os.replace(tmp, target)
    return target
