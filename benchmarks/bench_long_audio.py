"""Peak memory of one long call (issue 15 item 6): decode → timeline (VAD) → transcript engine → checks.

Generates a stereo 8 kHz FLAC of `--hours` (default 3) in a temporary folder (never in the repository): the
agent and customer take turns reading real speech clips (../shared/real-audio/audio/, read here) with pauses,
plus a `.transcript.json` with a few utterances for the transcript engine. Then scores it with `score_call` in a
fresh child process and reports that process's peak RSS (VmHWM: everything it touched, including the pages of a
file it mapped), its peak anonymous memory (RssAnon sampled every 20 ms: what the kernel cannot reclaim), wall
and CPU time, the stage timings, and the load average. `--code DIR` scores with another checkout (before/after).

Run:  nice -n 5 python benchmarks/bench_long_audio.py [--hours 3] [--code /path/to/old/checkout] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
CLIPS = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "real-audio" / "audio"
RATE = 8000

CHILD = r"""
import json, os, resource, sys, threading, time
import qa_pipeline
print("code:", qa_pipeline.__file__, file=sys.stderr)
from pathlib import Path
peak_anon = [0]
def sample():
    while True:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    peak_anon[0] = max(peak_anon[0], int(line.split()[1]))
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
from qa_pipeline.asr import AsrOptions
from qa_pipeline.audio import IngestOptions
from qa_pipeline.pipeline import PipelineOptions, score_call
from qa_pipeline.types import CallMetadata
ingest = IngestOptions(**({"spill_after_s": float(sys.argv[3])} if sys.argv[3] != "default" else {}))
opts = PipelineOptions(asr=AsrOptions(engine=sys.argv[2]), ingest=ingest)
w0, c0 = time.perf_counter(), time.process_time()
r = score_call(Path(sys.argv[1]), CallMetadata("long"), opts)
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
time.sleep(0.05)
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
print(json.dumps({"status": r.status, "error": r.error, "timings": {k: round(v, 1) for k, v in r.timings.items()},
  "duration_s": r.audio.duration_s if r.audio else None, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
  "peak_anon_mb": round(peak_anon[0] / 1024), "hwm": status["VmHWM"].strip()}))
"""


def clips() -> list[np.ndarray]:
    out = []
    for f in sorted(CLIPS.glob("*.wav")):
        x, sr = sf.read(str(f), dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if sr != RATE:
            import soxr

            x = soxr.resample(x, sr, RATE)
        out.append(x.astype(np.float32))
    if not out:
        raise SystemExit(f"no speech clips in {CLIPS} (set CALLQA_SHARED)")
    return out


def generate(path: Path, hours: float) -> None:
    """Turns of real speech, alternating channels, 0.5–4 s pauses; written a turn at a time (small memory)."""
    rng = np.random.default_rng(0)
    speech = clips()
    total = int(hours * 3600 * RATE)
    utts, t, side = [], 0, 0
    with sf.SoundFile(str(path), "w", RATE, 2, subtype="PCM_16", format="FLAC") as fh:
        while t < total:
            x = speech[int(rng.integers(len(speech)))]
            pause = int(rng.uniform(0.5, 4.0) * RATE)
            block = np.zeros((min(len(x) + pause, total - t), 2), np.float32)
            n = min(len(x), len(block))
            block[:n, side] = 0.7 * x[:n]
            fh.write(block)
            if len(utts) < 400 and n > RATE:
                spk = "agent" if side == 0 else "customer"
                text = "您好，请问有什么可以帮您？" if spk == "agent" else "我想查一下这个月的话费。"
                start, end = round(t / RATE, 2), round((t + n) / RATE, 2)
                utts.append({"speaker": spk, "start": start, "end": end, "text": text})
            t += len(block)
            side = 1 - side
    path.with_suffix(".transcript.json").write_text(json.dumps({"utterances": utts}, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose qa_pipeline scores the call")
    ap.add_argument("--audio", type=Path, help="use this recording (with its .transcript.json) instead")
    ap.add_argument("--keep", action="store_true", help="keep the generated recording")
    ap.add_argument("--engine", default="transcript", help="ASR engine (faster-whisper: real ASR; use --hours 0.1)")
    ap.add_argument("--spill-after", default="default", help="IngestOptions.spill_after_s (seconds) for the run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="callqa-long-"))
    try:
        audio = args.audio
        if audio is None:
            audio = tmp / "long_call.flac"
            generate(audio, args.hours)
        size = audio.stat().st_size / 1e6
        load0 = os.getloadavg()[0]
        env = {**os.environ, "PYTHONPATH": str(args.code)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(audio), args.engine, args.spill_after],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
        )  # cwd: `python -c` puts the current folder first on the path, which must not shadow --code
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(out.stderr.strip().splitlines()[0] if out.stderr.strip() else f"code: {args.code}")
        print(f"recording: {audio.name}, {size:.0f} MB, {res['duration_s']} s")
        print(f"status {res['status']} {res['error'] or ''}")
        print(f"peak RSS {res['peak_rss_mb']} MB (VmHWM {res['hwm']}), peak anonymous {res['peak_anon_mb']} MB")
        print(f"wall {res['wall_s']} s, CPU {res['cpu_s']} s, stages {res['timings']}")
        print(f"load average: {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end")
        if args.keep:
            print(f"kept {audio}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
