"""The `callqa` typer application and its global options; command modules register on `app`."""

from __future__ import annotations

import warnings
from typing import Annotated

import typer

from .. import __version__
from ..i18n import LANGUAGES, set_language, t
from . import frame
from .console import console

# jieba 0.42 imports pkg_resources, which warns on every run; nothing a callqa user can act on
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

frame.install()  # click's and typer's own words (Usage, Options, Invalid value …) from the catalog

app = typer.Typer(
    help=t("cli.app.help"),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"callqa {__version__}")
        raise typer.Exit()


def _lang(value: str | None) -> str | None:
    if value is not None and value not in LANGUAGES:
        raise typer.BadParameter(t("cli.lang.bad", lang=value, choices=", ".join(LANGUAGES)))
    # always set (None = back to CALLQA_LANG / zh): one process may run several commands (tests)
    set_language(value)
    frame.refresh()
    return value


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=t("cli.opt.version"))
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option("--lang", callback=_lang, is_eager=True, help=t("cli.opt.lang"), metavar="zh|en"),
    ] = None,
) -> None:
    """callqa — offline QA scoring of Mandarin call-centre recordings."""
