"""`callqa synth`: render scripted dialogues into labelled example calls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import yaml

from ..i18n import t
from ..safe import first_line
from .app import app
from .console import console, warn


@app.command("synth", help=t("cli.synth.help"))
def synth_command(
    specs: Annotated[list[Path] | None, typer.Argument(help=t("cli.synth.opt.specs"))] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help=t("cli.synth.opt.out"))] = Path("data_samples"),
    mono: Annotated[bool, typer.Option("--mono/--no-mono", help=t("cli.synth.opt.mono"))] = False,
    seed: Annotated[int, typer.Option(help=t("cli.synth.opt.seed"))] = 0,
    clips_dir: Annotated[Path | None, typer.Option(help=t("cli.synth.opt.clips_dir"))] = None,
) -> None:
    from ..synth import builtin_specs, render_spec

    paths: list[Path] = []
    for p in specs or builtin_specs():
        paths += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    if not paths:
        raise typer.BadParameter(t("cli.synth.no_specs"))
    env_clips = os.environ.get("CALLQA_CLIPS_DIR")
    clips = clips_dir or (Path(env_clips) if env_clips else None)
    failed = 0
    for p in paths:
        try:
            audio = render_spec(p, out, mono=mono, seed=seed, customer_clips_dir=clips)
        except (ValueError, OSError, yaml.YAMLError) as exc:  # a bad script is named; the others still render
            warn(t("cli.synth.bad_spec", file=p, reason=first_line(exc)))
            failed += 1
            continue
        console.print(str(audio), markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
