"""The accuracy report as people read it (markdown) and as files (accuracy.json + accuracy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic, write_text_atomic
from .harness import EvalReport


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.1%}" if pct else f"{x:.3f}"
    return str(x)


def to_markdown(rep: EvalReport) -> str:
    eng = rep.engine
    lines = [
        "# callqa accuracy report",
        "",
        f"- results: `{rep.results_dir}` (engine: {eng.get('asr')} {eng.get('model') or ''} "
        f"{eng.get('compute_type') or ''})".rstrip(),
        f"- truth: `{rep.truth_dir}`; {len(rep.calls)} calls evaluated; time tolerance ±{rep.tolerance_s} s",
    ]
    if rep.missing:
        lines.append(f"- **missing / failed results**: {', '.join(rep.missing)}")
    if rep.unlabelled:
        lines.append(f"- results without truth (ignored): {len(rep.unlabelled)}")
    lines += [
        "",
        "## Transcription (CER, normalised)",
        "",
        f"all **{_fmt(rep.cer['all'], True)}** · agent {_fmt(rep.cer['agent'], True)} · "
        f"customer {_fmt(rep.cer['customer'], True)}",
        "",
        "## Call-level status",
        "",
        f"fail/not-fail accuracy **{_fmt(rep.status_accuracy, True)}** · strict (pass/fail/n.a.) "
        f"{_fmt(rep.status_accuracy_strict, True)}",
        "",
        "| check | P | R | F1 (status) | acc | occ P | occ R | occ F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c, s in rep.check_status.items():
        o = rep.occurrences.get(c, {})
        lines.append(
            f"| {c} | {_fmt(s['precision'])} | {_fmt(s['recall'])} | {_fmt(s['f1'])} | "
            f"{_fmt(s['accuracy'], True)} | {_fmt(o.get('precision'))} | {_fmt(o.get('recall'))} | "
            f"{_fmt(o.get('f1'))} |"
        )
    tl = rep.timeline
    lines += [
        "",
        "## Timeline",
        "",
        "| item | P | R | F1 | start err mean/max (s) | end err mean/max (s) |",
        "|---|---|---|---|---|---|",
    ]
    for k in ("silence_gaps", "interruptions"):
        t = tl[k]
        lines.append(
            f"| {k} | {_fmt(t['precision'])} | {_fmt(t['recall'])} | {_fmt(t['f1'])} | "
            f"{_fmt(t['start_error_s']['mean_abs'])} / {_fmt(t['start_error_s']['max_abs'])} | "
            f"{_fmt(t['end_error_s']['mean_abs'])} / {_fmt(t['end_error_s']['max_abs'])} |"
        )
    sr = tl["speech_rate"]
    lines += [
        "",
        f"speech rate: mean abs error {_fmt(sr['abs_error_cpm']['mean_abs'])} chars/min "
        f"(max {_fmt(sr['abs_error_cpm']['max_abs'])}), relative {_fmt(sr['rel_error']['mean_abs'], True)} "
        f"(max {_fmt(sr['rel_error']['max_abs'], True)})",
        "",
        *_diarization_markdown(rep.diarization),
        "## Score by quality class",
        "",
        "| quality | n | mean | min | max |",
        "|---|---|---|---|---|",
    ]
    for q, s in rep.score["by_quality"].items():
        lines.append(f"| {q} | {s['n']} | {s['mean']} | {s['min']} | {s['max']} |")
    lines += [
        "",
        f"class means ordered perfect > minor > severe > terrible: **{rep.score['means_ordered']}** · "
        f"classes fully separated: {rep.score['classes_separated']}",
    ]
    if rep.score["expected_score_mae"] is not None:
        lines.append(
            f"expected-score MAE: {rep.score['expected_score_mae']} over {rep.score['expected_score_n']} calls"
        )
    lines += [
        "",
        "## Per call",
        "",
        "| call | quality | score | CER | status mismatches | occurrence errors |",
        "|---|---|---|---|---|---|",
    ]
    for call in rep.calls:
        lines.append(
            f"| {call.call_id} | {call.quality} | {call.score} | {_fmt(call.cer, True)} | "
            f"{'; '.join(call.status_mismatches) or '–'} | {'; '.join(call.occurrence_errors) or '–'} |"
        )
    return "\n".join(lines) + "\n"


def _diarization_markdown(d: dict[str, Any]) -> list[str]:
    if not d:
        return []
    return [
        "## Mono calls (diarization)",
        "",
        f"{d['calls']} mono calls · DER (collar 0.25 s) **{_fmt(d['der'], True)}** · roles assigned "
        f"{d['roles_assigned']}/{d['calls']} · agent found correctly {d['agent_correct']}/{d['calls']}",
        "",
    ]


def write_report(rep: EvalReport, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    j, m = out / "accuracy.json", out / "accuracy.md"
    write_json_atomic(j, rep.to_json())
    write_text_atomic(m, to_markdown(rep))
    return j, m
