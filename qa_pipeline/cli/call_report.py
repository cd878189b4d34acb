"""A readable one-call report for the terminal (`callqa check`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..i18n import t
from ..review.describe import describe_finding, reason_text

STATUS_STYLE = {"pass": "green", "fail": "bold red", "not_applicable": "dim", "needs_review": "yellow"}


def _t(x: float | None) -> str:
    if x is None:
        return ""
    m, s = divmod(float(x), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _status(st: str) -> str:
    style = STATUS_STYLE.get(st, "")
    return f"[{style}]{escape(t('status.' + st))}[/{style}]" if style else escape(st)


SEVERITY_STYLE = {"red_line": "bold red", "severe": "red", "minor": ""}


def _severity(sev: str | None, failed: bool) -> str:
    """An item's severity class (红线 / 严重 / 一般); highlighted only where the item failed."""
    if not sev:
        return ""
    style = SEVERITY_STYLE.get(sev, "") if failed else "dim"
    text = escape(t(f"judge.severity.{sev}"))
    return f"[{style}]{text}[/{style}]" if style else text


def _print_judgement(score: dict[str, Any], console: Console) -> None:
    """The rubric's per-call verdict (合格 / 不合格) with the worst severity that failed, then every item with
    sub-clauses no check covers: what a person still has to check."""
    verdict = score.get("verdict")
    if verdict:
        sev = score.get("severity")
        line = t(
            "judge.verdict_line",
            verdict=t(f"judge.verdict.{verdict}"),
            severity=t(f"judge.severity.{sev}") if sev else t("judge.severity.none"),
        )
        style = "bold red" if verdict == "fail" else "bold green"
        console.print(f"[{style}]{escape(line)}[/{style}]")
    partial = [i for i in score.get("items", []) if i.get("unjudged")]
    if partial:
        console.print(escape(t("judge.unjudged_title", n=len(partial))))
        for i in partial:
            items = t("judge.list_sep").join(i["unjudged"])
            text = t("judge.partially_judged", items=items)
            console.print(escape("  " + t("judge.item_line", id=i["id"], title=i["title"], text=text)))


def print_call_report(result: dict[str, Any], console: Console, *, show_passed: bool = False) -> None:
    audio = result.get("audio") or {}
    console.rule(f"[bold]{escape(result['call_id'])}[/bold]")
    if result["status"] != "ok":
        console.print(f"[red]{t('cli.report.failed')}[/red] {escape(str(result.get('error')))}")
        return
    eng = result.get("engine") or {}
    console.print(
        escape(
            t(
                "cli.report.header",
                path=audio.get("path"),
                duration=f"{audio.get('duration_s', 0):.1f}",
                rate=audio.get("sample_rate"),
                layout=audio.get("layout"),
                asr=eng.get("asr"),
                model=eng.get("model"),
                rubric=eng.get("rubric"),
                version=eng.get("rubric_version"),
            )
        )
    )

    tr = Table(title=t("cli.report.transcript"), show_lines=False, title_justify="left")
    tr.add_column(t("cli.report.col.time"), style="dim", no_wrap=True)
    tr.add_column(t("cli.report.col.speaker"), no_wrap=True)
    tr.add_column(t("cli.report.col.text"))
    for u in result.get("utterances", []):
        text = escape(u["text"])
        tr.add_row(
            f"{_t(u['start'])}–{_t(u['end'])}",
            t("speaker." + u["speaker"]),
            f"[cyan]{text}[/cyan]" if u["speaker"] == "agent" else text,
        )
    console.print(tr)

    ct = Table(title=t("cli.report.checks"), title_justify="left")
    for col in ("check", "status", "time", "evidence"):
        ct.add_column(t("cli.report.col." + col))
    for c in result.get("checks", []):
        if c["status"] == "pass" and not show_passed:
            continue
        span = f"{_t(c['start'])}–{_t(c['end'])}" if c.get("start") is not None else ""
        ct.add_row(escape(t("check." + c["check"])), _status(c["status"]), span, escape(_finding_text(c)[:100]))
    console.print(ct)

    score = result.get("score") or {}
    it = Table(title=t("cli.report.items"), title_justify="left")
    for col in ("item", "title", "points", "deduction", "status"):
        it.add_column(t("cli.report.col." + col))
    it.add_column(t("judge.col.severity"))
    it.add_column(t("cli.report.col.reasons"))
    for i in score.get("items", []):
        st = i["status"]
        fatal = f" {t('cli.report.fatal_mark')}" if i.get("fatal") and st == "fail" else ""
        it.add_row(
            escape(i["id"]),
            escape(i["title"]),
            f"{i['points']:g}",
            f"{-i['deduction']:g}" if i["deduction"] else "",
            _status(st) + fatal,
            _severity(i.get("severity"), st == "fail"),
            escape("; ".join(i.get("reasons", []))[:120]),
        )
    console.print(it)
    _print_judgement(score, console)
    from ..review.final import scale_from_score, scale_text

    # the one score scale (same words as the workstation): 100-point total, automatic part, manual part, verdict
    st = scale_text(scale_from_score(score))
    line = t(
        "cli.check.score_line",
        label=t("web.call.machine"),
        total=st["total"],
        auto=st["auto"],
        pct=st["pct"],
        manual=st["manual"],
        verdict=st["verdict"],
    )
    style = "bold red" if st["verdict_code"] in ("fatal", "fail") else "bold"
    console.print(f"[{style}]{escape(line)}[/{style}]")


def _finding_text(check: dict[str, Any]) -> str:
    """What the check found, in words: the evidence, else why (reason codes from the catalog), else the
    workstation's one-sentence description (durations and times)."""
    detail = check.get("detail") or {}
    evidence = (check.get("evidence") or "").strip()
    why = reason_text(detail) if detail.get("reason") else ""
    if evidence:
        return f"“{evidence}”" + (t("finding.note.reason", reason=why) if why else "")
    if why:
        return why
    return describe_finding(check["check"], check.get("start"), check.get("end"), "", detail)
