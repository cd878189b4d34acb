"""Accuracy harness: score a results folder (from `callqa score`) against labelled ground truth.

    report = evaluate(Path("R"), Path("data_samples"))      # R/calls/<call_id>.json vs <call_id>.truth.json
    callqa eval R --truth data_samples/ --out R/eval        # → R/eval/accuracy.json + accuracy.md

Measures, per call and overall:

* transcription: character error rate on normalised text (Simplified, no punctuation; `text.normalize`),
  overall and per party (agent / customer; a mono call's `unknown` utterances count towards "all" only);
* checks: call-level status (fail vs not-fail) precision / recall / F1 per check, strict status accuracy
  (pass / fail / not_applicable must agree) and the fail-vs-not-fail accuracy over every (call, check);
  for occurrence checks, precision / recall / F1 over the individual violations, time-matched
  one-to-one within `tolerance_s`; `EvalReport.f1(check)` is the occurrence F1 where there is one;
* timeline: silence gaps (>= MIN_GAP_S) and overlaps (>= MIN_OVERLAP_S) against the result's `silence` / `overlap`
  events: detection precision / recall and mean / max absolute start and end errors; agent speech rate
  error (chars/min, absolute and relative);
* score: rubric total per call grouped by the truth `quality` label, whether the class means are ordered
  perfect > minor > severe > terrible, and the mean absolute error where the truth has `expected_score`.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..checks.registry import CATALOG, OccurrenceMatch, check_names
from ..i18n import t
from .matching import MIN_GAP_S, MIN_OVERLAP_S, Span, match_occurrences, match_timeline
from .metrics import PRF, Errors, cer, diarization_error_rate
from .metrics import rounded as _r

QUALITY_ORDER = ("perfect", "minor", "severe", "terrible")

OCCURRENCE_CHECKS: dict[str, OccurrenceMatch] = {c.name: c.match for c in CATALOG if c.match is not None}
"""Checks whose truth `occurrences` (when the check fails) are the individual violations → how they match."""

PHRASE_CHECKS = check_names(kind="phrase")


# -- the report -----------------------------------------------------------------------------------------
@dataclass
class CallEval:
    call_id: str
    quality: str | None
    score: float | None
    expected_score: float | None
    cer: float | None
    cer_by_speaker: dict[str, float | None]
    status_mismatches: list[str]  # "check: truth→predicted"
    occurrence_errors: list[str]  # "check: n missed, n extra"
    speech_rate_truth: float | None
    speech_rate_pred: float | None


@dataclass
class EvalReport:
    results_dir: str
    truth_dir: str
    tolerance_s: float
    engine: dict[str, Any]
    calls: list[CallEval]
    missing: list[str]  # truth files without an ok result
    unlabelled: list[str]  # results without a truth file
    cer: dict[str, float | None]  # all / agent / customer, character-weighted
    check_status: dict[str, dict[str, Any]]  # per check: fail-class PRF over calls + accuracy
    occurrences: dict[str, dict[str, Any]]  # per occurrence check: PRF over violations
    status_accuracy: float | None  # fail vs not-fail, every (call, check) with a truth status
    status_accuracy_strict: float | None  # pass / fail / not_applicable all distinct
    timeline: dict[str, Any]
    score: dict[str, Any]
    diarization: dict[str, Any] = field(default_factory=dict)  # mono results only: DER, agent found

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def f1(self, check: str) -> float | None:
        """The check's F1 over occurrences when it is an occurrence check, else over call-level fail status."""
        occ = self.occurrences.get(check)
        if occ is not None:
            return occ["f1"]
        st = self.check_status.get(check)
        return st["f1"] if st else None


def predicted_status(findings: Iterable[dict[str, Any]]) -> str:
    """Call-level status of one check from its findings: any fail → fail; else any needs_review; else
    any pass → pass; else not_applicable (also when the check produced nothing)."""
    sts = {f["status"] for f in findings}
    for s in ("fail", "needs_review", "pass"):
        if s in sts:
            return s
    return "not_applicable"


def _truth_occurrences(check: str, tc: dict[str, Any]) -> list[Span]:
    if tc.get("status") != "fail":
        return []
    occ = tc.get("occurrences") or []
    if check == "response_latency":
        occ = [o for o in occ if not o.get("excused_by_wait_notice")]
    return [Span(float(o["start"]), float(o["end"])) for o in occ if o.get("start") is not None]


