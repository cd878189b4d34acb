"""`callqa score` (a batch of recordings) and `callqa check` (one call, readable report)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..asr import ENGINES, AsrOptions
from ..asr.layout import worker_layout
from ..audio import IngestOptions
from ..i18n import t
from ..manifest import (
    CallJob,
    ManifestError,
    compile_name_pattern,
    discover_audio,
    input_problem,
    metadata_from_name,
    read_manifest,
)
from ..pipeline import PipelineOptions
from .app import app
from .console import console, err, fail

if TYPE_CHECKING:
    from ..batch import BatchSummary

EngineOpt = Annotated[str, typer.Option("--engine", "-e", help=t("cli.opt.engine", engines=", ".join(ENGINES)))]
ModelOpt = Annotated[str, typer.Option(help=t("cli.opt.model"))]
RubricOpt = Annotated[str, typer.Option(help=t("cli.opt.rubric"))]
AgentChannelOpt = Annotated[int, typer.Option(help=t("cli.opt.agent_channel"))]
TranscriptsOpt = Annotated[Path | None, typer.Option(help=t("cli.opt.transcripts"))]
BeamOpt = Annotated[int, typer.Option(help=t("cli.opt.beam_size"))]
DeviceOpt = Annotated[str, typer.Option(help=t("cli.opt.device"))]
RedactOpt = Annotated[bool, typer.Option(help=t("privacy.opt.redact"))]
RedactCategoriesOpt = Annotated[str | None, typer.Option(help=t("privacy.opt.categories"))]


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
    redact: bool = True,
    redact_categories: str | None = None,
) -> PipelineOptions:
    if engine not in ENGINES:
        raise typer.BadParameter(
            t("cli.engine.unknown", engine=engine, engines=", ".join(ENGINES)), param_hint="--engine"
        )
    if agent_channel not in (0, 1):
        raise typer.BadParameter(t("cli.agent_channel.bad"), param_hint="--agent-channel")
    asr = AsrOptions(
        engine=engine,
        model=model,
        transcripts_dir=transcripts,
        beam_size=beam_size,
        device=device,
        cpu_threads=threads,
        compute_type=compute_type,
    )
    from ..privacy import RedactOptions, parse_categories

    try:
        categories = parse_categories(redact_categories)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--redact-categories") from None
    return PipelineOptions(
        rubric=rubric,
        asr=asr,
        ingest=IngestOptions(agent_channel=agent_channel, max_duration_s=max_duration_h * 3600),
        redact=RedactOptions(enabled=redact, categories=categories),
    )


def _load_rubric_or_exit(name: str) -> None:
    from ..rubric import RubricError, load_rubric

    try:
        load_rubric(name)
    except RubricError as exc:
        fail(str(exc))


@app.command(help=t("cli.score.help"))
def score(
    inputs: Annotated[list[Path] | None, typer.Argument(help=t("cli.score.opt.inputs"))] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help=t("cli.score.opt.out"))] = Path("results"),
    manifest: Annotated[Path | None, typer.Option(help=t("cli.score.opt.manifest"))] = None,
    name_pattern: Annotated[str | None, typer.Option(help=t("cli.score.opt.name_pattern"))] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help=t("cli.score.opt.jobs"))] = 0,
    engine: EngineOpt = "faster-whisper",
    model: ModelOpt = "base",
    rubric: RubricOpt = "10086",
    agent_channel: AgentChannelOpt = 0,
    transcripts: TranscriptsOpt = None,
    beam_size: BeamOpt = 5,
    device: DeviceOpt = "cpu",
    compute_type: Annotated[str, typer.Option(help=t("cli.score.opt.compute_type"))] = "int8",
    threads: Annotated[int, typer.Option(help=t("cli.score.opt.threads"))] = 0,
    resume: Annotated[bool, typer.Option(help=t("cli.score.opt.resume"))] = True,
    db: Annotated[str | None, typer.Option(help=t("cli.score.opt.db"))] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help=t("cli.score.opt.no_db"))] = False,
    max_duration_h: Annotated[float, typer.Option("--max-duration", help=t("cli.score.opt.max_duration"))] = 4.0,
    redact: RedactOpt = True,
    redact_categories: RedactCategoriesOpt = None,
    time_budget_s: Annotated[float, typer.Option("--time-budget", help=t("privacy.opt.time_budget"))] = 3600.0,
    ray_address: Annotated[str | None, typer.Option("--ray", help=t("store.ray.opt.address"))] = None,
    ray_actors: Annotated[int | None, typer.Option("--ray-actors", min=1, help=t("store.ray.opt.actors"))] = None,
    ray_cpus: Annotated[float | None, typer.Option("--ray-cpus", min=0.0, help=t("store.ray.opt.cpus"))] = None,
    ray_gpus: Annotated[float, typer.Option("--ray-gpus", min=0.0, help=t("store.ray.opt.gpus"))] = 0.0,
) -> None:
    from ..batch import run_batch

    if not max_duration_h > 0:  # also NaN
        raise typer.BadParameter(t("privacy.max_duration.bad"), param_hint="--max-duration")
    if not time_budget_s >= 0:
        raise typer.BadParameter(t("privacy.time_budget.bad"), param_hint="--time-budget")

    _load_rubric_or_exit(rubric)
    jobs, threads = worker_layout(jobs, threads, device=device, engine=engine)  # measured: asr/layout.py
    ray_opts = None
    if ray_address:
        from ..executors.ray_pool import RayOptions

        ray_opts = RayOptions(
            address=ray_address,
            actors=ray_actors or jobs,
            num_cpus=float(threads) if ray_cpus is None else ray_cpus,
            num_gpus=ray_gpus,
        )
    options = _options(
        engine,
        model,
        rubric,
        agent_channel,
        transcripts,
        beam_size,
        device,
        threads,
        compute_type,
        max_duration_h,
        redact,
        redact_categories,
    )
    inputs = inputs or []
    if not inputs and not manifest:
        fail(t("cli.score.no_inputs"))
    try:
        call_jobs = _plan(inputs, manifest, name_pattern)
    except (ManifestError, ValueError) as exc:
        fail(str(exc))
    if not call_jobs:
        fail(t("cli.score.none_found", inputs=", ".join(map(str, inputs))))

    store = None
    if not no_db:
        from ..store import open_store
        from ..store.db import StoreURLError

        try:
            store = open_store(db or out / "callqa.db")
        except StoreURLError as exc:
            fail(str(exc))
    with Progress(
        TextColumn(f"[bold]{t('cli.score.progress')}"),
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
            progress.update(task, total=total, completed=done, description=escape(call_id))  # ids are not markup

        try:
            summary = run_batch(
                call_jobs,
                out,
                options,
                workers=jobs,
                resume=resume,
                store=store,
                time_budget_s=time_budget_s or None,
                progress=on_progress,
                ray=ray_opts,
            )
        except KeyboardInterrupt:
            err.print(f"[yellow]{t('cli.score.interrupted')}[/yellow]")
            raise typer.Exit(130) from None
        except RuntimeError as exc:
            from ..executors.ray_pool import RayUnavailable

            if not isinstance(exc, RayUnavailable):
                raise
            fail(str(exc))
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
            raise ValueError(t("cli.score.no_such_path", path=p))
    return [CallJob(p, metadata_from_name(p, pattern), input_problem(p)) for p in discover_audio(inputs)]


def _print_summary(summary: BatchSummary, out: Path) -> None:
    from rich.markup import escape

    from ..checks.registry import check_label

    tbl = Table(title=t("cli.summary.title"), show_header=False, title_justify="left")
    tbl.add_row(t("cli.summary.ok"), str(summary.ok))
    tbl.add_row(t("cli.summary.failed"), str(summary.failed))
    if summary.skipped:
        tbl.add_row(t("cli.summary.skipped"), str(summary.skipped))
    if summary.mean_score is not None:
        tbl.add_row(t("cli.summary.mean_score"), f"{summary.mean_score:.1f}%")
    if summary.speed:
        tbl.add_row(t("cli.summary.speed"), f"{summary.speed:.1f}×")
    if summary.violations:
        tbl.add_row(
            t("cli.summary.violations"),
            t("common.list_sep").join(f"{check_label(name)} ×{n}" for name, n in summary.violations.most_common(5)),
        )
    tbl.add_row(t("cli.summary.results"), f"{out}/calls/*.json, {out}/calls.csv")
    console.print(tbl)
    for call_id, error in summary.failures[:20]:
        err.print(f"[red]{t('cli.summary.call_failed')}[/red] {escape(call_id)}: {escape(error)}")


@app.command(help=t("cli.check.help"))
def check(
    recording: Annotated[Path, typer.Argument(help=t("cli.check.opt.recording"))],
    engine: EngineOpt = "faster-whisper",
    model: ModelOpt = "base",
    rubric: RubricOpt = "10086",
    agent_channel: AgentChannelOpt = 0,
    transcripts: TranscriptsOpt = None,
    beam_size: BeamOpt = 5,
    device: DeviceOpt = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help=t("cli.check.opt.json"))] = False,
    show_passed: Annotated[bool, typer.Option(help=t("cli.check.opt.show_passed"))] = False,
    redact: RedactOpt = True,
    redact_categories: RedactCategoriesOpt = None,
    db: Annotated[str | None, typer.Option("--db", help=t("cli.check.opt.db"))] = None,
) -> None:
    if db is not None:  # RECORDING is a call id: show the stored call, no re-scoring
        from .review import print_stored_call

        print_stored_call(str(recording), db, as_json=as_json, show_passed=show_passed)
        return
    from ..pipeline import score_call

    _load_rubric_or_exit(rubric)
    options = _options(
        engine,
        model,
        rubric,
        agent_channel,
        transcripts,
        beam_size,
        device,
        os.cpu_count() or 2,
        "int8",
        redact=redact,
        redact_categories=redact_categories,
    )
    result = score_call(recording, metadata_from_name(recording, None), options).to_json()
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        from .call_report import print_call_report

        print_call_report(result, console, show_passed=show_passed)
    if result["status"] != "ok":
        raise typer.Exit(1)
