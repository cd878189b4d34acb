"""GPU throughput of the whole pipeline: xRT, GPU memory and CER on the samples (needs a CUDA device).

    python benchmarks/bench_gpu.py [--all | --calls 01 04 06 12] [--repeat 3] [--compute-type float16]
        [--batch 0] [--engine faster-whisper|openai-whisper] [--jobs 0]

faster-whisper: float16 (or int8_float16) on CUDA; all windows of a call (both parties) are encoded and their
first beam-search pass decoded as one batch, the batch size taken from free GPU memory (--batch 0) or given.
The calls are repeated (--repeat) so that the GPU sees a realistic stream; worker processes (--jobs, default
from asr/layout.py) decode audio, run VAD and the checks on the CPU while another worker's windows are on the
GPU. openai-whisper runs its own decoding on CUDA (fp16). Start-up is included in the wall time.

Prints one JSON line and writes benchmarks/out/gpu.json. Exits 2 with a message when no CUDA device is present.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLES = REPO / "data_samples"
OUT = REPO / "benchmarks" / "out"


def _gpu_used_mb() -> float | None:
    """Memory in use on GPU 0 (all processes: the workers are separate processes), via nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    out = subprocess.run(
        [smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(out.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", nargs="*", default=["01", "04", "06", "12"])
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="copies of the call list (a stream, not a cold start)")
    ap.add_argument("--engine", default="faster-whisper", choices=["faster-whisper", "openai-whisper"])
    ap.add_argument("--compute-type", default="float16")
    ap.add_argument("--batch", type=int, default=0, help="windows per batch (0: from free GPU memory)")
    ap.add_argument("--jobs", type=int, default=0)
    args = ap.parse_args()

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        print("bench_gpu: no CUDA device here (torch.cuda.is_available() is False); nothing measured")
        sys.exit(2)

    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.asr.faster_whisper import gpu_batch_size
    from qa_pipeline.asr.layout import worker_layout
    from qa_pipeline.batch import run_batch
    from qa_pipeline.evaluate import evaluate, sample_jobs
    from qa_pipeline.pipeline import PipelineOptions

    jobs, threads = worker_layout(args.jobs, device="cuda")
    batch = args.batch or gpu_batch_size(5, int(torch.cuda.mem_get_info()[0]) // max(1, jobs))
    asr = AsrOptions(
        engine=args.engine, device="cuda", compute_type=args.compute_type, cpu_threads=threads, batch_windows=batch
    )
    options = PipelineOptions(asr=asr)
    files = sorted(p for p in SAMPLES.glob("*.flac") if ".mono." not in p.name)
    if not args.all:
        files = [p for p in files if p.name.split("_")[0] in args.calls]
    wanted = {p.resolve() for p in files}
    base = [j for j in sample_jobs(SAMPLES) if j.path.resolve() in wanted]
    stream = []
    from dataclasses import replace

    for k in range(args.repeat):  # distinct call ids, same audio: every copy is scored
        stream += [replace(j, metadata=replace(j.metadata, call_id=f"{j.metadata.call_id}~{k}")) for j in base]

    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            used = _gpu_used_mb()
            if used is not None:
                peak[0] = max(peak[0], used)
            stop.wait(0.5)

    before = _gpu_used_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = Path(tempfile.mkdtemp(prefix="bench_gpu."))
    t0 = time.perf_counter()
    summary = run_batch(stream, out, options, workers=jobs, resume=False)
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()

    audio = stages_asr = staged = 0.0
    first = out / "first"
    first.mkdir()
    for f in sorted((out / "calls").glob("*.json")):
        r = json.loads(f.read_text(encoding="utf-8"))
        if r["status"] != "ok":
            continue
        audio += r["audio"]["duration_s"]
        t = r.get("timings") or {}
        stages_asr += t.get("asr", 0.0)
        staged += sum(t.values())
        if r["call_id"].endswith("~0"):  # one copy of each call for the accuracy figures
            r["call_id"] = r["call_id"][:-2]
            (first / f"{r['call_id']}.json").write_text(json.dumps(r, ensure_ascii=False), encoding="utf-8")
    rep = evaluate(first, SAMPLES)
    result = {
        "device": torch.cuda.get_device_name(0),
        "engine": args.engine,
        "compute_type": args.compute_type,
        "workers": jobs,
        "threads_per_worker": threads,
        "batch_windows": batch,
        "calls_scored": summary.ok,
        "failed": summary.failed,
        "audio_s": round(audio, 1),
        "wall_s": round(wall, 2),
        "x_realtime": round(audio / wall, 1) if wall else None,
        "non_asr_share": round((staged - stages_asr) / staged, 4) if staged else None,
        "gpu_mem_before_mb": before,
        "gpu_mem_peak_mb": peak[0] or None,
        "cer": rep.cer["all"],
        "status_accuracy": rep.status_accuracy,
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gpu.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
