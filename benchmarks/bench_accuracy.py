"""Full-ASR accuracy benchmark: score every labelled sample with the default engine (faster-whisper base
int8, CPU) and evaluate it against the truth — the same report as `callqa eval`.

    python benchmarks/bench_accuracy.py [--out benchmarks/out/accuracy] [--model base] [--engine faster-whisper]
        [--chunking packed|dialogue|turn|segment]

Transfer moments come from the truth as CTI metadata (`transferred_at`, as a manifest would give them);
the moment itself is not audible. Results are re-used when up to date (delete --out to re-run the ASR).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qa_pipeline.asr import AsrOptions
from qa_pipeline.batch import run_batch
from qa_pipeline.evaluate import evaluate, sample_jobs, to_markdown, write_report
from qa_pipeline.pipeline import PipelineOptions

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=Path, default=ROOT / "data_samples")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "accuracy")
    ap.add_argument("--engine", default="faster-whisper")
    ap.add_argument("--model", default="base")
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument(
        "--chunking",
        choices=["packed", "dialogue", "turn", "segment"],
        default=None,
        help="ASR windowing (default: AsrOptions' default); results are not re-used across modes, "
        "so give each mode its own --out",
    )
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-transfer-metadata", action="store_true")
    a = ap.parse_args()
    extra = {"chunking": a.chunking} if a.chunking else {}
    opts = PipelineOptions(asr=AsrOptions(engine=a.engine, model=a.model, compute_type=a.compute_type, **extra))
    t0 = time.perf_counter()
    s = run_batch(sample_jobs(a.samples, transfer_metadata=not a.no_transfer_metadata), a.out, opts, workers=a.jobs)
    print(
        f"scored {s.ok} ok, {s.failed} failed, {s.skipped} up to date in {time.perf_counter() - t0:.0f} s "
        f"({a.engine} {a.model} {a.compute_type} {opts.asr.chunking})"
    )
    rep = evaluate(a.out, a.samples)
    write_report(rep, a.out / "eval")
    print(to_markdown(rep))


if __name__ == "__main__":
    main()
