"""Speed, memory and accuracy of the whole pipeline — today's default, the new default and a naive baseline —
on the same calls in one run.

    python benchmarks/bench_pipeline.py [--calls 01 04 06 12] [--all] [--repeat 1] [--sides old,new,baseline]

old:      the previous default: one worker × 2 CPU threads, windows decoded one at a time
          (decode → Silero VAD → faster-whisper base int8, beam 5, speech windows only → checks → score → JSON).
new:      the new default: layout from asr/layout.py (one worker, a thread per core) and batched windows.
old+batch / old+layout / new+beam3 / new+tails / new+win8 … (with --sides): levers one at a time or together
          (see side_options).
baseline: openai-whisper with the same weights on the mono mixdown of the whole call, no VAD, beam 5.

Each side runs in its own subprocess, start-up included (model load, worker spawn), as a batch run would;
sides alternate order between repeats and the median wall time is reported. Reported per side: real-time factor
(audio s / wall s), CPU seconds per audio second (less sensitive to other load on a shared machine), CER against
the samples' truth, mean check F1 and call-level status accuracy (`callqa eval`'s figures), judgements that differ
from `old`, peak RSS per worker, share of time outside ASR, and the load average. Writes
benchmarks/out/pipeline.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()  # before the package's imports: their cost is reported as start-up (imports_s)
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLES = REPO / "data_samples"
OUT = REPO / "benchmarks" / "out"
DEFAULT_CALLS = ["01", "04", "06", "12"]
SIDES = ("old", "new", "baseline")


def _calls(prefixes: list[str] | None) -> list[Path]:
    files = sorted(p for p in SAMPLES.glob("*.flac") if ".mono." not in p.name)
    return files if not prefixes else [p for p in files if p.name.split("_")[0] in prefixes]


def _usage() -> dict[str, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "self_rss_mb": me.ru_maxrss / 1024,
        "child_rss_mb": kids.ru_maxrss / 1024,  # the largest worker
    }


def side_options(side: str) -> tuple[Any, int]:
    """(PipelineOptions, workers) of a pipeline side: "old" or "new", then "+"-separated levers, one at a time
    or together: batch (old + batched windows), layout (one single-threaded worker per core), beamN (beam
    size N), tails (chunking "packed-tails"), winN (N windows per batch)."""
    from dataclasses import replace

    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.asr.layout import worker_layout
    from qa_pipeline.pipeline import PipelineOptions

    base, *levers = side.split("+")
    if base == "old":
        asr, jobs = AsrOptions(cpu_threads=2, batch_windows=1), 1
    elif base == "new":
        jobs, threads = worker_layout()
        asr = AsrOptions(cpu_threads=threads)
    else:
        raise SystemExit(f"unknown side {side!r}")
    for lever in levers:
        if lever == "batch":
            asr = replace(asr, batch_windows=0)
        elif lever == "layout":
            asr, jobs = replace(asr, cpu_threads=1), os.cpu_count() or 1
        else:
            asr = asr_lever(asr, lever, side)
    return PipelineOptions(asr=asr), jobs


def asr_lever(asr: Any, lever: str, where: str) -> Any:
    """`asr` (AsrOptions) with one transcription lever applied: beamN (beam size N), tails (chunking
    "packed-tails"), winN (N windows per batch), packedS (windows packed to S seconds). Shared with
    bench_asr_levers.py, so both benchmarks read a lever the same way."""
    from dataclasses import replace

    if lever.startswith("beam"):
        return replace(asr, beam_size=int(lever[4:]))
    if lever == "tails":
        return replace(asr, chunking="packed-tails")
    if lever.startswith("win"):
        return replace(asr, batch_windows=int(lever[3:]))
    if lever.startswith("packed"):
        return replace(asr, max_window_s=float(lever[6:]))
    raise SystemExit(f"unknown lever {lever!r} in {where!r}")


def run_pipeline(side: str, calls: list[Path], out: Path) -> dict[str, Any]:
    from qa_pipeline.batch import run_batch
    from qa_pipeline.evaluate import sample_jobs

    options, workers = side_options(side)
    wanted = {p.resolve() for p in calls}
    jobs = [j for j in sample_jobs(SAMPLES) if j.path.resolve() in wanted]
    imports_s = time.perf_counter() - T_START
    imports_cpu = _usage()["cpu_s"]
    t0, u0 = time.perf_counter(), _usage()
    summary = run_batch(jobs, out, options, workers=workers, resume=False)
    wall = time.perf_counter() - t0
    for child in multiprocessing.active_children():  # the pool exits without waiting: reap its workers so
        child.join()  # that their CPU time and peak RSS show in RUSAGE_CHILDREN
    u1 = _usage()
    assert summary.failed == 0, f"{summary.failed} calls failed"
    # one call (or one worker) runs in this process; else the largest worker
    rss = max(u1["child_rss_mb"], u1["self_rss_mb"]) if workers > 1 else u1["self_rss_mb"]
    return {
        "wall_s": wall,
        "cpu_s": u1["cpu_s"] - u0["cpu_s"],
        "imports_s": round(imports_s, 2),
        "imports_cpu_s": round(imports_cpu, 2),
        "peak_rss_mb": rss,
        "workers": workers,
        "threads": options.asr.cpu_threads,
        "batch_windows": options.asr.batch_windows or "auto (4)",
    }


def run_baseline(calls: list[Path], out: Path) -> dict[str, Any]:
    import numpy as np
    import soundfile as sf
    import soxr
    import torch
    import whisper

    from qa_pipeline.asr import models, to_simplified

    torch.set_num_threads(os.cpu_count() or 2)
    t0, u0 = time.perf_counter(), _usage()
    model = whisper.load_model(str(models.convert("base")), device="cpu")
    for path in calls:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        mono = soxr.resample(x.mean(axis=1), sr, 16000).astype(np.float32)
        res = model.transcribe(mono, language="zh", beam_size=5, best_of=5, fp16=False)
        (out / f"{path.stem}.txt").write_text(to_simplified(res["text"]), encoding="utf-8")
    u1 = _usage()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": u1["cpu_s"] - u0["cpu_s"], "peak_rss_mb": u1["self_rss_mb"]}


def _truth_text(call: str) -> str:
    truth = json.loads((SAMPLES / f"{call}.truth.json").read_text(encoding="utf-8"))
    return "".join(t["text"] for t in sorted(truth["turns"], key=lambda t: t["start"]))


def _statuses(out: Path) -> dict[tuple[str, str], str]:
    from qa_pipeline.evaluate import predicted_status

    st: dict[tuple[str, str], str] = {}
    for f in sorted((out / "calls").glob("*.json")):
        r = json.loads(f.read_text(encoding="utf-8"))
        by: dict[str, list[dict[str, Any]]] = {}
        for c in r["checks"]:
            by.setdefault(c["check"], []).append(c)
        st.update({(r["call_id"], k): predicted_status(v) for k, v in by.items()})
    return st


def pipeline_quality(out: Path) -> dict[str, Any]:
    from qa_pipeline.evaluate import evaluate

    rep = evaluate(out, SAMPLES)
    f1s = [f for f in (rep.f1(c) for c in {**rep.check_status, **rep.occurrences}) if f is not None]
    stages: dict[str, float] = {}
    audio = 0.0
    for f in sorted((out / "calls").glob("*.json")):
        r = json.loads(f.read_text(encoding="utf-8"))
        audio += r["audio"]["duration_s"]
        for k, v in (r.get("timings") or {}).items():
            stages[k] = stages.get(k, 0.0) + v
    # start-up (loading the model inside the first call) is reported as wall time, not as a stage share
    startup = stages.pop("model_load", 0.0)
    staged = sum(stages.values())
    return {
        "model_load_s": round(startup, 2),
        "audio_s": audio,
        "cer": rep.cer["all"],
        "check_f1_mean": statistics.fmean(f1s) if f1s else None,
        "status_accuracy": rep.status_accuracy,
        "non_asr_share": (staged - stages.get("asr", 0.0)) / staged if staged else None,
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
    }


def baseline_quality(out: Path, calls: list[Path]) -> dict[str, Any]:
    import soundfile as sf

    from qa_pipeline.evaluate import cer

    errs = tot = 0
    for p in calls:
        e, n = cer(_truth_text(p.stem), (out / f"{p.stem}.txt").read_text(encoding="utf-8"))
        errs, tot = errs + e, tot + n
    return {"audio_s": sum(sf.info(str(p)).duration for p in calls), "cer": errs / tot if tot else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", nargs="*", default=DEFAULT_CALLS, help="sample number prefixes")
    ap.add_argument("--all", action="store_true", help="every sample call")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side (order alternates; medians reported)")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    calls = _calls(None if args.all else args.calls)
    if args.side:
        args.out.mkdir(parents=True, exist_ok=True)
        data = run_baseline(calls, args.out) if args.side == "baseline" else run_pipeline(args.side, calls, args.out)
        print(json.dumps(data))
        return

    sides = [s for s in args.sides.split(",") if s]
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline."))
    for rep in range(args.repeat):
        for side in sides if rep % 2 == 0 else sides[::-1]:
            out = tmp / f"{side}.{rep}"
            cmd = [sys.executable, __file__, "--side", side, "--out", str(out), "--calls"]
            cmd += [c.name.split("_")[0] for c in calls]
            load0 = os.getloadavg()[0]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode:
                sys.exit(f"{side} failed:\n{proc.stderr[-3000:]}")
            data = json.loads(proc.stdout.strip().splitlines()[-1])
            data["load_avg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            data.update(baseline_quality(out, calls) if side == "baseline" else pipeline_quality(out))
            runs[side].append(data)
            xrt = data["audio_s"] / data["wall_s"]
            # the whole record, so that an interrupted run still leaves every finished side's figures
            print(f"{side} run {rep + 1}: {xrt:.2f}× real time, load {data['load_avg']}:", json.dumps(data), flush=True)

    flips: dict[str, list[str]] = {}
    ref = "old" if "old" in runs else next((s for s in sides if s != "baseline"), None)
    if ref is not None:
        old = _statuses(tmp / f"{ref}.0")
        for side in (s for s in sides if s not in (ref, "baseline")):
            for rep in range(args.repeat):
                new = _statuses(tmp / f"{side}.{rep}")
                changed = [f"{c}/{k}: {old.get((c, k))}→{v}" for (c, k), v in new.items() if old.get((c, k)) != v]
                flips[f"{side}.{rep}"] = sorted(changed)

    report: dict[str, Any] = {"calls": [c.stem for c in calls], "repeat": args.repeat, "cpus": os.cpu_count()}
    for side, rs in runs.items():
        med = sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2]
        audio = med["audio_s"]
        report[side] = {
            **{k: v for k, v in med.items() if k not in ("wall_s",)},
            "wall_s": round(med["wall_s"], 2),
            "walls_s": [round(r["wall_s"], 2) for r in rs],
            "x_realtime": round(audio / med["wall_s"], 2),
            "cpu_s_per_audio_s": round(statistics.median(r["cpu_s"] for r in rs) / audio, 4),
            "load_avgs": [r["load_avg"] for r in rs],
        }
    if ref is not None:
        report["reference"] = ref
        report["vs_reference"] = {
            side: {
                "wall": round(report[ref]["wall_s"] / report[side]["wall_s"], 2),
                "cpu": round(report[ref]["cpu_s_per_audio_s"] / report[side]["cpu_s_per_audio_s"], 2),
                "judgements_changed": {k: v for k, v in flips.items() if k.rsplit(".", 1)[0] == side},
            }
            for side in sides
            if side not in (ref, "baseline")
        }
    if "baseline" in report:
        for side in ("old", "new"):
            if side in report:
                report[f"{side}_vs_baseline"] = {
                    "wall": round(report["baseline"]["wall_s"] / report[side]["wall_s"], 2),
                    "cpu": round(report["baseline"]["cpu_s_per_audio_s"] / report[side]["cpu_s_per_audio_s"], 2),
                }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pipeline.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    md = _markdown(report, sides)
    (OUT / "pipeline.md").write_text(md, encoding="utf-8")
    print(md)


def _fmt(x: Any, spec: str = "") -> str:
    return "–" if x is None else format(x, spec)


def _imports(d: dict[str, Any]) -> str:
    return "–" if "imports_s" not in d else f"{d['imports_s']} / {d['imports_cpu_s']}"


def _markdown(r: dict[str, Any], sides: list[str]) -> str:
    names = {
        "old": "old default (1 worker × 2 threads, one window at a time)",
        "new": "new default ({workers} worker × {threads} threads, {batch_windows} windows per batch)",
        "baseline": "naive baseline (openai-whisper, mono mixdown, no VAD, beam 5)",
        "old+batch": "old + batched windows",
        "old+layout": "old, one 1-thread worker per core",
        "new+layout": "new, one 1-thread worker per core",
        "new+tails": "new, the parties' last windows shared",
    }
    head = [names[s].format(**r[s]) if s == "new" else names.get(s, s) for s in sides]
    rows = [
        ("audio", lambda d: f"{d['audio_s']:.1f} s"),
        ("wall (median, start-up included)", lambda d: f"{d['wall_s']} s"),
        ("**× real time**", lambda d: f"**{d['x_realtime']}**"),
        ("CPU s per audio s", lambda d: f"{d['cpu_s_per_audio_s']}"),
        ("CER (all characters)", lambda d: _fmt(d.get("cer"), ".4f")),
        ("check F1 (mean over checks)", lambda d: _fmt(d.get("check_f1_mean"), ".3f")),
        ("call-level status accuracy", lambda d: _fmt(d.get("status_accuracy"), ".3f")),
        ("peak RSS per worker", lambda d: f"{d['peak_rss_mb']:.0f} MB"),
        ("share of time outside ASR", lambda d: _fmt(d.get("non_asr_share"), ".1%")),
        ("start-up: package imports, not in the wall (wall s / CPU s)", lambda d: _imports(d)),
        ("load average (before, after)", lambda d: "; ".join(f"{a}, {b}" for a, b in d["load_avgs"])),
    ]
    lines = ["| | " + " | ".join(head) + " |", "|---" * (len(sides) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f(r[s]) for s in sides) + " |" for name, f in rows]
    lines.append("")
    ref = r.get("reference")
    for side, n in (r.get("vs_reference") or {}).items():
        lines.append(f"- {side} vs {ref}: {n['wall']}× wall, {n['cpu']}× CPU")
        lines.append(f"- judgements that differ from {ref} (call/check: {ref}→{side}): {n['judgements_changed']}")
    for side in ("old", "new"):
        if f"{side}_vs_baseline" in r:
            b = r[f"{side}_vs_baseline"]
            lines.append(f"- {side} vs baseline: {b['wall']}× wall, {b['cpu']}× CPU")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
