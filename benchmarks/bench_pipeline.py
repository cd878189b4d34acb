"""Speed, memory and accuracy of the whole pipeline vs a naive baseline, in one run.

    python benchmarks/bench_pipeline.py [--calls 01 04 06 12] [--all]

pipeline: decode → Silero VAD → faster-whisper base int8 (speech segments only, beam 5) → checks → score →
          JSON write; models and dictionaries loaded once (one untimed warm-up call), as in a batch.
baseline: openai-whisper with the same weights on the mono mixdown of the whole call, no VAD, beam 5.

Each side runs in its own subprocess so that peak memory (ru_maxrss) is its own. Reports the real-time factor
(audio s per wall s), the ratio pipeline/baseline, the share of wall time outside ASR, peak RSS and the
character error rate of both against the samples' truth. Writes benchmarks/out/pipeline.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data_samples"
OUT = REPO / "benchmarks" / "out"
DEFAULT_CALLS = ["01", "04", "06", "12"]


def _calls(prefixes: list[str] | None) -> list[Path]:
    files = sorted(p for p in SAMPLES.glob("*.flac") if ".mono." not in p.name)
    return files if not prefixes else [p for p in files if p.name.split("_")[0] in prefixes]


def _truth_text(audio: Path) -> str:
    truth = json.loads(audio.with_name(audio.name.replace(".flac", ".truth.json")).read_text(encoding="utf-8"))
    return "".join(t["text"] for t in sorted(truth["turns"], key=lambda t: t["start"]))


def run_pipeline(calls: list[Path]) -> dict:
    from qa_pipeline.asr import load_engine
    from qa_pipeline.atomic import write_json_atomic
    from qa_pipeline.manifest import metadata_from_name
    from qa_pipeline.pipeline import PipelineOptions, score_call

    options = PipelineOptions()
    t0 = time.perf_counter()
    load_engine(options.asr)
    # one untimed call loads the rest once per process (Silero, jieba, pypinyin, scipy), as in a batch
    score_call(calls[0], metadata_from_name(calls[0], None), options)
    load_s = time.perf_counter() - t0
    rows, tmp = [], Path(tempfile.mkdtemp())
    for path in calls:
        t = time.perf_counter()
        result = score_call(path, metadata_from_name(path, None), options)
        write_json_atomic(tmp / f"{result.call_id}.json", result.to_json())
        wall = time.perf_counter() - t
        assert result.status == "ok", result.error
        text = "".join(u.text for u in sorted(result.transcript.utterances, key=lambda u: u.start))
        rows.append(
            {
                "call": path.stem,
                "audio_s": result.audio.duration_s,
                "wall_s": wall,
                "asr_s": result.timings["asr"],
                "text": text,
                "stages": {k: round(v, 3) for k, v in result.timings.items()},
            }
        )
    return {"model_load_s": load_s, "rows": rows, "peak_rss_mb": _rss_mb()}


def run_baseline(calls: list[Path]) -> dict:
    import numpy as np
    import soundfile as sf
    import soxr
    import whisper

    from qa_pipeline.asr import models, to_simplified

    t0 = time.perf_counter()
    model = whisper.load_model(str(models.convert("base")), device="cpu")
    load_s = time.perf_counter() - t0
    rows = []
    for path in calls:
        t = time.perf_counter()
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        mono = soxr.resample(x.mean(axis=1), sr, 16000).astype(np.float32)
        out = model.transcribe(mono, language="zh", beam_size=5, best_of=5, fp16=False)
        wall = time.perf_counter() - t
        rows.append(
            {
                "call": path.stem,
                "audio_s": len(x) / sr,
                "wall_s": wall,
                "asr_s": wall,
                "text": to_simplified(out["text"]),
            }
        )
    return {"model_load_s": load_s, "rows": rows, "peak_rss_mb": _rss_mb()}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cer(ref: str, hyp: str) -> float:
    from qa_pipeline.evaluate import character_error_rate

    return character_error_rate(ref, hyp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", nargs="*", default=DEFAULT_CALLS, help="sample number prefixes")
    ap.add_argument("--all", action="store_true", help="every sample call")
    ap.add_argument("--side", choices=["pipeline", "baseline"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    calls = _calls(None if args.all else args.calls)
    if args.side:
        data = run_pipeline(calls) if args.side == "pipeline" else run_baseline(calls)
        print(json.dumps(data, ensure_ascii=False))
        return

    sides = {}
    for side in ("pipeline", "baseline"):
        cmd = [sys.executable, __file__, "--side", side, "--calls", *[c.name.split("_")[0] for c in calls]]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        sides[side] = json.loads(proc.stdout.strip().splitlines()[-1])

    report = {"calls": [c.stem for c in calls]}
    for side, data in sides.items():
        audio = sum(r["audio_s"] for r in data["rows"])
        wall = sum(r["wall_s"] for r in data["rows"])
        asr = sum(r["asr_s"] for r in data["rows"])
        cers = [_cer(_truth_text(SAMPLES / f"{r['call']}.flac"), r["text"]) for r in data["rows"]]
        report[side] = {
            "audio_s": round(audio, 1),
            "wall_s": round(wall, 2),
            "x_realtime": round(audio / wall, 2),
            "non_asr_share": round((wall - asr) / wall, 4),
            "cer_mean": round(sum(cers) / len(cers), 4),
            "peak_rss_mb": round(data["peak_rss_mb"]),
            "model_load_s": round(data["model_load_s"], 2),
            "per_call": [
                {
                    "call": r["call"],
                    "x_realtime": round(r["audio_s"] / r["wall_s"], 2),
                    "cer": round(c, 4),
                    "stages": r.get("stages"),
                }
                for r, c in zip(data["rows"], cers)
            ],
        }
    report["speedup_vs_baseline"] = round(report["baseline"]["wall_s"] / report["pipeline"]["wall_s"], 2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pipeline.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    p, b = report["pipeline"], report["baseline"]
    md = [
        "| | pipeline (VAD + faster-whisper int8, speech only) | baseline (openai-whisper, mono mixdown, no VAD) |",
        "|---|---|---|",
        f"| audio | {p['audio_s']} s | {b['audio_s']} s |",
        f"| wall | {p['wall_s']} s | {b['wall_s']} s |",
        f"| × real time | {p['x_realtime']} | {b['x_realtime']} |",
        f"| CER (mean over calls) | {p['cer_mean']} | {b['cer_mean']} |",
        f"| share of wall time outside ASR | {p['non_asr_share']:.1%} | – |",
        f"| peak RSS | {p['peak_rss_mb']} MB | {b['peak_rss_mb']} MB |",
        f"| **speed-up vs baseline** | **{report['speedup_vs_baseline']}×** | |",
    ]
    (OUT / "pipeline.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
