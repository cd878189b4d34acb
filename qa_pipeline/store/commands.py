"""Typer command functions; the lead registers them on the `callqa` app:

app.command("import")(import_command); app.command("scorecard")(scorecard_command)
app.command("search")(search_command); app.command("clip")(clip_command)
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_DB = Path("results") / "callqa.db"
console = Console()
err = Console(stderr=True)


class ScorecardFormat(str, Enum):
    xlsx = "xlsx"
    csv = "csv"
    html = "html"


class SearchFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


class Speaker(str, Enum):
    agent = "agent"
    customer = "customer"
    unknown = "unknown"


class Channel(str, Enum):
    agent = "agent"
    customer = "customer"
    both = "both"


def _date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)")


def _open(db: Path):
    from . import open_store

    if not Path(db).exists():
        err.print(f"[red]database not found: {db}[/red] (run `callqa import` first)")
        raise typer.Exit(2)
    return open_store(db)


DbOpt = Annotated[Path, typer.Option("--db", help="SQLite database file (default results/callqa.db)")]
FromOpt = Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD (inclusive)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD (inclusive)")]


def import_command(
    results_dir: Annotated[Path, typer.Argument(help="results directory holding calls/*.json")] = Path("results"),
    db: Annotated[Path | None, typer.Option("--db", help="database file (default <results>/callqa.db)")] = None,
) -> None:
    """Load results/calls/*.json into the QA database (idempotent; bad files are reported and skipped)."""
    from . import import_results

    if not (results_dir / "calls").is_dir():
        err.print(f"[red]no calls/ directory under {results_dir}[/red]")
        raise typer.Exit(2)
    db = db or results_dir / "callqa.db"
    rep = import_results(results_dir, db)
    console.print(f"imported {rep.imported}, unchanged {rep.unchanged}, failed {len(rep.failed)} → {db}")
    if rep.failed:
        t = Table("文件 file", "错误 error", title="导入失败 failed files")
        for name, msg in rep.failed:
            t.add_row(name, msg)
        err.print(t)
        raise typer.Exit(1)


def scorecard_command(
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    team: Annotated[str | None, typer.Option("--team", help="班组 team")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="agent id or name")] = None,
    fmt: Annotated[ScorecardFormat, typer.Option("--format", help="xlsx, csv or html")] = ScorecardFormat.xlsx,
    output: Annotated[Path, typer.Option("-o", "--output", help="output file")] = Path("scorecard.xlsx"),
    worst: Annotated[int, typer.Option("--worst", help="worst calls listed per agent")] = 3,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Per-agent QA scorecards for a date range (xlsx / csv / offline html)."""
    from ..report import build_scorecard, write_scorecard

    store = _open(db)
    try:
        card = build_scorecard(store, _date(date_from), _date(date_to), team, agent, worst_n=worst)
    finally:
        store.close()
    paths = write_scorecard(card, fmt.value, output)
    t = Table(
        "坐席工号",
        "坐席姓名",
        "班组",
        "评分通话数",
        "平均分",
        "最低分",
        "致命差错",
        "待复核",
        title=f"评分卡 {card.date_from or ''} – {card.date_to or ''}",
    )
    for r in card.summary.head(30).itertuples():
        t.add_row(
            str(r.agent_id),
            str(r.agent_name or ""),
            str(r.team or ""),
            str(r.calls),
            "" if r.mean != r.mean else f"{r.mean:.1f}",
            "" if r.min != r.min else f"{r.min:.1f}",
            str(r.fatal),
            str(r.review),
        )
    console.print(t)
    if card.empty:
        err.print("[yellow]no calls in the selected range[/yellow]")
    console.print("written: " + ", ".join(str(p) for p in paths))


def search_command(
    query: Annotated[str, typer.Argument(help='words, "phrases", AND / OR / NOT, parentheses')],
    speaker: Annotated[Speaker | None, typer.Option("--speaker")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="agent id or name")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    check: Annotated[str | None, typer.Option("--check", help="only calls where this check has --status")] = None,
    status: Annotated[str | None, typer.Option("--status", help="check status (default fail with --check)")] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    min_score: Annotated[float | None, typer.Option("--min-score")] = None,
    max_score: Annotated[float | None, typer.Option("--max-score")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    fmt: Annotated[SearchFormat, typer.Option("--format")] = SearchFormat.table,
    pinyin: Annotated[bool, typer.Option("--pinyin", help="match by tone-less pinyin (homophones)")] = False,
    context: Annotated[int, typer.Option("--context", min=0, help="turns shown before/after")] = 1,
    export_clips: Annotated[Path | None, typer.Option("--export-clips", help="write a WAV clip per hit here")] = None,
    before: Annotated[float, typer.Option("--before")] = 5.0,
    after: Annotated[float, typer.Option("--after")] = 10.0,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Full-text search of transcripts (jieba words; --pinyin for homophones)."""
    from .clip import ClipError, clip_call
    from .fts import QueryError
    from .search import search

    store = _open(db)
    try:
        try:
            hits = search(
                store,
                query,
                speaker=speaker.value if speaker else None,
                agent=agent,
                team=team,
                check=check,
                status=status,
                date_from=_date(date_from),
                date_to=_date(date_to),
                min_score=min_score,
                max_score=max_score,
                limit=limit,
                pinyin=pinyin,
                context=context,
            )
        except QueryError as exc:
            err.print(f"[red]bad query:[/red] {exc}")
            raise typer.Exit(2)
        clips: dict[int, str] = {}
        if export_clips:
            for i, h in enumerate(hits):
                name = re.sub(r"[^\w.-]", "_", f"{h.call_id}_{h.start:.1f}.wav")
                try:
                    clips[i] = str(clip_call(store, h.call_id, export_clips / name, h.start, before, after))
                except (ClipError, RuntimeError) as exc:
                    err.print(f"[yellow]clip {h.call_id}: {exc}[/yellow]")
    finally:
        store.close()

    if fmt is SearchFormat.json:
        out = [dict(h.as_dict(), clip=clips.get(i)) for i, h in enumerate(hits)]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    elif fmt is SearchFormat.csv:
        w = csv.writer(sys.stdout)
        w.writerow(
            [
                "call_id",
                "agent_id",
                "agent_name",
                "started_at",
                "offset_s",
                "speaker",
                "text",
                "highlighted",
                "before",
                "after",
                "score",
                "rank",
                "clip",
            ]
        )
        for i, h in enumerate(hits):
            w.writerow(
                [
                    h.call_id,
                    h.agent_id,
                    h.agent_name,
                    h.started_at,
                    f"{h.start:.1f}",
                    h.speaker,
                    h.text,
                    h.highlighted,
                    " / ".join(t["text"] for t in h.before),
                    " / ".join(t["text"] for t in h.after),
                    h.score_total,
                    f"{h.rank:.3f}",
                    clips.get(i, ""),
                ]
            )
    else:
        from rich.markup import escape as rescape

        t = Table(
            "通话ID",
            "坐席",
            "时间点",
            "说话人",
            "上下文",
            "得分",
            title=f"搜索：{query}（{len(hits)} 条）",
            show_lines=True,
        )
        for h in hits:
            ctx = [f"[dim]{rescape(x['speaker'])}: {rescape(x['text'])}[/dim]" for x in h.before]
            hl = rescape(h.highlighted).replace("【", "[bold yellow]").replace("】", "[/bold yellow]")
            ctx.append(f"[b]{rescape(h.speaker)}:[/b] {hl}")
            ctx += [f"[dim]{rescape(x['speaker'])}: {rescape(x['text'])}[/dim]" for x in h.after]
            t.add_row(
                h.call_id,
                rescape(f"{h.agent_name or ''} {h.agent_id or ''}"),
                f"{h.start:.1f}s",
                h.speaker,
                "\n".join(ctx),
                "" if h.score_total is None else f"{h.score_total:g}",
            )
        console.print(t)
        if clips:
            console.print(f"{len(clips)} clips written to {export_clips}")


def clip_command(
    call_id: Annotated[str, typer.Argument(help="call id")],
    at: Annotated[float, typer.Option("--at", help="time offset in seconds")],
    before: Annotated[float, typer.Option("--before")] = 5.0,
    after: Annotated[float, typer.Option("--after")] = 10.0,
    channel: Annotated[Channel, typer.Option("--channel")] = Channel.both,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("clip.wav"),
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Cut the call's audio around a time offset into a WAV file."""
    from .clip import ClipError, clip_call

    store = _open(db)
    try:
        out = clip_call(store, call_id, output, at, before, after, channel.value)
    except ClipError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)
    finally:
        store.close()
    console.print(f"written {out}")
