"""How many worker processes and CPU threads per worker a batch uses when the user does not say.

Measured on the 2-core machine (docs/benchmarks.md, `benchmarks/bench_pipeline.py --sides old,old+layout,new`):
CTranslate2 spends 15-25 % more CPU per window with 2 intra-op threads than with 1, but a second worker process
costs its own start-up (torch, Silero, CTranslate2, the model: several CPU seconds) and its own caches, and
end to end two single-threaded workers used 15-22 % MORE CPU than one worker with two threads (calls 01 + 06,
two alternating repeats). So on CPU the default is one worker using every core; `-j N` remains for machines with
more cores than one worker's threads use well. Each worker holds its own model (~0.7-0.9 GB peak with base
int8), so the worker count is also capped by memory.
"""

from __future__ import annotations

import os

WORKER_PEAK_GB = 1.2  # a base int8 worker peaks at ~0.8 GB; headroom for long calls and larger batches


def _available_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        return None
    return None


def worker_layout(
    jobs: int = 0,
    threads: int = 0,
    *,
    device: str = "cpu",
    engine: str = "faster-whisper",
    cpus: int | None = None,
    mem_gb: float | None = None,
) -> tuple[int, int]:
    """(worker processes, CPU threads per worker); a value > 0 given by the user is kept as it is.

    CPU: one worker with a thread per core (measured, see above). GPU: two workers (one
    decoding on the GPU while the other decodes audio and runs VAD and checks on the CPU), CPU threads split
    between them — not measured on a GPU yet. Reading existing transcripts: one worker (nothing to parallelise
    that would pay for starting processes)."""
    cpus = cpus or os.cpu_count() or 1
    if jobs <= 0:
        if engine == "transcript":
            jobs = 1
        elif device.startswith("cuda"):
            jobs = 2
        else:
            jobs = 1
    if jobs > 1:  # never more workers than memory holds
        mem = _available_gb() if mem_gb is None else mem_gb
        if mem is not None:
            jobs = max(1, min(jobs, int(mem // WORKER_PEAK_GB)))
    threads = threads if threads > 0 else max(1, cpus // jobs)
    return jobs, threads
