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
    results_dir: Annotated[Path, typer.Argument(help=t("cli.eval.opt.results"))],
    truth: Annotated[Path, typer.Option("--truth", help=t("cli.eval.opt.truth"))] = Path("data_samples"),
    out: Annotated[Path | None, typer.Option("--out", help=t("cli.eval.opt.out"))] = None,
    fmt: Annotated[EvalFormat, typer.Option("--format", help=t("cli.eval.opt.format"))] = EvalFormat.markdown,
    tolerance: Annotated[float, typer.Option("--tolerance", help=t("cli.eval.opt.tolerance"))] = 1.0,
) -> None:
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