def _load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    folder = results_dir / "calls" if (results_dir / "calls").is_dir() else results_dir
    out = {}
    for f in sorted(folder.glob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "call_id" in data and "checks" in data:
            out[data["call_id"]] = data
    return out


def _load_truth(truth_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for f in sorted(truth_dir.glob("*.truth.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        out[data.get("call_id") or f.name[: -len(".truth.json")]] = data
    return out


def _text(items: Iterable[dict[str, Any]], speaker: str | None) -> str:
    return "".join(
        i["text"] for i in sorted(items, key=lambda i: i["start"]) if speaker is None or i.get("speaker") == speaker
    )


def evaluate(results_dir: Path, truth_dir: Path, *, tolerance_s: float = 1.0) -> EvalReport:
    """Compare every result in `results_dir` (a `callqa score --out` folder) with `truth_dir/*.truth.json`."""
    results_dir, truth_dir = Path(results_dir), Path(truth_dir)
    results = _load_results(results_dir)
    truths = _load_truth(truth_dir)
    if not truths:
        raise FileNotFoundError(t("eval.error.no_truth", folder=truth_dir))
    ids = [cid for cid in truths if cid in results and results[cid].get("status") == "ok"]
    missing = [cid for cid in truths if cid not in ids]
    unlabelled = sorted(set(results) - set(truths))

    cer_tot = {k: [0, 0] for k in ("all", "agent", "customer")}
    status_prf: dict[str, PRF] = {}
    status_hits: dict[str, list[int]] = {}  # check → [fail/not-fail agree, strict agree, n]
    occ_prf: dict[str, PRF] = {}
    gap_prf, ov_prf = PRF(), PRF()
    gap_start, gap_end, ov_start, ov_end = Errors(), Errors(), Errors(), Errors()
    rate_abs, rate_rel = Errors(), Errors()
    calls: list[CallEval] = []
    engine: dict[str, Any] = {}

    mono_rows: list[dict[str, Any]] = []
    for cid in ids:
        res, tr = results[cid], truths[cid]
        if (res.get("audio") or {}).get("layout") == "mono":
            mono_rows.append(mono_diarization(cid, tr, res))
        engine = engine or {k: (res.get("engine") or {}).get(k) for k in ("asr", "model", "compute_type")}
        # transcription
        per_spk: dict[str, float | None] = {}
        call_cer = None
        for spk in ("all", "agent", "customer"):
            s = None if spk == "all" else spk
            e, n = cer(_text(tr["turns"], s), _text(res.get("utterances") or [], s))
            if spk != "all" and not any(u.get("speaker") == spk for u in res.get("utterances") or []):
                per_spk[spk] = None  # mono: nothing attributed
                continue
            cer_tot[spk][0] += e
            cer_tot[spk][1] += n
            per_spk[spk] = _r(e / n) if n else None
            if spk == "all":
                call_cer = per_spk[spk]
        # checks
        findings: dict[str, list[dict[str, Any]]] = {}
        for f in res.get("checks") or []:
            findings.setdefault(f["check"], []).append(f)
        mism, occ_err = [], []
        for check, tc in (tr.get("checks") or {}).items():
            if check not in findings:
                continue  # not in this rubric
            t_status, p_status = tc["status"], predicted_status(findings[check])
            t_fail, p_fail = t_status == "fail", p_status == "fail"
            status_prf.setdefault(check, PRF()).add(
                int(t_fail and p_fail), int(p_fail and not t_fail), int(t_fail and not p_fail)
            )
            h = status_hits.setdefault(check, [0, 0, 0])
            h[0] += t_fail == p_fail
            h[1] += t_status == p_status
            h[2] += 1
            if t_status != p_status:
                mism.append(f"{check}: {t_status}→{p_status}")
            if check in OCCURRENCE_CHECKS:
                t_occ = _truth_occurrences(check, tc)
                p_occ = [
                    Span(float(f["start"]), float(f["end"]))
                    for f in findings[check]
                    if f["status"] == "fail" and f.get("start") is not None
                ]
                pairs = match_occurrences(t_occ, p_occ, tolerance_s, OCCURRENCE_CHECKS[check])
                fn, fp = len(t_occ) - len(pairs), len(p_occ) - len(pairs)
                occ_prf.setdefault(check, PRF()).add(len(pairs), fp, fn)
                if fn or fp:
                    occ_err.append(f"{check}: {fn} missed, {fp} extra")
        # timeline: gaps and overlaps
        events = res.get("events") or []
        match_timeline(tr.get("silence_gaps"), events, "silence", tolerance_s, MIN_GAP_S, gap_prf, gap_start, gap_end)
        match_timeline(tr.get("interruptions"), events, "overlap", tolerance_s, MIN_OVERLAP_S, ov_prf, ov_start, ov_end)
        # speech rate
        t_rate = (tr.get("agent_speech_rate") or {}).get("chars_per_min")
        p_rate = next(
            (
                f["detail"].get("chars_per_minute")
                for f in findings.get("speech_rate", [])
                if f.get("detail", {}).get("chars_per_minute") is not None
            ),
            None,
        )
        if t_rate and p_rate is not None:
            rate_abs.values.append(p_rate - t_rate)
            rate_rel.values.append((p_rate - t_rate) / t_rate)
        score = (res.get("score") or {}).get("total")
        calls.append(
            CallEval(
                cid,
                tr.get("quality"),
                score,
                tr.get("expected_score"),
                call_cer,
                per_spk,
                mism,
                occ_err,
                t_rate,
                p_rate,
            )
        )

    n_all = sum(h[2] for h in status_hits.values())
    check_status = {
        c: {**status_prf[c].to_json(), "accuracy": _r(h[0] / h[2]), "accuracy_strict": _r(h[1] / h[2]), "n": h[2]}
        for c, h in sorted(status_hits.items())
    }
    return EvalReport(
        results_dir=str(results_dir),
        truth_dir=str(truth_dir),
        tolerance_s=tolerance_s,
        engine=engine,
        calls=calls,
        missing=missing,
        unlabelled=unlabelled,
        cer={k: _r(e / n) if n else None for k, (e, n) in cer_tot.items()},
        check_status=check_status,
        occurrences={c: p.to_json() for c, p in sorted(occ_prf.items())},
        status_accuracy=_r(sum(h[0] for h in status_hits.values()) / n_all) if n_all else None,
        status_accuracy_strict=_r(sum(h[1] for h in status_hits.values()) / n_all) if n_all else None,
        timeline={
            "silence_gaps": {
                **gap_prf.to_json(),
                "start_error_s": gap_start.to_json(),
                "end_error_s": gap_end.to_json(),
            },
            "interruptions": {**ov_prf.to_json(), "start_error_s": ov_start.to_json(), "end_error_s": ov_end.to_json()},
            "speech_rate": {"abs_error_cpm": rate_abs.to_json(), "rel_error": rate_rel.to_json()},
        },
        score=_score_summary(calls),
        diarization=_diarization_summary(mono_rows),
    )


def mono_diarization(call_id: str, truth: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """DER (collar 0.25 s) of a mono result's speech events against the truth turns, and whether the speaker
    labelled agent is the true agent (most of its speech lies in the truth's agent turns)."""
    ref = [(t["speaker"], t["start"], t["end"]) for t in truth.get("turns") or []]
    hyp = [
        (e["speaker"] or "unknown", e["start"], e["end"]) for e in result.get("events") or [] if e["type"] == "speech"
    ]
    der = diarization_error_rate(ref, hyp)

    def overlap(spk: str) -> float:
        return sum(
            max(0.0, min(b, d) - max(a, c)) for s1, a, b in hyp if s1 == "agent" for s2, c, d in ref if s2 == spk
        )

    attributed = any(s == "agent" for s, _, _ in hyp)
    return {
        "call_id": call_id,
        "der": der["der"],
        "scored_s": der["scored_s"],
        "roles_assigned": attributed,
        "agent_correct": attributed and overlap("agent") > overlap("customer"),
    }


def _diarization_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {}
    total = sum(r["scored_s"] for r in rows)
    return {
        "calls": len(rows),
        "der": _r(sum(r["der"] * r["scored_s"] for r in rows) / total) if total else None,
        "roles_assigned": sum(r["roles_assigned"] for r in rows),
        "agent_correct": sum(r["agent_correct"] for r in rows),
        "per_call": rows,
    }


def _score_summary(calls: list[CallEval]) -> dict[str, Any]:
    by: dict[str, list[float]] = {}
    for c in calls:
        if c.quality and c.score is not None:
            by.setdefault(c.quality, []).append(c.score)
    classes: dict[str, dict[str, Any]] = {
        q: {"n": len(v), "mean": _r(statistics.fmean(v), 2), "min": min(v), "max": max(v)}
        for q in QUALITY_ORDER
        if (v := by.get(q))
    }
    present = [q for q in QUALITY_ORDER if q in classes]
    means_ordered = all(classes[a]["mean"] > classes[b]["mean"] for a, b in pairwise(present))
    # strict: every call of a better class scores above every call of a worse class
    strictly_separated = all(classes[a]["min"] > classes[b]["max"] for a, b in pairwise(present))
    exp = [abs(c.score - c.expected_score) for c in calls if c.expected_score is not None and c.score is not None]
    return {
        "by_quality": classes,
        "means_ordered": means_ordered,
        "classes_separated": strictly_separated,
        "expected_score_mae": _r(statistics.fmean(exp), 3) if exp else None,
        "expected_score_n": len(exp),
    }


# -- scoring the labelled samples ----------------------------------------------------------------------------
def sample_jobs(samples_dir: Path, *, transfer_metadata: bool = True) -> list[Any]:
    """CallJobs for every recording in `samples_dir`; with `transfer_metadata`, a call whose truth has a
    transfer gets `transferred_at` (what the switch's CTI record gives a real deployment, via the manifest):
    the transfer moment itself is not audible, so transfer_pause cannot be judged from audio alone."""
    from dataclasses import replace

    from ..manifest import CallJob, discover_audio, metadata_from_name

    jobs = []
    for path in discover_audio([Path(samples_dir)]):
        md = metadata_from_name(path, None)
        truth = path.with_name(f"{md.call_id}.truth.json")
        if transfer_metadata and truth.exists():
            tr = (json.loads(truth.read_text(encoding="utf-8")).get("transfer") or {}).get("time")
            if tr is not None:
                md = replace(md, transferred_at=float(tr))
        jobs.append(CallJob(path, md))
    return jobs
