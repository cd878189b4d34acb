"""Score calls on Ray: a pool of actors (`ray.util.ActorPool`), each loading the ASR model once.

* ``address``: ``local`` starts a Ray instance on this machine (stopped again afterwards); ``auto`` joins the
  cluster this node belongs to (``ray start``); ``head:6379`` joins that cluster's GCS; ``ray://head:10001``
  joins through Ray Client. When this process already called ``ray.init`` (tests, notebooks) that instance is
  used as it is. Clusters with Ray's token authentication are joined in token mode (`_join_with_token`).
* Calls are streamed: at most two per actor are in flight, the rest of the job list stays in the driver
  (a manifest of tens of thousands of rows is never shipped to the workers); results come back as they
  finish and go to the same writer as the process pool (atomic per-call JSON, database upsert).
* A worker that dies mid-call costs a retry, not a call: the actors are restartable and Ray re-runs the
  interrupted method on the restarted actor (``max_restarts`` / ``max_task_retries``). If Ray gives up, the
  call goes round once more in a later wave, and after `max_attempts` it is recorded as failed with the
  reason. A call that fails as bad input is an ordinary failed result: it is recorded once, never retried.
  Nothing is written twice: each call's result is taken from the first attempt that returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..i18n import language
from ..manifest import CallJob
from ..pipeline import PipelineOptions
from ..result import CallResult
from ..safe import first_line

NAMESPACE = "callqa"


@dataclass(frozen=True)
class RayOptions:
    address: str = "local"  # local | auto | host:6379 | ray://host:10001
    actors: int = 2  # actors in the pool (CPU workers, or GPU workers with num_gpus)
    num_cpus: float = 1.0  # CPUs reserved per actor (the model's CPU threads are PipelineOptions.asr.threads)
    num_gpus: float = 0.0  # GPUs per actor (scoring with --device cuda)
    max_restarts: int = 3  # Ray restarts of a dead actor
    max_attempts: int = 3  # waves in which a call whose worker died is tried again
    start_timeout: float = 600.0  # seconds to wait for the first actor (model loaded)
    start_grace: float = 60.0  # then for the others; those not up by then are left out


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached (message from the catalog)."""


# load(options) -> what a worker holds (rubric, loaded engine, time budget); score(job, held) -> result JSON
LoadFn = Callable[[PipelineOptions], Any]
ScoreFn = Callable[[CallJob, Any], dict[str, Any]]


class _Actor:
    """One actor: what `load` returned (the loaded model, the rubric) lives here for the actor's lifetime."""

    def __init__(self, options: PipelineOptions, load: LoadFn, score: ScoreFn, lang: str | None = None):
        from ..i18n import set_language

        set_language(lang)  # failure reasons in the driver's language (--lang)
        self.held = load(options)  # the ASR model is loaded once, before the first call
        self.score_fn = score

    def score(self, index: int, job: CallJob) -> tuple[int, dict[str, Any]]:
        return index, self.score_fn(job, self.held)

    def pid(self) -> int:
        return os.getpid()


def _connect(opts: RayOptions) -> bool:
    """ray.init as `opts.address` asks; returns True when this call started Ray (and must shut it down)."""
    from ..i18n import t

    if opts.address != "local":
        _join_with_token()  # before Ray is imported: Ray reads the mode when its configuration loads
    try:
        import ray
    except ImportError:
        raise RayUnavailable(t("store.ray.missing")) from None
    if ray.is_initialized():
        return False
    common: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False, "configure_logging": False}
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    try:
        if opts.address == "local":
            start_local(opts.actors * opts.num_cpus, opts.actors * opts.num_gpus, **common)
        else:
            ray.init(address=opts.address, **common)
    except Exception as exc:  # noqa: BLE001 - unreachable cluster, bad address: one clear message
        if _is_auth_failure(exc):
            raise RayUnavailable(t("store.ray.auth", address=opts.address)) from None
        raise RayUnavailable(t("store.ray.cannot_connect", address=opts.address, reason=first_line(exc))) from None
    return True


def _join_with_token() -> None:
    """Since Ray 2.5x `ray start --head` turns on token authentication whenever a token exists on the head
    (~/.ray/auth_token, created by the first local instance). A process that *joins* by address does not turn
    it on by itself, so it is refused with InvalidAuthToken. When the operator chose no mode (RAY_AUTH_MODE
    unset) and a token is at hand, join in token mode, as `ray start` does on that machine; a client in token
    mode also joins a cluster without authentication. This must run before `ray` is imported in this process:
    Ray reads RAY_AUTH_MODE into its configuration then."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token")).expanduser()
    if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _is_auth_failure(exc: BaseException) -> bool:
    """Ray reports a missing or wrong token as AuthenticationError, sometimes only as the cause of a
    ConnectionError; the message names InvalidAuthToken in either case."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def start_local(num_cpus: float, num_gpus: float = 0.0, attempts: int = 3, **kwargs: Any) -> None:
    """ray.init of a private instance on this machine. Ray waits a fixed 30 s for its raylet to register;
    on a machine whose cores are busy with other work that can pass, so the start is tried again.
    `address="local"`: a bare ray.init() would join the cluster that `ray start` last left on this machine
    (RAY_ADDRESS, /tmp/ray/ray_current_cluster) and refuse the CPU counts given here."""
    import ray

    for attempt in range(attempts):
        try:
            ray.init(
                address="local",
                num_cpus=max(1, int(round(num_cpus))),
                num_gpus=int(num_gpus + 0.999),
                include_dashboard=False,
                **kwargs,
            )
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts - 1:
                raise


