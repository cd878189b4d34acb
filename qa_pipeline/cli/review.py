"""Workstation commands: `callqa users`, `serve`, `review export / import`, and `check CALL_ID --db` (stored call)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..i18n import t
from .app import app
from .console import console, err, fail, warn
from .store import DEFAULT_DB, DbOpt, _dates, _open

if TYPE_CHECKING:
    from ..review.access import User
    from ..store import Store

users_app = typer.Typer(help=t("cli.users.help"), no_args_is_help=True)
review_app = typer.Typer(help=t("cli.review.help"), no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(review_app, name="review")

PASSWORD_ENV = "CALLQA_PASSWORD"


def _password(confirm: bool = True) -> str:
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    # the confirmation prompt's text given, not True: typer's own default is English ("Repeat for confirmation")
    again = t("cli.users.password_again") if confirm else False
    return typer.prompt(t("cli.users.password_prompt"), hide_input=True, confirmation_prompt=again)


@users_app.command("add", help=t("cli.users.add.help"))
def users_add(
    name: Annotated[str, typer.Argument(help=t("cli.users.opt.name"))],
    role: Annotated[str, typer.Option("--role", help=t("cli.users.opt.role"))],
    team: Annotated[str | None, typer.Option("--team", help=t("cli.users.opt.team"))] = None,
    agent_id: Annotated[str | None, typer.Option("--agent-id", help=t("cli.users.opt.agent_id"))] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    from ..review.users import UserError, create_user
    from ..store import open_store

    store = open_store(db)  # the first admin may be created before any call is imported
    try:
        user = create_user(store, name, role, _password(), team=team, agent_id=agent_id)
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
    console.print(t("cli.users.added", name=escape(user.username), role=t(f"web.role.{user.role}")))


@users_app.command("passwd", help=t("cli.users.passwd.help"))
def users_passwd(name: Annotated[str, typer.Argument(help=t("cli.users.opt.name"))], db: DbOpt = DEFAULT_DB) -> None:
    from ..review.users import UserError, set_password

    store = _open(db)
    try:
        set_password(store, name, _password())
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
    console.print(t("cli.users.password_set", name=escape(name)))


@users_app.command("list", help=t("cli.users.list.help"))
def users_list(db: DbOpt = DEFAULT_DB) -> None:
    from ..review.users import list_users

    store = _open(db)
    try:
        users = list_users(store)
    finally:
        store.close()
    tbl = Table(show_header=True)
    for col in ("name", "role", "team", "agent_id"):
        tbl.add_column(t(f"cli.users.col.{col}"))
    for u in users:
        tbl.add_row(escape(u.username), t(f"web.role.{u.role}"), escape(u.team or ""), escape(u.agent_id or ""))
    console.print(tbl)


@app.command("serve", help=t("cli.serve.help"))
def serve(
    db: DbOpt = DEFAULT_DB,
    host: Annotated[str | None, typer.Option("--host", help=t("cli.serve.opt.host"))] = None,
    port: Annotated[int | None, typer.Option("--port", help=t("cli.serve.opt.port"))] = None,
    settings: Annotated[Path | None, typer.Option("--settings", help=t("cli.serve.opt.settings"))] = None,
) -> None:
    import uvicorn

    from ..web import create_app, load_settings
    from ..web.settings import SettingsError

    store = _open(db)
    try:
        s = load_settings(db, settings, host=host, port=port)
    except SettingsError as exc:
        fail(str(exc))
    from ..review.users import list_users

    if not list_users(store):
        warn(t("cli.serve.no_users", db=db))
    err.print(t("cli.serve.listening", url=f"http://{s.host}:{s.port}"))
    uvicorn.run(create_app(s, store), host=s.host, port=s.port, log_level="warning")


def _user_named(store: Store, name: str | None) -> User:
    from ..review.users import list_users

    users = [u for u in list_users(store) if u.username == name] if name else []
    if not users:
        fail(t("cli.review.no_user", name=name or ""))
    if users[0].role not in ("reviewer", "supervisor", "admin"):
        fail(t("cli.review.not_reviewer", name=name or ""))
    return users[0]


@review_app.command("export", help=t("cli.review.export.help"))
def review_export(
    out: Annotated[Path, typer.Option("--out", "-o", help=t("cli.review.opt.out"))],
    db: DbOpt = DEFAULT_DB,
    date_from: Annotated[str | None, typer.Option("--from", help=t("cli.review.opt.from"))] = None,
    date_to: Annotated[str | None, typer.Option("--to", help=t("cli.review.opt.to"))] = None,
    call: Annotated[list[str] | None, typer.Option("--call", help=t("cli.review.opt.call"))] = None,
) -> None:
    from ..review.exchange import calls_between, export_rows, write_csv

    d0, d1 = _dates(date_from, date_to)
    store = _open(db)
    try:
        ids = calls_between(store, d0, d1, list(call or []))
        rows = export_rows(store, ids)
    finally:
        store.close()
    write_csv(rows, out)
    console.print(t("cli.review.exported", rows=len(rows), calls=len(ids), out=escape(str(out))))


@review_app.command("import", help=t("cli.review.import.help"))
def review_import(
    csv_file: Annotated[Path, typer.Argument(help=t("cli.review.opt.csv"))],
    as_user: Annotated[str, typer.Option("--as", help=t("cli.review.opt.as"))],
    db: DbOpt = DEFAULT_DB,
) -> None:
    from ..review.exchange import import_csv
    from ..review.service import ReviewError

    store = _open(db)
    try:
        user = _user_named(store, as_user)
        try:
            rep = import_csv(store, user, csv_file)
        except ReviewError as exc:
            fail(str(exc))
    finally:
        store.close()
    for e in rep.errors or []:
        err.print(f"[red]{t('cli.error')}[/red] {escape(e)}")
    console.print(
        t(
            "cli.review.imported",
            decisions=rep.decisions,
            manual=rep.manual,
            missed=rep.missed,
            unchanged=rep.unchanged,
            errors=len(rep.errors or []),
        )
    )
    if rep.errors:
        raise typer.Exit(1)


def print_stored_call(call_id: str, db: str, *, as_json: bool = False, show_passed: bool = False) -> None:
    """`callqa check CALL_ID --db DB`: the call page in the terminal, from the database (no re-scoring)."""
    import json

    from ..review.describe import clock, describe_finding
    from ..review.service import audit_for_call, load_call

    store = _open(db)
    try:
        data = load_call(store, call_id)
        log = audit_for_call(store, call_id) if data else []
    finally:
        store.close()
    if data is None:
        fail(t("cli.check.no_call", call_id=call_id, db=db), 1)
    fs = data.final()
    c = data.call
    if as_json:
        sc = fs.scale
        print(
            json.dumps(
                {
                    "call_id": call_id,
                    "agent_id": c.get("agent_id"),
                    "agent_name": c.get("agent_name"),
                    "team": c.get("team"),
                    "started_at": c.get("started_at"),
                    "final": {
                        "total": sc.total,
                        "max": sc.max_points,
                        "auto": sc.auto_score,
                        "auto_max": sc.auto_points,
                        "auto_pct": sc.auto_pct,
                        "manual": sc.manual_score,
                        "manual_max": sc.manual_points,
                        "verdict": sc.verdict,
                    },
                    "machine": {
                        "total": fs.machine.total,
                        "auto": fs.machine.auto_score,
                        "auto_max": fs.machine.auto_points,
                        "auto_pct": fs.machine.auto_pct,
                        "verdict": fs.machine.verdict,
                    },
                    "items": [
                        {
                            "id": i.id,
                            "title": i.title,
                            "points": i.points,
                            "deduction": i.deduction,
                            "status": i.status,
                            "source": i.source,
                        }
                        for i in fs.items
                    ],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    from ..web.app import score_text

    console.rule(f"[bold]{escape(call_id)}[/bold]")
    console.print(
        escape(
            t(
                "cli.check.stored_header",
                agent=c.get("agent_name") or "",
                agent_id=c.get("agent_id") or "",
                team=c.get("team") or "—",
                started=(c.get("started_at") or "")[:16].replace("T", " "),
                duration=clock(c.get("duration_s")),
            )
        )
    )
    for label, sc in ((t("web.call.final"), fs.scale), (t("web.call.machine"), fs.machine)):
        s = score_text(sc)
        console.print(
            escape(
                t(
                    "cli.check.score_line",
                    label=label,
                    total=s["total"],
                    auto=s["auto"],
                    pct=s["pct"],
                    manual=s["manual"],
                    verdict=s["verdict"],
                )
            )
        )
    tbl = Table(title=t("cli.check.items"), title_justify="left")
    for col in ("item", "points", "deduction", "findings"):
        tbl.add_column(t(f"cli.check.col.{col}"))
    findings = [f.finding for f in data.findings]
    from ..review.final import attach

    att = {a.finding_index: a for a in attach(data.decisions, findings) if a.finding_index is not None}
    for item, fi in zip(data.rubric.items, fs.items, strict=True):
        lines = []
        for i, f in enumerate(findings):
            if f.status in ("fail", "needs_review") and any(b.selects(f) for b in item.bindings):
                a = att.get(i)
                mark = "" if a is None else f" [{t('web.decision.' + a.decision.decision)}]"
                lines.append(describe_finding(f.check, f.start, f.end, f.evidence, f.detail) + mark)
        lines += [
            f"{t('web.call.missed')} {clock(a.start)} −{a.deduction:g} {a.comment}"
            for a in data.added
            if a.item_id == item.id
        ]
        if not lines and fi.deduction == 0 and not fi.pending and not show_passed:
            continue
        ded = t("web.score.pending") if fi.pending else (f"−{fi.deduction:g}" if fi.deduction else "0")
        tbl.add_row(escape(item.title), f"{item.points:g}", ded, escape("\n".join(lines)))
    console.print(tbl)
    if fs.conflicts:
        warn(t("web.call.conflicts", n=len(fs.conflicts)))
    if data.review and data.review.get("comment"):
        console.print(escape(f"{t('web.call.review_comment')}：{data.review['comment']}"))
    console.print(f"[dim]{escape(t('cli.check.audit_count', n=len(log)))}[/dim]")
