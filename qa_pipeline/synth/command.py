"""`callqa synth` -- the lead registers ``synth_command`` on the typer app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def synth_command(
    specs: Annotated[
        list[Path] | None, typer.Argument(help="Spec YAML files or folders (default: the built-in specs)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")] = Path("data_samples"),
    mono: Annotated[bool, typer.Option("--mono/--no-mono", help="Also write <stem>.mono.flac")] = False,
    seed: Annotated[int, typer.Option(help="Noise seed (rendering is deterministic per seed)")] = 0,
    clips_dir: Annotated[Path | None, typer.Option(help="Folder of real customer clips for `clip:` turns")] = None,
) -> None:
    """Render scripted dialogues into labelled stereo telephone calls (+ .truth.json, .transcript.json)."""
    from . import DEFAULT_CLIPS_DIR, builtin_specs, render_spec

    paths: list[Path] = []
    for p in specs or builtin_specs():
        paths += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    if not paths:
        raise typer.BadParameter("no spec files")
    clips = clips_dir or Path(os.environ.get("CALLQA_CLIPS_DIR", DEFAULT_CLIPS_DIR))
    for p in paths:
        audio = render_spec(p, out, mono=mono, seed=seed, customer_clips_dir=clips)
        typer.echo(str(audio))


if __name__ == "__main__":
    typer.run(synth_command)
