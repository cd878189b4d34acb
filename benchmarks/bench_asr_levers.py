"""ASR levers screened in one process: transcription only (VAD once per call, the model loaded once per
setting), CER and CPU seconds per setting on the same calls, settings interleaved call by call so that other
load on a shared machine falls on all of them alike.

    python benchmarks/bench_asr_levers.py [--calls 01 06 …] [--all] [--settings new,beam3,beam4,tails]

Settings are AsrOptions levers on top of the default, "+"-joined: beamN (beam size N), tails (chunking
"packed-tails": the parties' last windows shared), winN (windows per batch), packedS (S-second windows).
Per setting: encoder windows, CPU s per audio s, CER against the
samples' truth (per party, concatenated in time order: the project's CER), the ratio to the first setting.
Only a screen: what holds here is confirmed end to end (check F1, status accuracy, judgements) with
bench_pipeline.py --sides new,new+LEVER. Writes benchmarks/out/asr_levers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench_pipeline import asr_lever  # the same lever syntax as the pipeline benchmark (this folder is on sys.path)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLES = REPO / "data_samples"
OUT = REPO / "benchmarks" / "out"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def options_of(setting: str) -> Any:
    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.asr.layout import worker_layout

    asr = AsrOptions(cpu_threads=worker_layout()[1])
    for lever in (x for x in setting.split("+") if x != "new"):
        asr = asr_lever(asr, lever, setting)
    return asr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", nargs="*", default=["01", "04", "06", "12"])
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--settings", default="new,beam3,beam4,tails")
    args = ap.parse_args()

    from qa_pipeline.asr import load_engine
    from qa_pipeline.audio import load_call
    from qa_pipeline.evaluate import cer
    from qa_pipeline.manifest import metadata_from_name
    from qa_pipeline.timeline import build_timeline

    files = sorted(p for p in SAMPLES.glob("*.flac") if ".mono." not in p.name)
    if not args.all:
        files = [p for p in files if p.name.split("_")[0] in args.calls]
    settings = [s for s in args.settings.split(",") if s]
    engines = {s: load_engine(options_of(s)) for s in settings}
    stats: dict[str, dict[str, Any]] = {
        s: {"cpu_s": 0.0, "wall_s": 0.0, "errs": 0, "n": 0, "windows": 0} for s in settings
    }
    per_call: dict[str, dict[str, float]] = {}
    audio_s = 0.0
    load0 = os.getloadavg()[0]
    for i, path in enumerate(files):
        audio = load_call(path, metadata_from_name(path, None))
        timeline = build_timeline(audio)
        audio_s += audio.duration
        truth = json.loads(path.with_name(f"{path.stem}.truth.json").read_text(encoding="utf-8"))["turns"]
        order = settings if i % 2 == 0 else settings[::-1]
        for s in order:
            c0, t0 = _cpu(), time.perf_counter()
            tr = engines[s].transcribe(audio, timeline)
            st = stats[s]
            st["cpu_s"] += _cpu() - c0
            st["wall_s"] += time.perf_counter() - t0
            st["windows"] += int(tr.options.get("windows", 0))
            call_e = call_n = 0
            for spk in ("agent", "customer"):
                ref = "".join(t["text"] for t in sorted(truth, key=lambda t: t["start"]) if t["speaker"] == spk)
                hyp = "".join(u.text for u in tr.utterances if u.speaker == spk)
                e, n = cer(ref, hyp)
                call_e, call_n = call_e + e, call_n + n
            st["errs"] += call_e
            st["n"] += call_n
            per_call.setdefault(path.stem[:2], {})[s] = round(call_e / max(1, call_n), 4)
        print(path.stem[:2], per_call[path.stem[:2]], flush=True)
    ref = settings[0]
    report: dict[str, Any] = {"calls": [p.stem for p in files], "audio_s": round(audio_s, 1), "per_call_cer": per_call}
    report["load_avg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    for s in settings:
        st = stats[s]
        report[s] = {
            "windows": st["windows"],
            "cpu_s": round(st["cpu_s"], 1),
            "wall_s": round(st["wall_s"], 1),
            "cpu_s_per_audio_s": round(st["cpu_s"] / audio_s, 4),
            "cer": round(st["errs"] / max(1, st["n"]), 4),
            "cpu_vs_first": round(stats[ref]["cpu_s"] / st["cpu_s"], 3),
        }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "asr_levers.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"| setting | windows | CPU s | CPU s per audio s | × less CPU than {ref} | CER |")
    print("|---|---|---|---|---|---|")
    for s in settings:
        r = report[s]
        print(f"| {s} | {r['windows']} | {r['cpu_s']} | {r['cpu_s_per_audio_s']} | {r['cpu_vs_first']} | {r['cer']} |")
    print(f"audio {audio_s:.1f} s, load average {report['load_avg']}")


if __name__ == "__main__":
    main()
