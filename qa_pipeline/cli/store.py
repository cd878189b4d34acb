"""Results-database commands: `callqa import`, `scorecard`, `search`, `clip`."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..i18n import t
from ..safe import safe_file_stem, spreadsheet_cell
from .app import app
from .console import console, err, fail, warn

if TYPE_CHECKING:
    from ..store import Store

DEFAULT_DB = str(Path("results") / "callqa.db")


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
        raise typer.BadParameter(t("cli.store.bad_date", value=value)) from None


def _dates(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    """--from/--to as ISO days; a range that ends before it starts is a mistake to say, not an empty report."""
    d0, d1 = _date(date_from), _date(date_to)
    if d0 and d1 and d0 > d1:
        raise typer.BadParameter(t("cli.store.dates_reversed", date_from=d0, date_to=d1))
    return d0, d1


def _open(db: str) -> Store:
    """The store at --db: an existing SQLite file, or a database URL (an unusable URL is an error)."""
    from ..store import open_store
    from ..store.db import StoreURLError, is_url

    if not is_url(db) and not Path(db).exists():
        fail(t("cli.store.db_missing", db=db))
    try:
        return open_store(db)
    except StoreURLError as exc:
        fail(str(exc))


# str, not Path: a Path would turn postgresql://host/db into postgresql:/host/db
DbOpt = Annotated[str, typer.Option("--db", help=t("cli.store.opt.db"))]
FromOpt = Annotated[str | None, typer.Option("--from", help=t("cli.store.opt.from"))]
ToOpt = Annotated[str | None, typer.Option("--to", help=t("cli.store.opt.to"))]
BeforeOpt = Annotated[float, typer.Option("--before", help=t("cli.store.opt.before"))]
AfterOpt = Annotated[float, typer.Option("--after", help=t("cli.store.opt.after"))]


@app.command("import", help=t("cli.import.help"))
def import_command(
    results_dir: Annotated[Path, typer.Argument(help=t("cli.import.opt.results"))] = Path("results"),
    db: Annotated[str | None, typer.Option("--db", help=t("cli.import.opt.db"))] = None,
    redact: Annotated[bool, typer.Option(help=t("privacy.opt.import_redact"))] = True,
) -> None:
    from ..privacy import RedactOptions
    from ..store import import_results
    from ..store.db import StoreURLError, safe_url

    if not (results_dir / "calls").is_dir():
        fail(t("cli.import.no_calls", results=results_dir))
    db = db or str(results_dir / "callqa.db")
    try:
        rep = import_results(results_dir, db, redact=RedactOptions(enabled=redact))
    except StoreURLError as exc:
        fail(str(exc))
    db = safe_url(db)
    console.print(t("cli.import.done", imported=rep.imported, unchanged=rep.unchanged, failed=len(rep.failed), db=db))
    if rep.failed:
        tbl = Table(t("cli.import.col.file"), t("cli.import.col.error"), title=t("cli.import.failed_title"))
        for name, msg in rep.failed:
            tbl.add_row(escape(name), escape(msg))
        err.print(tbl)
        raise typer.Exit(1)


@app.command("scorecard", help=t("cli.scorecard.help"))
def scorecard_command(
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    team: Annotated[str | None, typer.Option("--team", help=t("cli.store.opt.team"))] = None,
    agent: Annotated[str | None, typer.Option("--agent", help=t("cli.store.opt.agent"))] = None,
    tag: Annotated[str | None, typer.Option("--tag", help=t("rules.opt.tag"))] = None,
    fmt: Annotated[
        ScorecardFormat, typer.Option("--format", help=t("cli.scorecard.opt.format"))
    ] = ScorecardFormat.xlsx,
    output: Annotated[Path, typer.Option("-o", "--output", help=t("cli.scorecard.opt.output"))] = Path(
        "scorecard.xlsx"
    ),
    worst: Annotated[int, typer.Option("--worst", help=t("cli.scorecard.opt.worst"))] = 3,
    db: DbOpt = DEFAULT_DB,
) -> None:
    from ..report import build_scorecard, write_scorecard
    from ..store.filters import CallFilter

    store = _open(db)
    try:
        d0, d1 = _dates(date_from, date_to)
        where = CallFilter(date_from=d0, date_to=d1, team=team, agent=agent, tag=tag)
        card = build_scorecard(store, where, worst_n=worst)
    finally:
        store.close()
    paths = write_scorecard(card, fmt.value, output)
    cols = ("agent_id", "agent_name", "team", "calls", "mean", "min", "fatal", "review")
    tbl = Table(
        *(t("cli.scorecard.col." + c) for c in cols),
        title=t("cli.scorecard.title", date_from=card.date_from or "", date_to=card.date_to or ""),
    )
    for r in card.summary.head(30).itertuples():
        tbl.add_row(
            escape(str(r.agent_id)),
            escape(str(r.agent_name or "")),
            escape(str(r.team or "")),
            str(r.calls),
            "" if r.mean != r.mean else f"{r.mean:.1f}",
            "" if r.min != r.min else f"{r.min:.1f}",
            str(r.fatal),
            str(r.review),
        )
    console.print(tbl)
    if card.empty:
        warn(t("cli.scorecard.empty"))
    console.print(t("cli.written", paths=", ".join(str(p) for p in paths)), markup=False)


@app.command("search", help=t("cli.search.help"))
def search_command(
    query: Annotated[str, typer.Argument(help=t("cli.search.opt.query"))],
    speaker: Annotated[Speaker | None, typer.Option("--speaker", help=t("cli.search.opt.speaker"))] = None,
    agent: Annotated[str | None, typer.Option("--agent", help=t("cli.store.opt.agent"))] = None,
    team: Annotated[str | None, typer.Option("--team", help=t("cli.store.opt.team"))] = None,
    check: Annotated[str | None, typer.Option("--check", help=t("cli.search.opt.check"))] = None,
    status: Annotated[str | None, typer.Option("--status", help=t("cli.search.opt.status"))] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    min_score: Annotated[float | None, typer.Option("--min-score", help=t("cli.search.opt.min_score"))] = None,
    max_score: Annotated[float | None, typer.Option("--max-score", help=t("cli.search.opt.max_score"))] = None,
    tag: Annotated[str | None, typer.Option("--tag", help=t("rules.opt.tag"))] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help=t("cli.search.opt.limit"))] = 20,
    fmt: Annotated[SearchFormat, typer.Option("--format", help=t("cli.search.opt.format"))] = SearchFormat.table,
    pinyin: Annotated[bool, typer.Option("--pinyin", help=t("cli.search.opt.pinyin"))] = False,
    context: Annotated[int, typer.Option("--context", min=0, max=20, help=t("cli.search.opt.context"))] = 1,
    export_clips: Annotated[Path | None, typer.Option("--export-clips", help=t("cli.search.opt.export_clips"))] = None,
    before: BeforeOpt = 5.0,
    after: AfterOpt = 10.0,
    db: DbOpt = DEFAULT_DB,
) -> None:
    from ..store.clip import ClipError, clip_call
    from ..store.filters import CallFilter
    from ..store.query import QueryError
    from ..store.search import search

    d0, d1 = _dates(date_from, date_to)
    where = CallFilter(
        date_from=d0,
        date_to=d1,
        team=team,
        agent=agent,
        min_score=min_score,
        max_score=max_score,
        check=check,
        check_status=status,
        speaker=speaker.value if speaker else None,
        tag=tag,
    )
    store = _open(db)
    try:
        try:
            hits = search(store, query, where, limit=limit, pinyin=pinyin, context=context)
        except QueryError as exc:
            fail(str(exc), label="cli.search.bad_query")
        clips: dict[int, str] = {}
        if export_clips:
            for i, h in enumerate(hits):
                name = f"{safe_file_stem(h.call_id)}_{h.start:.1f}.wav"  # distinct ids never share a clip
                try:
                    clips[i] = str(clip_call(store, h.call_id, export_clips / name, h.start, before, after))
                except (ClipError, RuntimeError) as exc:
                    warn(t("cli.search.clip_failed", call_id=h.call_id, reason=exc))
    finally:
        store.close()

    if fmt is SearchFormat.json:
        out = [dict(h.as_dict(), clip=clips.get(i)) for i, h in enumerate(hits)]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    elif fmt is SearchFormat.csv:
        # machine-readable: stable English column names
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
                spreadsheet_cell(x)
                for x in [
                    h.call_id,
                    h.agent_id,
                    h.agent_name,
                    h.started_at,
                    f"{h.start:.1f}",
                    h.speaker,
                    h.text,
                    h.highlighted,
                    " / ".join(x["text"] for x in h.before),
                    " / ".join(x["text"] for x in h.after),
                    h.score_total,
                    f"{h.rank:.3f}",
                    clips.get(i, ""),
                ]
            )
    elif not hits:
        # an empty table says nothing a trainer can act on; ASR often writes a homophone (花费 for 话费)
        console.print(t("cli.search.none", query=query), markup=False)
        if not pinyin:
            console.print(t("cli.search.try_pinyin"), markup=False)
    else:
        cols = ("call_id", "agent", "offset", "speaker", "context", "score")
        tbl = Table(
            *(t("cli.search.col." + c) for c in cols),
            title=t("cli.search.title", query=escape(query), n=len(hits)),
            show_lines=True,
        )

        def who(sp: str) -> str:
            return escape(t("speaker." + sp))

        for h in hits:
            ctx = [f"[dim]{who(x['speaker'])}: {escape(x['text'])}[/dim]" for x in h.before]
            hl = escape(h.highlighted).replace("【", "[bold yellow]").replace("】", "[/bold yellow]")
            ctx.append(f"[b]{who(h.speaker)}:[/b] {hl}")
            ctx += [f"[dim]{who(x['speaker'])}: {escape(x['text'])}[/dim]" for x in h.after]
            tbl.add_row(
                escape(h.call_id),
                escape(f"{h.agent_name or ''} {h.agent_id or ''}"),
                f"{h.start:.1f}s",
                who(h.speaker),
                "\n".join(ctx),
                "" if h.score_pct is None else f"{h.score_pct:g}%",
            )
        console.print(tbl)
        if clips:
            console.print(t("cli.search.clips_written", n=len(clips), folder=export_clips), markup=False)


@app.command("clip", help=t("cli.clip.help"))
def clip_command(
    call_id: Annotated[str, typer.Argument(help=t("cli.clip.opt.call_id"))],
    at: Annotated[float, typer.Option("--at", help=t("cli.clip.opt.at"))],
    before: BeforeOpt = 5.0,
    after: AfterOpt = 10.0,
    channel: Annotated[Channel, typer.Option("--channel", help=t("cli.clip.opt.channel"))] = Channel.both,
    output: Annotated[Path, typer.Option("-o", "--output", help=t("cli.clip.opt.output"))] = Path("clip.wav"),
    db: DbOpt = DEFAULT_DB,
) -> None:
    from ..store.clip import ClipError, clip_call

    store = _open(db)
    try:
        out = clip_call(store, call_id, output, at, before, after, channel.value)
    except ClipError as exc:
        fail(str(exc), 1)
    finally:
        store.close()
    console.print(t("cli.written", paths=out), markup=False)
