"""Judging stored calls in parallel worker processes (`callqa rules test -j N`, `callqa rescore -j N`).

The call ids are cut into batches; each worker process opens its own read-only connection to the store, loads
its batch (`archive.load_calls`) and judges it; the results come back to the parent **in batch order**, so
whatever the parent builds from them (a trial report, the rescore's writes) is the same as with one process.
The parent stays the only writer: SQLite never sees two writers, and a rescore stays resumable batch by batch.

Workers are not `fork`ed from the parent: it holds database connections and a progress-bar thread, neither of
which may be duplicated into a child; they come from a `forkserver` (see `_context`). A worker is built once
per process by a picklable factory (a frozen dataclass with the database URL and the rubric or rules), so
per-batch messages carry only call ids and results. Each batch also reports the CPU seconds it took where it
ran (`PoolStats`): forkserver children are not the parent's, so `getrusage(RUSAGE_CHILDREN)` cannot see them.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .i18n import language, set_language

if TYPE_CHECKING:
    import sqlalchemy as sa

R = TypeVar("R")


class BatchJob(Protocol[R]):  # type: ignore[misc]
    """A picklable factory whose `open()` returns the per-process function (call ids → batch result)."""

    def open(self) -> Callable[[Sequence[str]], R]: ...


def default_workers() -> int:
    """One worker per CPU the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


MIN_PARALLEL_CALLS = 2000
"""Fewer calls than this are judged in this process: starting workers would cost more than they save."""
MIN_PARALLEL_BATCH = 100
"""With several workers, batches are not cut smaller than this."""


def plan(ids: Sequence[str], batch_size: int, workers: int) -> tuple[list[list[str]], int]:
    """Cut `ids` into batches and say how many worker processes to use (1: this process). With several
    workers, batches are small enough that each worker gets a few. Results do not depend on the cut: each
    call is judged on its own."""
    size = max(1, batch_size)
    if workers <= 1 or len(ids) < MIN_PARALLEL_CALLS:
        workers = 1
    else:
        size = min(size, max(MIN_PARALLEL_BATCH, math.ceil(len(ids) / (workers * 4))))
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    return chunks, max(1, min(workers, len(chunks)))


_PRELOAD = ["qa_pipeline.rescore", "qa_pipeline.rules.trial"]


def _context() -> multiprocessing.context.BaseContext:
    """`forkserver` where there is one: a clean process (no inherited connections or threads) imports the
    package once and forks each worker from itself, so a worker starts in milliseconds instead of importing
    the package again as `spawn` would."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # Windows
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


@dataclass
class PoolStats:
    """What the batches cost where they ran (benchmarks print it next to the parent's own CPU time)."""

    workers: int = 1
    batch_cpu_s: float = 0.0
    """CPU seconds spent judging batches (in the workers, or here with one process)."""
    batch_wall_s: float = 0.0


_FN: Callable[[Sequence[str]], Any] | None = None


def _init(job: BatchJob[Any], lang: str | None = None) -> None:
    global _FN
    set_language(lang)  # reasons written by a worker in the command's language (--lang), as with -j 1
    _FN = job.open()


def _timed(fn: Callable[[Sequence[str]], R], ids: Sequence[str]) -> tuple[R, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(ids)
    return out, time.process_time() - c0, time.perf_counter() - w0


def _run(ids: Sequence[str]) -> tuple[Any, float, float]:
    assert _FN is not None, "worker not initialised"
    return _timed(_FN, ids)


def run_batches(
    job: BatchJob[R], chunks: Sequence[Sequence[str]], workers: int, stats: PoolStats | None = None
) -> Iterator[R]:
    """Yield `job`'s result for each chunk, in order; `workers` > 1 runs them in that many processes (at
    most two chunks per worker in flight, so memory stays bounded and the parent keeps up)."""
    stats = stats if stats is not None else PoolStats()
    if workers <= 1 or len(chunks) <= 1:
        stats.workers = 1
        fn = job.open()
        for chunk in chunks:
            out, cpu, wall = _timed(fn, chunk)
            stats.batch_cpu_s += cpu
            stats.batch_wall_s += wall
            yield out
        return
    n = stats.workers = min(workers, len(chunks))
    ex = ProcessPoolExecutor(n, mp_context=_context(), initializer=_init, initargs=(job, language()))
    pending: deque[Future[tuple[R, float, float]]] = deque()
    try:
        todo = iter(chunks)
        for chunk in todo:
            pending.append(ex.submit(_run, chunk))
            if len(pending) >= 2 * n:
                break
        while pending:
            result, cpu, wall = pending.popleft().result()
            stats.batch_cpu_s += cpu
            stats.batch_wall_s += wall
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(ex.submit(_run, nxt))
            yield result
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def store_url(engine: sa.Engine) -> str:
    """The URL a worker opens the same database with (password included: it only goes to our own children)."""
    return engine.url.render_as_string(hide_password=False)


class Reader:
    """A worker's own engine on the store's database: read-only connections (deferred BEGIN: never takes the
    write lock), no migration run. One connection per batch, so no read snapshot outlives a batch."""

    def __init__(self, url: str):
        from .store.db import make_engine

        self.engine = make_engine(url)

    def read(self) -> sa.Connection:
        from .store.db import READ_ONLY

        return self.engine.connect().execution_options(**{READ_ONLY: True})
