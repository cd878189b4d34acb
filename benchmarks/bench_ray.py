"""Ray overhead: the same calls through `--ray local` (actor pool) and through the process pool (`-j 2`).

    python benchmarks/bench_ray.py [--engine transcript|faster-whisper] [--repeat 2] [--workers 2]
    python benchmarks/bench_ray.py --engine faster-whisper --device cuda   # GPU workers

Reports wall time and calls/s of each executor on the sample calls (data_samples/, listed `--repeat` times
under distinct call ids), the ratio Ray / process pool, and Ray's startup cost (ray.init of a local
instance, then actors created and their model loaded, measured to the actors' first answer). With
`--engine faster-whisper` the per-worker throughput in audio seconds per wall second is the figure used
for sizing in docs/scaling.md. Both runs write to their own temporary folder (resume off).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa_pipeline.asr import AsrOptions  # noqa: E402
from qa_pipeline.batch import _score_job, _Scorer, run_batch  # noqa: E402
from qa_pipeline.executors.ray_pool import NAMESPACE, RayOptions, make_actors, start_local  # noqa: E402
from qa_pipeline.manifest import read_manifest  # noqa: E402
from qa_pipeline.pipeline import PipelineOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="transcript")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per model")
    ap.add_argument("--model", default="base", help="ASR model (faster-whisper / whisper engines)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda: where the model runs (GPU workers: cuda)")
    ap.add_argument("--compute-type", default=None, help="faster-whisper: int8 (CPU default), float16 (cuda default)")
    ap.add_argument(
        "--gpus-per-actor", type=float, default=None, help="Ray num_gpus per actor (default 1 with --device cuda)"
    )
    args = ap.parse_args()
    compute = args.compute_type or ("float16" if args.device == "cuda" else "int8")
    gpus = args.gpus_per_actor if args.gpus_per_actor is not None else (1.0 if args.device == "cuda" else 0.0)
    base = [j for j in read_manifest(ROOT / "data_samples" / "manifest.csv") if not j.error]
    jobs = [
        replace(j, metadata=replace(j.metadata, call_id=f"{j.metadata.call_id}-r{k}"))
        for k in range(args.repeat)
        for j in base
    ]
    options = PipelineOptions(
        asr=AsrOptions(
            engine=args.engine, cpu_threads=args.threads, model=args.model, device=args.device, compute_type=compute
        )
    )
    tmp = Path(tempfile.mkdtemp(prefix="callqa_bench_ray_"))
    print(f"{len(jobs)} calls, engine {args.engine} ({args.model}, {args.device}, {compute}), "
          f"{args.workers} workers × {args.threads} threads, "
          f"load {os.getloadavg()[0]:.1f} ({os.cpu_count()} cpus)")  # fmt: skip
    try:
        t0 = time.perf_counter()
        a = run_batch(jobs, tmp / "pool", options, workers=args.workers, resume=False)
        pool_s = time.perf_counter() - t0
        print(f"process pool -j {args.workers}: {pool_s:.1f} s, {len(jobs) / pool_s:.2f} calls/s, "
              f"{a.audio_s / pool_s:.1f}× real time (ok {a.ok}, failed {a.failed})")  # fmt: skip

        import ray

        t0 = time.perf_counter()
        start_local(args.workers * args.threads, args.workers * gpus, namespace=NAMESPACE, log_to_driver=False)
        t1 = time.perf_counter()
        opts = RayOptions(address="local", actors=args.workers, num_cpus=float(args.threads), num_gpus=gpus)
        actors = make_actors(options, opts, _Scorer.load, _score_job)
        ray.get([x.pid.remote() for x in actors])  # constructed: model loaded
        t2 = time.perf_counter()
        for x in actors:
            ray.kill(x)
        init_s = t1 - t0
        print(f"ray startup: ray.init {init_s:.1f} s, {args.workers} actors + model load {t2 - t1:.1f} s")
        t0 = time.perf_counter()
        b = run_batch(jobs, tmp / "ray", options, resume=False, ray=opts)
        ray_s = time.perf_counter() - t0
        ray.shutdown()
        # the batch creates its own actors (model load included, as the pool's workers load theirs)
        print(f"ray local, {args.workers} actors: {ray_s:.1f} s, {len(jobs) / ray_s:.2f} calls/s, "
              f"{b.audio_s / ray_s:.1f}× real time (ok {b.ok}, failed {b.failed})")  # fmt: skip
        print(f"ratio ray / process pool: {ray_s / pool_s:.2f} without ray.init, "
              f"{(ray_s + init_s) / pool_s:.2f} with it (what `--ray local` pays on every run)")  # fmt: skip
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
