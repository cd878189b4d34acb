"""`callqa rubric show|validate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..i18n import t
from .app import app
from .console import console, fail

rubric_app = typer.Typer(help=t("cli.rubric.help"), no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")


@rubric_app.command("show", help=t("cli.rubric.show.help"))
def rubric_show(name: Annotated[str, typer.Argument(help=t("cli.rubric.opt.name"))] = "10086") -> None:
    from ..rubric import RubricError, find_rubric

    try:
        sys.stdout.write(find_rubric(name).read_text(encoding="utf-8"))
    except RubricError as exc:
        fail(str(exc))


@rubric_app.command("validate", help=t("cli.rubric.validate.help"))
def rubric_validate(path: Annotated[str, typer.Argument(help=t("cli.rubric.opt.path"))] = "-") -> None:
    from ..rubric import RubricError, load_rubric, parse_rubric

    try:
        rub = parse_rubric(_stdin_text(), "<stdin>", Path.cwd()) if path == "-" else load_rubric(path)
    except RubricError as exc:
        fail(str(exc), 1, label="cli.rubric.invalid")
    manual = sum(1 for i in rub.items if i.manual)
    console.print(
        f"[green]{t('cli.rubric.valid')}[/green] "
        + t(
            "cli.rubric.valid_detail",
            id=rub.id,
            version=rub.version,
            items=len(rub.items),
            manual=manual,
            points=f"{rub.max_points:g}",
            checks=len(rub.check_names),
        )
    )
    if rub.rules:
        console.print(t("rubric.valid_rules", n=len(rub.rules), ids=", ".join(r.id for r in rub.rules)))


def _stdin_text() -> str:
    """Standard input as text: UTF-8, else GBK (a rubric saved by a Chinese Windows editor)."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")
