"""`callqa models` (what is installed), `models install|convert` (offline weights)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..i18n import t
from .app import app
from .console import console, fail

models_app = typer.Typer(help=t("cli.models.help"), invoke_without_command=True)
app.add_typer(models_app, name="models")


@models_app.callback()
def models_list(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand:
        return
    from ..asr import models

    tbl = Table(title=t("cli.models.title"))
    for col in ("engine", "model", "installed", "where", "detail", "how"):
        tbl.add_column(t("cli.models.col." + col))
    for row in models.status():
        tbl.add_row(
            row.engine, row.model, t("cli.yes" if row.installed else "cli.no"), row.path, row.detail, row.how_to_install
        )
    console.print(tbl)


def _model_step(step: str, name: str, force: bool) -> None:
    from ..asr import ModelNotInstalledError, models

    try:
        path = getattr(models, step)(name, force=force)
    except ModelNotInstalledError as exc:
        fail(str(exc), 1)
    console.print(f"[green]{t('cli.models.' + step + 'ed')}[/green] whisper-{name} → {path}")


@models_app.command("install", help=t("cli.models.install.help"))
def models_install(
    name: Annotated[str, typer.Argument()] = "base",
    force: Annotated[bool, typer.Option(help=t("cli.models.opt.force"))] = False,
) -> None:
    _model_step("install", name, force)


@models_app.command("convert", help=t("cli.models.convert.help"))
def models_convert(
    name: Annotated[str, typer.Argument()] = "base",
    force: Annotated[bool, typer.Option(help=t("cli.models.opt.force"))] = False,
) -> None:
    _model_step("convert", name, force)
