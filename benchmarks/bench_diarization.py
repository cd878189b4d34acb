"""Mono diarization on mono mixdowns of the labelled samples (issue #5): DER, role accuracy, check F1 drop, overhead.

For every `data_samples/<stem>.flac` (stereo, agent on channel 0) the two channels are averaged into a
mono FLAC at benchmark time (written to a temp dir, never committed), then:

* DER (collar 0.25 s, overlap scored, `qa_pipeline.evaluate.metrics.diarization_error_rate`) of `diarize` on the VAD
  timeline, against the truth turns, two ways: per *voice* (the transferred-to expert is a speaker of its
  own) and per *role* (expert = agent, what the checks need);
* role accuracy: the call's roles were assigned with confidence AND the label called "agent" is the one
  that covers most of the truth agent speech; "unknown" (needs_review) is counted separately, never right;
* check F1: `score_call` on the stereo original vs. on the mono mixdown, both scored by
  `qa_pipeline.evaluate`. Text source (`--asr`):
    - `text` (default, fast): stereo uses the transcript engine (text + speaker from the file); mono uses the
      same TEXT with the speaker label thrown away and re-attributed by time to the diarized speakers, so the
      F1 drop isolates diarization + role errors from ASR errors;
    - `whisper`: faster-whisper base (the default engine) on both, real end-to-end;
* wall-time overhead (`--overhead N`): `score_call` on N mono mixdowns with faster-whisper, with and
  without diarization (`PipelineOptions(diarize=None)`), overhead = extra wall time / time without;
* similar voices (`--similar DIR ...`, issue 9): folders rendered by `synth` with `similar=True` (or another
  customer shift, `synth.render.similar_voices`), each holding `<stem>.flac` (stereo), `<stem>.mono.flac`,
  transcript and truth: per call speakers, roles, DER of the role-labelled speech (collar 0.25 s), agent
  found (agent-labelled speech overlaps the true agent ≥ 2× the true customer), wrong agent, diarization
  share of the wall time; per folder the check F1 of the stereo original (true labels) vs. the mono
  mixdown (text re-attributed by time), both with the transcript text, so no ASR error is in it.

Every run prints wall and process CPU time and the load average (the machine is shared).

Run:  python benchmarks/bench_diarization.py [--asr text|whisper] [--limit N] [--overhead 3] [--out benchmarks/out]
      python benchmarks/bench_diarization.py --similar /tmp/sim/p6 /tmp/sim/p4   (only the similar-voice part)
      python benchmarks/bench_diarization.py --real-text [FILE]   (only the decoder on real 10086 text dialogues)
      python benchmarks/bench_diarization.py --dialogues [FILE]   (the same on the hand-written tuning dialogues)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import qa_pipeline.pipeline as pipeline
from qa_pipeline.asr import AsrOptions
from qa_pipeline.asr.transcript import find_transcript, read_transcript
from qa_pipeline.atomic import write_json_atomic
from qa_pipeline.audio import load_call
from qa_pipeline.diarize import ONE_CLUSTER_METHOD, Diarization, DiarizeOptions, diarize
from qa_pipeline.evaluate import PHRASE_CHECKS, diarization_error_rate, evaluate, sample_jobs
from qa_pipeline.pipeline import PipelineOptions, score_call
from qa_pipeline.timeline import build_timeline
from qa_pipeline.turntaking import decode_turns
from qa_pipeline.types import SpeechSegment, Timeline, Transcript, Utterance

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"


def mono_mixdown(stereo: Path, out: Path) -> Path:
    """Average the two channels (what a mono archive of the call would hold)."""
    data, rate = sf.read(str(stereo), dtype="float32", always_2d=True)
    sf.write(str(out), data.mean(axis=1), rate, subtype="PCM_16")
    return out


class ReattributedTextEngine:
    """The sample's transcript TEXT, each utterance given to the diarized speaker it overlaps most in time
    (the file's speaker labels are ignored: using them on mono would be cheating)."""

    name = "transcript-reattributed"
    model = ""
    compute_type = ""

    def __init__(self, samples_dir: Path = SAMPLES) -> None:
        self.samples_dir = samples_dir

    def transcribe(self, audio: Any, timeline: Timeline) -> Transcript:
        utts = read_transcript(find_transcript(audio.source.path, self.samples_dir))
        out = []
        for u in utts:
            best, best_ov = "unknown", 0.0
            for s in timeline.speech:
                ov = min(u.end, s.end) - max(u.start, s.start)
                if ov > best_ov:
                    best, best_ov = s.speaker, ov
            if best_ov <= 0 and timeline.speech:
                best = min(timeline.speech, key=lambda s: abs((s.start + s.end) / 2 - (u.start + u.end) / 2)).speaker
            out.append(replace(u, speaker=best))
        return Transcript(tuple(out), engine=self.name)


def der_rows(mono_paths: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    for stem, path in mono_paths.items():
        truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
        audio = load_call(path, pipeline.CallMetadata(stem))
        tl = build_timeline(audio)
        t0 = time.perf_counter()
        d = diarize(audio.parties["unknown"], tl)
        dt = time.perf_counter() - t0
        hyp = [(s.speaker, s.start, s.end) for s in d.segments]
        voice = diarization_error_rate([(t["source"], t["start"], t["end"]) for t in truth["turns"]], hyp)
        role = diarization_error_rate([(t["speaker"], t["start"], t["end"]) for t in truth["turns"]], hyp)
        rows.append(
            {
                "call": stem,
                "n_ref_voices": len({t["source"] for t in truth["turns"]}),
                "n_speakers": d.n_speakers,
                "der_voice": voice,
                "der_role": role,
                "overlap_suspects": len(d.overlap_suspects),
                "diarize_s": round(dt, 3),
                "audio_s": audio.duration,
            }
        )
    return rows


def pooled(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    tot = sum(r[key]["scored_s"] for r in rows)
    return {
        m: sum(r[key][m] * r[key]["scored_s"] for r in rows) / tot for m in ("der", "miss", "false_alarm", "confusion")
    }


def run_set(jobs: list[Any], options: PipelineOptions, out: Path, engine: Any = None) -> dict[str, Any]:
    (out / "calls").mkdir(parents=True, exist_ok=True)
    results = {}
    for job in jobs:
        r = score_call(job.path, job.metadata, options, engine=engine)
        write_json_atomic(out / "calls" / f"{job.metadata.call_id}.json", r.to_json())
        results[job.metadata.call_id] = r
    return results


def role_row(stem: str, result: Any) -> dict[str, Any]:
    truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
    info = result.diarization.to_json() if result.diarization else {}
    roles = info.get("roles", {})
    # which diarized speech (relabelled) overlaps truth agent speech most
    agent_ev = [e for e in result.events if e.type == "speech"]

    def overlap(spk: str, role: str) -> float:
        return sum(
            max(0.0, min(e.end, t["end"]) - max(e.start, t["start"]))
            for e in agent_ev
            if e.speaker == spk
            for t in truth["turns"]
            if t["speaker"] == role
        )

    confident = bool(roles) and all(r != "unknown" for r in roles.values())
    correct = confident and overlap("agent", "agent") > overlap("customer", "agent")
    return {
        "call": stem,
        "greeting_truth": truth["checks"]["greeting"]["status"],
        "confident": confident,
        "correct": correct,
        "role_confidence": info.get("role_confidence"),
        "n_speakers": info.get("n_speakers"),
    }


def similar_report(dirs: list[Path], tmp: Path) -> dict[str, Any]:
    """Similar-voice mono calls: DER, agent found, F1 stereo vs mono, per folder (see the module docstring)."""
    out: dict[str, Any] = {"folders": {}}
    tally: dict[str, dict[str, list[int]]] = {"stereo": {}, "mono": {}}  # check → [tp, fp, fn] over all folders
    for k, d in enumerate(dirs):
        jobs = [j for j in sample_jobs(d) if not j.path.name.endswith(".mono.flac")]
        mono_jobs = [replace(j, path=j.path.with_name(f"{j.metadata.call_id}.mono.flac")) for j in jobs]
        base = tmp / f"similar{k}"
        run_set(jobs, PipelineOptions(asr=AsrOptions(engine="transcript")), base / "stereo")
        mono = run_set(mono_jobs, PipelineOptions(), base / "mono", engine=ReattributedTextEngine(d))
        ev_s, ev_m = evaluate(base / "stereo", d), evaluate(base / "mono", d)
        rows = []
        for cid, r in mono.items():
            truth = json.loads((d / f"{cid}.truth.json").read_text(encoding="utf-8"))
            ref = [(t["speaker"], t["start"], t["end"]) for t in truth["turns"]]
            hyp = [(e.speaker, e.start, e.end) for e in r.events if e.type == "speech"]

            def on_truth(role: str, hyp: list[tuple[str, float, float]] = hyp, truth: dict = truth) -> float:
                return sum(
                    max(0.0, min(b, t["end"]) - max(a, t["start"]))
                    for s, a, b in hyp
                    if s == "agent"
                    for t in truth["turns"]
                    if t["speaker"] == role
                )

            has_agent = any(s == "agent" for s, _, _ in hyp)
            found = has_agent and on_truth("agent") > 2 * on_truth("customer")
            info = r.diarization
            rows.append(
                {
                    "call": cid,
                    "n_speakers": info.n_speakers if info else None,
                    "method": info.method if info else None,
                    "roles": sorted(info.roles.values()) if info else [],
                    "role_confidence": info.role_confidence if info else None,
                    "wrong_agent_risk": info.role_evidence.get("decoder", {}).get("wrong_agent_risk") if info else None,
                    "der_roles": round(diarization_error_rate(ref, hyp)["der"], 4),
                    "agent_found": found,
                    "wrong_agent": has_agent and not found,
                    "diarize_share": r.timings.get("diarize", 0.0) / max(1e-9, sum(r.timings.values())),
                }
            )
        f1 = {c: {"stereo": ev_s.f1(c), "mono": ev_m.f1(c)} for c in PHRASE_CHECKS}
        valid = [v for v in f1.values() if v["stereo"] is not None and v["mono"] is not None]
        for side, ev in (("stereo", ev_s), ("mono", ev_m)):
            for c in PHRASE_CHECKS:
                prf = ev.occurrences.get(c) or ev.check_status.get(c)
                if prf:
                    t = tally[side].setdefault(c, [0, 0, 0])
                    for j, key in enumerate(("tp", "fp", "fn")):
                        t[j] += int(prf[key])
        out["folders"][str(d)] = {
            "calls": rows,
            "agent_found": sum(r["agent_found"] for r in rows),
            "wrong_agent": sum(r["wrong_agent"] for r in rows),
            "n": len(rows),
            "mean_der_roles": statistics.mean(r["der_roles"] for r in rows) if rows else None,
            "phrase_f1": f1,
            "phrase_f1_macro": {
                "stereo": statistics.mean(v["stereo"] for v in valid) if valid else None,
                "mono": statistics.mean(v["mono"] for v in valid) if valid else None,
            },
            "status_accuracy": {"stereo": ev_s.status_accuracy, "mono": ev_m.status_accuracy},
        }
    # pooled over every folder: a folder of 6 calls has a check's only failing call in one call, so its
    # per-folder F1 is 0 or 1; the tallies added up give the F1 over all similar-voice calls
    pooled_f1: dict[str, dict[str, float]] = {}
    for side, per_check in tally.items():
        for c, (tp, fp, fn) in per_check.items():
            pooled_f1.setdefault(c, {})[side] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    both = [v for v in pooled_f1.values() if len(v) == 2]
    calls = [r for f in out["folders"].values() for r in f["calls"]]
    out["pooled"] = {
        "n": len(calls),
        "agent_found": sum(r["agent_found"] for r in calls),
        "wrong_agent": sum(r["wrong_agent"] for r in calls),
        "mean_der_roles": statistics.mean(r["der_roles"] for r in calls) if calls else None,
        "phrase_f1": pooled_f1,
        "phrase_f1_macro": {side: statistics.mean(v[side] for v in both) if both else None for side in tally},
    }
    return out


def dialogue_units(turns: list[tuple[str, str]]) -> tuple[list[SpeechSegment], list[Utterance], list[str]]:
    """A text dialogue ((role, text) turns) as the decoder sees a one-cluster call: each turn cut into
    breath-group units (≥ 8 characters, at punctuation), 0.35 s apart inside a turn and 0.7 s between turns,
    0.22 s per character. Returns (units, utterances, true role per unit)."""
    t, units, utts, truth = 0.5, [], [], []
    for role, raw in turns:
        text = raw.replace("_", "")
        if not text.strip():
            continue
        merged: list[str] = []
        cur = ""
        for piece in (p for p in re.split(r"(?<=[。？！?!，,])", text) if p.strip()):
            cur += piece
            if len(cur) >= 8:
                merged.append(cur)
                cur = ""
        if cur:
            if merged:
                merged[-1] += cur
            else:
                merged.append(cur)
        for k, piece in enumerate(merged):
            if units:
                t += 0.35 if k else 0.7
            end = round(t + 0.22 * len(piece), 2)
            units.append(SpeechSegment("spk0", round(t, 2), end))
            utts.append(Utterance("spk0", round(t, 2), end, piece))
            truth.append(role)
            t = end
    return units, utts, truth


def decode_dialogue(turns: list[tuple[str, str]], options: DiarizeOptions) -> dict[str, Any]:
    """Decode one text dialogue with NO voice evidence (one cluster, no embeddings) and score it: roles given,
    correct (the units labelled agent are truly agent ≥ 2× as often as customer), wrong, the share of units
    right when roles are given, and the decoded path's share of units right whatever the confidence (the
    path's agent = the state the decoder calls agent)."""
    units, utts, truth = dialogue_units(turns)
    diar = Diarization(tuple(units), 1, {"spk0": 1.0}, None, method=ONE_CLUSTER_METHOD, units=tuple(units))
    dec = decode_turns(diar, utts, options)
    lab = [dec.roles.roles.get(s.speaker, "unknown") for s in dec.diarization.segments]
    given = "agent" in lab
    on_agent = sum(1 for x, y in zip(lab, truth, strict=True) if x == "agent" and y == "agent")
    on_cust = sum(1 for x, y in zip(lab, truth, strict=True) if x == "agent" and y == "customer")
    correct = given and on_agent > 2 * on_cust
    path = ["agent" if p >= 0.5 else "customer" for p in dec.agent_posterior]
    sure = [max(float(p), 1 - float(p)) for p in dec.agent_posterior]  # posterior of the label the path gives
    return {
        "units": len(units),
        "confidence": dec.roles.confidence,
        "wrong_agent_risk": dec.roles.evidence.get("decoder", {}).get("wrong_agent_risk"),
        "roles_given": given,
        "correct": correct,
        "wrong": given and not correct,
        "unit_accuracy": float(np.mean([x == y for x, y in zip(lab, truth, strict=True)])) if given else None,
        "path_accuracy": float(np.mean([x == y for x, y in zip(path, truth, strict=True)])),
        "unit_posteriors": [(p, x == y) for p, x, y in zip(sure, path, truth, strict=True)],
    }


def calibration(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How well the decoder's posteriors predict being right: per unit (posterior of the decoded label, binned:
    mean posterior vs share right, and the expected calibration error) and per dialogue (confidence vs the
    share of units right, for the dialogues with two speakers)."""
    units = [u for r in rows for u in r["unit_posteriors"]]
    bins = []
    ece = 0.0
    for lo, hi in ((0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.97), (0.97, 1.01)):
        sel = [(p, ok) for p, ok in units if lo <= p < hi]
        if sel:
            mp, acc = float(np.mean([p for p, _ in sel])), float(np.mean([ok for _, ok in sel]))
            bins.append({"range": f"{lo:.2f}-{min(hi, 1.0):.2f}", "n": len(sel), "posterior": mp, "right": acc})
            ece += len(sel) / len(units) * abs(mp - acc)
    two = [r for r in rows if r["confidence"] > 0]
    return {
        "unit_bins": bins,
        "unit_ece": ece,
        "dialogue_confidence": float(np.mean([r["confidence"] for r in two])) if two else None,
        "dialogue_path_accuracy": float(np.mean([r["path_accuracy"] for r in two])) if two else None,
    }


def summarise_dialogues(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dialogues": len(rows),
        "roles_given": sum(r["roles_given"] for r in rows),
        "correct": sum(r["correct"] for r in rows),
        "wrong": sum(r["wrong"] for r in rows),
        "path_accuracy": float(np.mean([r["path_accuracy"] for r in rows])) if rows else None,
        "calibration": calibration(rows),
        "rows": [{k: v for k, v in r.items() if k != "unit_posteriors"} for r in rows],
    }


def real_text_report(path: Path, options: DiarizeOptions | None = None) -> dict[str, Any]:
    """The turn-taking decoder on real 10086 dialogues given as TEXT only (MobileCS json, no audio), cut into
    units as `dialogue_units` does, all in one cluster with NO voice evidence — the worst case of two identical
    voices, where only turn-taking and the words tell the parties apart. The TEST set of text-only roles:
    nothing is chosen on it."""
    o = options or DiarizeOptions()
    rows = []
    for dlg in json.loads(path.read_text(encoding="utf-8")):
        turns = [
            (role, turn.get(key) or "")
            for turn in dlg["content"]
            for key, role in (("[SPEAKER 1]", "agent"), ("[SPEAKER 2]", "customer"))
        ]
        rows.append(decode_dialogue(turns, o))
    return summarise_dialogues(rows)


def tuning_dialogues(path: Path) -> list[list[tuple[str, str]]]:
    """Hand-written tuning dialogues (benchmarks/data/role_tuning_dialogues.yaml): "A: …" agent, "C: …" customer."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    role = {"A": "agent", "C": "customer"}
    return [[(role[t[0]], t[2:].strip()) for t in d["turns"]] for d in data["dialogues"]]


def dialogue_report(path: Path, options: DiarizeOptions | None = None) -> dict[str, Any]:
    o = options or DiarizeOptions()
    return summarise_dialogues([decode_dialogue(turns, o) for turns in tuning_dialogues(path)])


def _print_dialogues(title: str, rep: dict[str, Any]) -> None:
    print(
        f"{title}: roles given {rep['roles_given']}/{rep['dialogues']}, correct {rep['correct']}, "
        f"wrong agent {rep['wrong']}, decoded path units right {rep['path_accuracy']:.3f} (whatever the confidence)"
    )
    cal = rep["calibration"]
    bins = ", ".join(f"{b['range']}: {b['posterior']:.2f}→{b['right']:.2f} (n={b['n']})" for b in cal["unit_bins"])
    print(f"  calibration per unit (posterior → share right): {bins}; ECE {cal['unit_ece']:.3f}")
    if cal["dialogue_confidence"] is not None:
        print(
            f"  two-speaker dialogues: mean confidence {cal['dialogue_confidence']:.3f}, "
            f"mean share of units right {cal['dialogue_path_accuracy']:.3f}"
        )
    for r in rep["rows"]:
        acc = "-" if r["unit_accuracy"] is None else f"{r['unit_accuracy']:.2f}"
        verdict = "correct" if r["correct"] else "WRONG" if r["wrong"] else "review"
        risk = "-" if r["wrong_agent_risk"] is None else f"{r['wrong_agent_risk']:.3f}"
        print(
            f"  units {r['units']:3d} confidence {r['confidence']:.3f} risk {risk:5s} {verdict:8s} units right {acc} "
            f"path {r['path_accuracy']:.2f}"
        )


def _print_similar(rep: dict[str, Any]) -> None:
    p = rep["pooled"]
    m = p["phrase_f1_macro"]
    print(
        f"similar voices, all {p['n']} calls: agent found {p['agent_found']}/{p['n']}, wrong agent "
        f"{p['wrong_agent']}, mean DER (roles) {p['mean_der_roles']:.3f}, "
        f"pooled phrase F1 stereo {m['stereo']:.3f} → mono {m['mono']:.3f}"
    )
    for c, v in p["phrase_f1"].items():
        print(f"  {c:24s} {v.get('stereo', float('nan')):.3f} → {v.get('mono', float('nan')):.3f}")
    for d, f in rep["folders"].items():
        print(f"similar voices {d}: agent found {f['agent_found']}/{f['n']}, wrong agent {f['wrong_agent']}, ", end="")
        m = f["phrase_f1_macro"]
        print(f"mean DER (roles) {f['mean_der_roles']:.3f}, phrase F1 stereo {m['stereo']:.3f} → mono {m['mono']:.3f}")
        for r in f["calls"]:
            print(
                f"  {r['call'][:32]:32s} k={r['n_speakers']} roles={'/'.join(r['roles'])} "
                f"conf={r['role_confidence']} risk={r.get('wrong_agent_risk')} DER={r['der_roles']:.3f} "
                f"agent={'yes' if r['agent_found'] else 'no'}"
                f"{' WRONG' if r['wrong_agent'] else ''}"
            )


def _clock() -> tuple[float, float]:
    ru = os.times()
    return time.perf_counter(), ru.user + ru.system + ru.children_user + ru.children_system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--similar", type=Path, nargs="*", default=[], help="rendered similar-voice folders only")
    ap.add_argument(
        "--real-text",
        type=Path,
        nargs="?",
        const=Path(os.environ.get("CALLQA_REAL_AUDIO", "../shared/real-audio")) / "text" / "mobilecs_example.json",
        help="only the decoder on real 10086 text dialogues (default: $CALLQA_REAL_AUDIO/text/mobilecs_example.json)",
    )
    ap.add_argument(
        "--dialogues",
        type=Path,
        nargs="?",
        const=Path(__file__).parent / "data" / "role_tuning_dialogues.yaml",
        help="only the decoder on the hand-written tuning dialogues (text only; what weights are chosen on)",
    )
    ap.add_argument("--asr", choices=["text", "whisper"], default="text")
    ap.add_argument("--overhead", type=int, default=0, help="mono calls to time with/without diarization")
    ap.add_argument("--limit", type=int, default=0, help="only the first N samples (whisper is slow on CPU)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    wall0, cpu0 = _clock()

    if args.dialogues:
        title = f"tuning dialogues ({args.dialogues.name}, text only, no voice)"
        _print_dialogues(title, dialogue_report(args.dialogues))
        _print_cost(wall0, cpu0)
    if args.real_text:
        rt = real_text_report(args.real_text)
        _print_dialogues(f"real 10086 text dialogues ({args.real_text.name}, text only, no voice)", rt)
        _print_cost(wall0, cpu0)
    if args.real_text or args.dialogues:
        if not args.similar:
            return

    if args.similar:
        rep = similar_report(args.similar, Path(tempfile.mkdtemp(prefix="bench_diar_sim_")))
        _print_similar(rep)
        _print_cost(wall0, cpu0)
        args.out.mkdir(parents=True, exist_ok=True)
        out = args.out / "bench_diarization_similar.json"
        out.write_text(json.dumps(rep, indent=1, ensure_ascii=False, default=float), encoding="utf-8")
        print(f"→ {out}")
        return

    jobs = [j for j in sample_jobs(SAMPLES) if not j.path.name.endswith(".mono.flac")]
    jobs = jobs[: args.limit] if args.limit else jobs
    tmp = Path(tempfile.mkdtemp(prefix="bench_diar_"))
    mono_paths = {j.metadata.call_id: mono_mixdown(j.path, tmp / j.path.name) for j in jobs}
    mono_jobs = [replace(j, path=mono_paths[j.metadata.call_id]) for j in jobs]

    rows = der_rows(mono_paths)
    report: dict[str, Any] = {
        "der_voice": pooled(rows, "der_voice"),
        "der_role": pooled(rows, "der_role"),
        "per_call": rows,
    }

    if args.asr == "text":
        stereo_opts = PipelineOptions(asr=AsrOptions(engine="transcript"))
        mono_opts = PipelineOptions()  # a Whisper engine's description: the mono calls are diarized
        run_set(jobs, stereo_opts, tmp / "stereo")
        mono = run_set(mono_jobs, mono_opts, tmp / "mono", engine=ReattributedTextEngine())
    else:
        run_set(jobs, PipelineOptions(), tmp / "stereo")
        mono = run_set(mono_jobs, PipelineOptions(), tmp / "mono")
    ev_s = evaluate(tmp / "stereo", SAMPLES)
    ev_m = evaluate(tmp / "mono", SAMPLES)
    f1 = {c: {"stereo": ev_s.f1(c), "mono": ev_m.f1(c)} for c in PHRASE_CHECKS}
    valid = [v for v in f1.values() if v["stereo"] is not None and v["mono"] is not None]
    report["phrase_f1"] = f1
    report["phrase_f1_macro"] = {
        "stereo": statistics.mean(v["stereo"] for v in valid),
        "mono": statistics.mean(v["mono"] for v in valid),
    }
    report["status_accuracy"] = {"stereo": ev_s.status_accuracy, "mono": ev_m.status_accuracy}
    report["all_check_f1"] = {
        c: {"stereo": ev_s.f1(c), "mono": ev_m.f1(c)} for c in sorted(set(ev_s.check_status) | set(ev_s.occurrences))
    }
    roles = [role_row(stem, r) for stem, r in mono.items()]
    report["roles"] = roles
    greeted = [r for r in roles if r["greeting_truth"] == "pass"]
    report["role_accuracy"] = sum(r["correct"] for r in roles) / len(roles)
    report["role_accuracy_greeting_calls"] = sum(r["correct"] for r in greeted) / max(1, len(greeted))
    report["asr"] = args.asr
    report["diarize_share_of_wall"] = {  # from the mono results' own timings
        k: r.timings.get("diarize", 0.0) / sum(v for n, v in r.timings.items()) for k, r in mono.items()
    }

    if args.overhead:
        wo, wi = [], []
        for job in mono_jobs[: args.overhead]:
            for opts, acc in ((PipelineOptions(diarize=None), wo), (PipelineOptions(), wi)):
                t0 = time.perf_counter()
                score_call(job.path, job.metadata, opts)
                acc.append(time.perf_counter() - t0)
        report["overhead"] = {
            "calls": args.overhead,
            "wall_without_s": wo,
            "wall_with_s": wi,
            "overhead": (sum(wi) - sum(wo)) / sum(wo),
        }

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"bench_diarization_{args.asr}.json"
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=float), encoding="utf-8")
    print(f"DER voice {report['der_voice']['der']:.3f}  role {report['der_role']['der']:.3f}")
    for r in rows:
        print(
            f"  {r['call'][:30]:30s} k={r['n_speakers']} voices={r['n_ref_voices']} "
            f"DER voice {r['der_voice']['der']:.3f} role {r['der_role']['der']:.3f} ovl={r['overlap_suspects']}"
        )
    print(
        f"roles: accuracy {report['role_accuracy']:.3f}, on greeting calls {report['role_accuracy_greeting_calls']:.3f}"
    )
    for r in roles:
        print(f"  {r['call'][:30]:30s} confident={r['confident']} correct={r['correct']} conf={r['role_confidence']}")
    print("phrase F1 (stereo → mono):")
    for c, v in f1.items():
        print(f"  {c:24s} {v['stereo']} → {v['mono']}")
    m = report["phrase_f1_macro"]
    print(
        f"macro phrase F1 {m['stereo']:.3f} → {m['mono']:.3f} (drop {m['stereo'] - m['mono']:.3f}); "
        f"status accuracy {report['status_accuracy']}"
    )
    if "overhead" in report:
        print(f"overhead {report['overhead']['overhead']:.1%}  {report['overhead']}")
    _print_cost(wall0, cpu0)
    print(f"→ {out}")


def _print_cost(wall0: float, cpu0: float) -> None:
    wall, cpu = _clock()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"wall {wall - wall0:.1f} s, process CPU {cpu - cpu0:.1f} s, load average {load}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
