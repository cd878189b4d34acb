"""Where one worker's ASR time goes, per Whisper window: encoder, decoder (first try vs temperature fallbacks),
word-timestamp alignment, and how full each 30 s encoder window is.

    python benchmarks/profile_asr.py [--calls 01 04 06 12] [--all] [--beam 5] [--no-words] [--chunking packed]
        [--batch-windows 1]

Wraps faster-whisper's WhisperModel.encode / generate_with_fallback / add_word_timestamps with timers (no change
to what they compute) and prints a table plus a JSON line (benchmarks/out/profile_asr.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLES = REPO / "data_samples"
OUT = REPO / "benchmarks" / "out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", nargs="*", default=["01", "04", "06", "12"])
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--no-words", action="store_true")
    ap.add_argument("--chunking", default="packed")
    ap.add_argument("--threads", type=int, default=2)
    # 1: one window at a time, so that every window's first pass goes through the timed generate_with_fallback;
    # batched first passes (0 = auto, the default pipeline) run in one CTranslate2 call the wrappers do not see
    ap.add_argument("--batch-windows", type=int, default=1)
    args = ap.parse_args()

    from faster_whisper.transcribe import WhisperModel

    from qa_pipeline.asr import AsrOptions, load_engine
    from qa_pipeline.manifest import metadata_from_name
    from qa_pipeline.pipeline import PipelineOptions, score_call

    stats: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    temps: dict[float, int] = defaultdict(int)

    def timed(name, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            out = fn(*a, **k)
            stats[name] += time.perf_counter() - t
            counts[name] += 1
            if name == "decode":
                temps[out[2]] += 1
                stats["decode@T>0" if out[2] > 0 else "decode@T=0"] += 0  # placeholder so keys exist
            return out

        return wrapper

    orig_gen = WhisperModel.generate_with_fallback

    def gen(self, encoder_output, prompt, tokenizer, options):  # type: ignore[no-untyped-def]
        # time the first (T=0) try separately from the fallbacks
        t = time.perf_counter()
        one = dataclasses.replace(options, temperatures=options.temperatures[:1])
        res = orig_gen(self, encoder_output, prompt, tokenizer, one)
        first = time.perf_counter() - t
        stats["decode_first"] += first
        counts["decode_first"] += 1
        needs = (res[3] > (options.compression_ratio_threshold or 1e9)) or (
            options.log_prob_threshold is not None
            and res[1] < options.log_prob_threshold
            and not (res[0].no_speech_prob > (options.no_speech_threshold or 1e9))
        )
        if needs and len(options.temperatures) > 1:
            t = time.perf_counter()
            res = orig_gen(self, encoder_output, prompt, tokenizer, options)  # re-runs T=0 (beam) then fallbacks
            stats["decode_fallback"] += time.perf_counter() - t
            counts["decode_fallback"] += 1
        temps[res[2]] += 1
        stats["tokens"] += len(res[0].sequences_ids[0])
        return res

    WhisperModel.encode = timed("encode", WhisperModel.encode)  # type: ignore[method-assign]
    WhisperModel.generate_with_fallback = gen  # type: ignore[method-assign]
    WhisperModel.add_word_timestamps = timed("align", WhisperModel.add_word_timestamps)  # type: ignore[method-assign]

    from qa_pipeline.asr.engine import WindowedWhisperEngine

    fills: list[float] = []
    orig_run = WindowedWhisperEngine.transcribe

    def plan_spy(self, audio, timeline):  # type: ignore[no-untyped-def]
        for w in orig_plan(self, audio, timeline):
            fills.append(w.duration)
            yield w

    orig_plan = WindowedWhisperEngine.plan
    WindowedWhisperEngine.plan = plan_spy  # type: ignore[method-assign]
    del orig_run

    asr = AsrOptions(
        beam_size=args.beam,
        word_timestamps=not args.no_words,
        chunking=args.chunking,
        cpu_threads=args.threads,
        batch_windows=args.batch_windows,
    )
    options = PipelineOptions(asr=asr)
    files = sorted(p for p in SAMPLES.glob("*.flac") if ".mono." not in p.name)
    if not args.all:
        files = [p for p in files if p.name.split("_")[0] in args.calls]
    t0 = time.perf_counter()
    load_engine(asr)
    load_s = time.perf_counter() - t0
    score_call(files[0], metadata_from_name(files[0], None), options)  # warm-up (Silero, jieba…)
    stats.clear(), counts.clear(), temps.clear(), fills.clear()
    wall = audio = speech = 0.0
    stage: dict[str, float] = defaultdict(float)
    for f in files:
        t = time.perf_counter()
        r = score_call(f, metadata_from_name(f, None), options)
        wall += time.perf_counter() - t
        audio += r.audio.duration_s
        for k, v in r.timings.items():
            stage[k] += v
    speech = sum(fills)
    asr_s = stage["asr"]
    rep = {
        "calls": len(files),
        "audio_s": round(audio, 1),
        "wall_s": round(wall, 2),
        "x_rt": round(audio / wall, 2),
        "model_load_s": round(load_s, 2),
        "stages_s": {k: round(v, 2) for k, v in stage.items()},
        "windows": len(fills),
        "window_speech_s": round(speech, 1),
        "mean_window_fill": round(speech / len(fills) / 30.0, 3) if fills else 0,
        "encode_calls": counts["encode"],
        "encode_s": round(stats["encode"], 2),
        "decode_first_s": round(stats["decode_first"], 2),
        "decode_calls": counts["decode_first"],
        "fallback_calls": counts["decode_fallback"],
        "fallback_s": round(stats["decode_fallback"], 2),
        "align_s": round(stats["align"], 2),
        "tokens": int(stats["tokens"]),
        "final_temperatures": {str(k): v for k, v in sorted(temps.items())},
        "load_avg": os.getloadavg(),
        "asr_other_s": round(
            asr_s - stats["encode"] - stats["decode_first"] - stats["decode_fallback"] - stats["align"], 2
        ),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    print(json.dumps(rep, ensure_ascii=False))


if __name__ == "__main__":
    main()
