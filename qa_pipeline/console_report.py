"""A readable one-call report for the terminal (`callqa check`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"pass": "green", "fail": "bold red", "not_applicable": "dim", "needs_review": "yellow"}
SPEAKER_LABEL = {"agent": "坐席", "customer": "客户", "unknown": "未知"}


def _t(x: float | None) -> str:
    if x is None:
        return ""
    m, s = divmod(float(x), 60)
    return f"{int(m):02d}:{s:04.1f}"


def print_call_report(result: dict[str, Any], console: Console, *, show_passed: bool = False) -> None:
    audio = result.get("audio") or {}
    console.rule(f"[bold]{result['call_id']}[/bold]")
    if result["status"] != "ok":
        console.print(f"[red]failed:[/red] {result.get('error')}")
        return
    eng = result.get("engine") or {}
    console.print(
        f"{audio.get('path')}  {audio.get('duration_s', 0):.1f} s  {audio.get('sample_rate')} Hz  "
        f"{audio.get('layout')}  ·  ASR {eng.get('asr')} {eng.get('model')}  ·  rubric {eng.get('rubric')} "
        f"v{eng.get('rubric_version')}"
    )

    tr = Table(title="Transcript", show_lines=False, title_justify="left")
    tr.add_column("time", style="dim", no_wrap=True)
    tr.add_column("who", no_wrap=True)
    tr.add_column("text")
    for u in result.get("utterances", []):
        style = "cyan" if u["speaker"] == "agent" else ""
        tr.add_row(
            f"{_t(u['start'])}–{_t(u['end'])}",
            SPEAKER_LABEL.get(u["speaker"], u["speaker"]),
            f"[{style}]{u['text']}[/{style}]" if style else u["text"],
        )
    console.print(tr)

    ct = Table(title="Checks", title_justify="left")
    for col in ("check", "status", "time", "evidence / detail"):
        ct.add_column(col)
    for c in result.get("checks", []):
        if c["status"] == "pass" and not show_passed:
            continue
        detail = c.get("evidence") or ", ".join(f"{k}={v}" for k, v in (c.get("detail") or {}).items())
        span = f"{_t(c['start'])}–{_t(c['end'])}" if c.get("start") is not None else ""
        st = c["status"]
        ct.add_row(c["check"], f"[{STATUS_STYLE[st]}]{st}[/{STATUS_STYLE[st]}]", span, detail[:100])
    console.print(ct)

    score = result.get("score") or {}
    it = Table(title="10086 rubric items", title_justify="left")
    for col in ("item", "title", "points", "deduction", "status", "reasons"):
        it.add_column(col)
    for i in score.get("items", []):
        st = i["status"]
        it.add_row(
            i["id"],
            i["title"],
            f"{i['points']:g}",
            f"{-i['deduction']:g}" if i["deduction"] else "",
            f"[{STATUS_STYLE[st]}]{st}[/{STATUS_STYLE[st]}]" + (" ⚠fatal" if i.get("fatal") and st == "fail" else ""),
            "; ".join(i.get("reasons", []))[:120],
        )
    console.print(it)
    review = sum(i["points"] for i in score.get("items", []) if i["status"] == "needs_review")
    console.print(
        f"[bold]score {score.get('total')} / {score.get('max')}[/bold] (automatically judged items)"
        + ("  [bold red]FATAL[/bold red]" if score.get("fatal") else "")
        + (f"  · {review:g} points need human review" if review else "")
    )
