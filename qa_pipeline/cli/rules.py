"""`callqa rules test RULE.yaml --db DB` and `callqa rescore --db DB --rubric R` (the work is in
`qa_pipeline.rules.trial` and `qa_pipeline.rescore`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..i18n import t
from ..judge_pool import default_workers
from .app import app
from .console import console, err, fail
from .store import (  # one --db / --from / --to for every database command
    DEFAULT_DB,
    DbOpt,
    FromOpt,
    ToOpt,
    _dates,
    _open,
)

rules_app = typer.Typer(help=t("rules.help"), no_args_is_help=True)
app.add_typer(rules_app, name="rules")


TeamOpt = Annotated[str | None, typer.Option("--team", help=t("rules.opt.team"))]
AgentOpt = Annotated[str | None, typer.Option("--agent", help=t("rules.opt.agent"))]
WorkersOpt = Annotated[int | None, typer.Option("--workers", "-j", min=1, help=t("rules.opt.workers"))]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


@rules_app.command("test", help=t("rules.test.help"))
def rules_test(
    rule_file: Annotated[Path, typer.Argument(help=t("rules.opt.rule_file"))],
    db: DbOpt = DEFAULT_DB,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    team: TeamOpt = None,
    agent: AgentOpt = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help=t("rules.opt.examples"))] = 10,
    workers: WorkersOpt = None,
) -> None:
    from ..rules.loader import RuleError, load_rule_file
    from ..rules.trial import run_trial
    from ..store.filters import CallFilter

    try:
        rules = load_rule_file(rule_file)
    except RuleError as exc:
        fail(str(exc), 1, label="rules.invalid")
    store = _open(db)
    try:
        with _progress() as bar:
            task = bar.add_task(str(rule_file.name), total=None)
            report = run_trial(
                store,
                rules,
                CallFilter(*_dates(date_from, date_to), team=team, agent=agent),
                max_examples=examples,
                workers=workers or default_workers(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    if report.calls == 0 and not report.no_timeline:
        console.print(t("rules.no_calls"))
        return
    for tr in report.rules:
        console.print(
            t(
                "rules.summary",
                rule=tr.rule.id,
                kind=t(f"rules.kind.{tr.rule.kind}"),
                calls=tr.total.calls,
                hits=tr.total.hits,
                rate=f"{tr.total.rate:.1%}",
                occurrences=tr.occurrences,
            )
        )
        if tr.needs_review:
            console.print(t("rules.needs_review", n=tr.needs_review))
        for title, col, groups in (
            (t("rules.by_team"), t("rules.col.team"), tr.by_team),
            (t("rules.by_agent"), t("rules.col.agent"), tr.by_agent),
        ):
            table = Table(title=title, title_justify="left")
            for c in (col, t("rules.col.calls"), t("rules.col.hits"), t("rules.col.rate")):
                table.add_column(c)
            ranked = sorted(groups.items(), key=lambda kv: (-kv[1].rate, kv[0]))
            for name, tally in ranked[:20]:
                label = escape(name) if name else t("rules.not_recorded")
                table.add_row(label, str(tally.calls), str(tally.hits), f"{tally.rate:.1%}")
            console.print(table)
        if tr.examples:
            table = Table(title=t("rules.examples"), title_justify="left")
            for c in ("call", "agent", "time", "role", "evidence"):
                table.add_column(t(f"rules.col.{c}"))
            for ex in tr.examples:
                table.add_row(
                    ex.call_id,
                    ex.agent_id or "",
                    "" if ex.start is None else f"{ex.start:.1f}s",
                    t(f"speaker.{ex.speaker}") if ex.speaker else "",
                    escape(ex.evidence[:60]),
                )
            console.print(table)
    if report.no_timeline:
        console.print(t("rules.no_timeline", n=report.no_timeline))
    console.print(t("rules.speed", seconds=report.seconds, rate=report.calls / max(report.seconds, 1e-9)))


@app.command("rescore", help=t("rescore.help"))
def rescore_command(
    rubric: Annotated[str, typer.Option("--rubric", help=t("rescore.opt.rubric"))],
    db: DbOpt = DEFAULT_DB,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    agent: AgentOpt = None,
    team: TeamOpt = None,
    force: Annotated[bool, typer.Option("--force", help=t("rescore.opt.force"))] = False,
    full: Annotated[bool, typer.Option("--full", help=t("rescore.opt.full"))] = False,
    workers: WorkersOpt = None,
) -> None:
    from ..rescore import rescore, rubric_sha256
    from ..rubric import RubricError, load_rubric
    from ..store.filters import CallFilter

    try:
        rub = load_rubric(rubric)
    except RubricError as exc:
        fail(str(exc), 1, label="cli.rubric.invalid")
    console.print(t("rescore.rubric", rubric=rub.id, version=rub.version, sha=rubric_sha256(rub)[:12]))
    store = _open(db)
    try:
        with _progress() as bar:
            task = bar.add_task(t("rescore.progress"), total=None)
            report = rescore(
                store,
                rub,
                CallFilter(*_dates(date_from, date_to), team=team, agent=agent),
                force=force,
                full=full,
                workers=workers or default_workers(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    console.print(
        t(
            "rescore.summary",
            selected=report.selected,
            rescored=report.rescored,
            done=report.already_done,
            changed=report.changed,
            seconds=report.seconds,
            rate=report.rescored / max(report.seconds, 1e-9),
        )
    )
    if report.no_timeline:
        console.print(t("rules.no_timeline", n=len(report.no_timeline)))