def make_actors(options: PipelineOptions, opts: RayOptions, load: LoadFn, score: ScoreFn) -> list[Any]:
    """Start the actors and wait until they are up (model loaded). An actor the cluster cannot place (not
    enough CPUs/GPUs free) would never answer: after `opts.start_grace` seconds the pool goes on with
    the actors that are up, and only when none comes up within `opts.start_timeout` is it an error."""
    import ray

    from ..i18n import t

    cls: Any = ray.remote(
        num_cpus=opts.num_cpus,
        num_gpus=opts.num_gpus,
        max_restarts=opts.max_restarts,
        max_task_retries=opts.max_restarts,
    )(_Actor)  # an actor class (typed loosely: Ray's stubs do not describe .options(...).remote)
    # named, so that an operator (or a test) can find and kill one; unique per batch
    tag = os.urandom(4).hex()
    actors: list[Any] = [
        cls.options(name=f"callqa-scorer-{tag}-{i}").remote(options, load, score, language())
        for i in range(opts.actors)
    ]
    probes = {a.pid.remote(): a for a in actors}
    ready, _ = ray.wait(list(probes), num_returns=1, timeout=opts.start_timeout)
    if ready and len(actors) > 1:
        ready, _ = ray.wait(list(probes), num_returns=len(actors), timeout=opts.start_grace)
    up = []
    for ref in ready:
        try:
            ray.get(ref)
            up.append(probes[ref])
        except Exception:  # noqa: BLE001 - an actor that failed to start is left out
            pass
    for a in actors:
        if a not in up:
            ray.kill(a, no_restart=True)
    if not up:
        raise RayUnavailable(t("store.ray.no_actor", address=opts.address, cpus=opts.num_cpus, gpus=opts.num_gpus))
    return up


def ray_results(
    todo: Sequence[CallJob], options: PipelineOptions, opts: RayOptions, load: LoadFn, score: ScoreFn
) -> Iterator[dict[str, Any]]:
    """Yield one result per job (in completion order): `score(job, held)` on a Ray actor pool whose actors
    each ran `held = load(options)` once (rubric and model loading)."""
    if not todo:
        return
    started = _connect(opts)
    import ray
    from ray.util import ActorPool

    actors: list[Any] = []
    try:
        actors = make_actors(options, opts, load, score)
        pool = ActorPool(actors)
        done: set[int] = set()
        wave = list(range(len(todo)))
        for attempt in range(1, opts.max_attempts + 1):
            errors: list[str] = []
            queue = iter(wave)
            in_flight = 0
            for index in queue:  # a bounded backlog: the job list is streamed, not shipped at once
                pool.submit(lambda a, i: a.score.remote(i, todo[i]), index)
                in_flight += 1
                if in_flight >= 2 * len(actors):
                    yield from _take(pool, done, errors)
                    in_flight -= 1
            while in_flight:
                yield from _take(pool, done, errors)
                in_flight -= 1
            wave = [i for i in wave if i not in done]
            if not wave:
                return
            if attempt < opts.max_attempts:  # an actor died for good: a fresh pool for the next wave
                for a in actors:
                    ray.kill(a, no_restart=True)
                actors = make_actors(options, opts, load, score)
                pool = ActorPool(actors)
            else:
                from ..i18n import t

                for i in wave:
                    job = todo[i]
                    reason = errors[-1] if errors else "?"
                    msg = t("store.ray.lost_call", call_id=job.metadata.call_id, reason=reason)
                    yield CallResult(job.metadata.call_id, "failed", job.metadata, error=msg).to_json()
    finally:
        for a in actors:
            ray.kill(a, no_restart=True)
        if started:
            ray.shutdown()


def _take(pool: Any, done: set[int], errors: list[str]) -> Iterator[dict[str, Any]]:
    """The next finished call; a call whose actor died for good leaves `done` unchanged (tried again)."""
    from ray.exceptions import RayError

    try:
        index, result = pool.get_next_unordered()
    except RayError as exc:
        errors.append(first_line(exc))
        return
    if index in done:  # a retried call already returned: never written twice
        return
    done.add(index)
    yield result
