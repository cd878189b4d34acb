"""The judging pool: results in batch order, the same with one process or several, in the command's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa_pipeline.i18n import set_language, t
from qa_pipeline.judge_pool import PoolStats, plan, run_batches


def _describe(ids: Sequence[str]) -> list[str]:
    return [t("audio.error.empty_file", file=i) for i in ids]


@dataclass(frozen=True)
class _Job:
    """Picklable factory: each worker builds its function once."""

    def open(self) -> Callable[[Sequence[str]], list[str]]:
        return _describe


def test_batches_come_back_in_order_and_in_the_command_s_language():
    ids = [f"c{i:04d}" for i in range(2400)]
    chunks, workers = plan(ids, 300, 2)
    assert workers == 2 and len(chunks) >= 4
    set_language("en")
    try:
        stats = PoolStats()
        parallel = [x for out in run_batches(_Job(), chunks, workers, stats) for x in out]
        single = [x for out in run_batches(_Job(), chunks, 1) for x in out]
    finally:
        set_language(None)
    assert stats.workers == 2
    assert parallel == single == [f"{i}: empty file (0 bytes)" for i in ids]
