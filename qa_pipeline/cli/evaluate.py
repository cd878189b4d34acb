"""`callqa eval`: accuracy of a results folder against labelled ground truth."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..i18n import t
from .app import app
from .console import console, err, fail


class EvalFormat(str, Enum):
    markdown = "markdown"
    json = "json"
    none = "none"


@app.command("eval", help=t("cli.eval.help"))
def eval_command(
    results_dir: Annotated[Path | None, typer.Argument(help=t("cli.eval.opt.results"))] = None,
    truth: Annotated[Path, typer.Option("--truth", help=t("cli.eval.opt.truth"))] = Path("data_samples"),
    out: Annotated[Path | None, typer.Option("--out", help=t("cli.eval.opt.out"))] = None,
    fmt: Annotated[EvalFormat, typer.Option("--format", help=t("cli.eval.opt.format"))] = EvalFormat.markdown,
    tolerance: Annotated[float, typer.Option("--tolerance", help=t("cli.eval.opt.tolerance"))] = 1.0,
    reviews: Annotated[bool, typer.Option("--reviews", help=t("loop.acc.cli.opt.reviews"))] = False,
    db: Annotated[str | None, typer.Option("--db", help=t("cli.store.opt.db"))] = None,
    date_from: Annotated[str | None, typer.Option("--from", help=t("cli.store.opt.from"))] = None,
    date_to: Annotated[str | None, typer.Option("--to", help=t("cli.store.opt.to"))] = None,
    team: Annotated[str | None, typer.Option("--team", help=t("loop.acc.cli.opt.team"))] = None,
) -> None:
    if reviews:  # machine accuracy learned from reviews in the results database (issue 11)
        _eval_reviews(db, date_from, date_to, team, fmt)
        return
    if results_dir is None:
        fail(t("loop.acc.cli.need_results"))
    from ..evaluate import evaluate, to_markdown, write_report

    try:
        rep = evaluate(results_dir, truth, tolerance_s=tolerance)
    except FileNotFoundError as exc:
        fail(str(exc))
    if not rep.calls:
        fail(t("cli.eval.no_calls", results=results_dir, truth=truth))
    j, m = write_report(rep, out or results_dir / "eval")
    if fmt is EvalFormat.markdown:
        console.print(to_markdown(rep), markup=False, highlight=False, soft_wrap=True)
    elif fmt is EvalFormat.json:
        console.print(
            json.dumps(rep.to_json(), ensure_ascii=False, indent=1), markup=False, highlight=False, soft_wrap=True
        )
    err.print(t("cli.eval.wrote", json=j, md=m), markup=False, highlight=False)


def _eval_reviews(
    db: str | None, date_from: str | None, date_to: str | None, team: str | None, fmt: EvalFormat
) -> None:
    from ..review.describe import check_label
    from ..review.machine_accuracy import machine_accuracy, to_markdown
    from ..review.service import DEFAULT_RUBRIC, rubric_named
    from .store import _dates, _open

    if not db:
        fail(t("loop.acc.cli.need_db"))
    d0, d1 = _dates(date_from, date_to)
    store = _open(db)
    try:
        rep = machine_accuracy(
            store,
            rubric_named(DEFAULT_RUBRIC),
            date_from=d0,
            date_to=d1,
            team=team,
            check_label=check_label,
        )
    finally:
        store.close()
    if fmt is EvalFormat.json:
        console.print(
            json.dumps(rep.to_json(), ensure_ascii=False, indent=1), markup=False, highlight=False, soft_wrap=True
        )
    elif fmt is EvalFormat.markdown:
        console.print(to_markdown(rep), markup=False, highlight=False, soft_wrap=True)
