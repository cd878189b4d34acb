"""A readable one-call report for the terminal (`callqa check`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..i18n import t

STATUS_STYLE = {"pass": "green", "fail": "bold red", "not_applicable": "dim", "needs_review": "yellow"}


def _t(x: float | None) -> str:
    if x is None:
        return ""
    m, s = divmod(float(x), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _status(st: str) -> str:
    style = STATUS_STYLE.get(st, "")
    return f"[{style}]{escape(t('status.' + st))}[/{style}]" if style else escape(st)


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
        detail = c.get("evidence") or ", ".join(f"{k}={v}" for k, v in (c.get("detail") or {}).items())
        span = f"{_t(c['start'])}–{_t(c['end'])}" if c.get("start") is not None else ""
        ct.add_row(escape(t("check." + c["check"])), _status(c["status"]), span, escape(detail[:100]))
    console.print(ct)

    score = result.get("score") or {}
    it = Table(title=t("cli.report.items"), title_justify="left")
    for col in ("item", "title", "points", "deduction", "status", "reasons"):
        it.add_column(t("cli.report.col." + col))
    for i in score.get("items", []):
        st = i["status"]
        fatal = f" {t('cli.report.fatal_mark')}" if i.get("fatal") and st == "fail" else ""
        it.add_row(
            escape(i["id"]),
            escape(i["title"]),
            f"{i['points']:g}",
            f"{-i['deduction']:g}" if i["deduction"] else "",
            _status(st) + fatal,
            escape("; ".join(i.get("reasons", []))[:120]),
        )
    console.print(it)
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
