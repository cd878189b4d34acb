"""The one pair of consoles every command prints through, and the error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ..i18n import t

console = Console()
"""What the command produces (tables, reports): standard output."""
err = Console(stderr=True)
"""Errors, warnings and progress: standard error, so that stdout can be piped."""


def fail(message: str, code: int = 2, *, label: str = "cli.error") -> NoReturn:
    """Print `label: message` on stderr and exit with `code` (2: bad arguments, 1: the work failed)."""
    err.print(f"[red]{t(label)}[/red] {escape(message)}")
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]{t('cli.warning')}[/yellow] {escape(message)}")
