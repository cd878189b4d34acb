"""ASR benchmark: RTF, peak RSS and CER of the engines and chunking strategies on a telephone-like call.

Builds a two-channel call from the real clips in ../shared/real-audio (alternating customer/agent turns with
1.5 s gaps, each party 8 kHz round-tripped), uses Silero VAD for the speech segments, and runs every config
in its own subprocess so peak RSS is per engine. Usage:

    python benchmarks/bench_asr.py [--threads 2] [--configs fw-packed,fw-segment,...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # call-building helpers shared with the tests

from asr_helpers import make_call, read_16k, references, silero_segments, telephone  # noqa: E402

from qa_pipeline.evaluate import character_error_rate  # noqa: E402
from qa_pipeline.types import SAMPLE_RATE, SpeechSegment  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-audio"
if not REAL.is_dir():
    REAL = Path("/work/shared/real-audio")
CLIPS = [
    "aishell1_BAC009S0724W0121.wav",
    "paddlespeech_zh.wav",
    "funasr_asr_example_zh.wav",
    "funasr_paraformer_example1.wav",
    "funasr_paraformer_example2.wav",
    "wenetspeech_nst_ID001.wav",
    "wenetspeech_nst_ID002.wav",
    "cosyvoice_zero_shot_prompt.wav",
]
CONFIGS: dict[str, dict] = {
    "fw-packed-b5": dict(engine="faster-whisper"),
    "fw-dialogue-b5": dict(engine="faster-whisper", chunking="dialogue"),
    "fw-turn-b5": dict(engine="faster-whisper", chunking="turn"),
    "fw-segment-b5": dict(engine="faster-whisper", chunking="segment"),
    "fw-packed-greedy": dict(engine="faster-whisper", beam_size=1, temperature=(0.0,)),
    "fw-packed-b5-nowords": dict(engine="faster-whisper", word_timestamps=False),
    "ow-packed-greedy": dict(engine="openai-whisper", beam_size=1, temperature=(0.0,)),
}


def build_call():  # type: ignore[no-untyped-def]
    """Alternate clips between customer and agent; returns audio, timeline, [(clip, speaker, t0, t1)]."""
    gap = 1.5
    placed, t = [], 1.0
    for i, name in enumerate(CLIPS):
        x = telephone(read_16k(REAL / "audio" / name))
        placed.append((name, "customer" if i % 2 == 0 else "agent", t, x))
        t += len(x) / SAMPLE_RATE + gap
    n = int((t + 1.0) * SAMPLE_RATE)
    parties = {"customer": np.zeros(n, np.float32), "agent": np.zeros(n, np.float32)}
    segs: list[SpeechSegment] = []
    spans = []
    for name, spk, t0, x in placed:
        i0 = int(t0 * SAMPLE_RATE)
        parties[spk][i0 : i0 + len(x)] += x
        segs += [SpeechSegment(spk, t0 + s.start, t0 + s.end) for s in silero_segments(x, spk)]
        spans.append((name, spk, t0, t0 + len(x) / SAMPLE_RATE))
    audio, tl = make_call(parties, segs, path="bench.wav")
    return audio, tl, spans


def run_one(name: str, threads: int) -> dict:
    from qa_pipeline.asr import AsrOptions, load_engine

    audio, tl, spans = build_call()
    opts = AsrOptions(cpu_threads=threads, **CONFIGS[name])
    t0 = time.perf_counter()
    engine = load_engine(opts)
    load_s = time.perf_counter() - t0
    engine.transcribe(audio, tl)  # warm-up (JIT, allocator); timed run below
    t0 = time.perf_counter()
    tr = engine.transcribe(audio, tl)
    dt = time.perf_counter() - t0
    refs = references(REAL / "transcripts.tsv")
    errs = chars = 0
    for clip, spk, a, b in spans:
        hyp = "".join(u.text for u in tr.by(spk) if a - 0.3 <= (u.start + u.end) / 2 <= b + 0.3)
        n = len(refs[clip])
        errs += character_error_rate(refs[clip], hyp) * n
        chars += n
    return {
        "config": name,
        "threads": threads,
        "audio_s": round(audio.duration, 1),
        "speech_s": round(sum(s.duration for s in tl.speech), 1),
        "windows": tr.options.get("windows"),
        "load_s": round(load_s, 2),
        "transcribe_s": round(dt, 2),
        "rtf": round(dt / audio.duration, 4),
        "cer": round(errs / chars, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "utterances": len(tr.utterances),
        "text": " | ".join(u.text for u in tr.utterances)[:160],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.threads), ensure_ascii=False))
        return
    rows = []
    for name in args.configs.split(","):
        p = subprocess.run(
            [sys.executable, __file__, "--one", name, "--threads", str(args.threads)], capture_output=True, text=True
        )
        if p.returncode:
            print(f"{name}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
            continue
        row = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{name:22s} rtf={row['rtf']:.3f} transcribe={row['transcribe_s']:6.2f}s windows={row['windows']:3d} "
            f"cer={row['cer']:.3f} rss={row['peak_rss_mb']}MB load={row['load_s']}s",
            flush=True,
        )
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_asr.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
