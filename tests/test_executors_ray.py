"""Scoring on a local Ray instance: same results as the process pool; a killed actor loses nothing."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import real_clip, render_stereo

from qa_pipeline.asr import AsrOptions
from qa_pipeline.batch import call_path, run_batch
from qa_pipeline.manifest import CallJob, discover_audio, metadata_from_name
from qa_pipeline.pipeline import PipelineOptions

ray = pytest.importorskip("ray", reason="Ray is an optional extra (callqa[ray]); make install installs it")
from qa_pipeline.executors.ray_pool import NAMESPACE, RayOptions, start_local  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]
OPTIONS = PipelineOptions(asr=AsrOptions(engine="transcript"))
GREETINGS = ["您好，很高兴为您服务", "喂", "您好", "你好请讲", "您好，10086", "嗯", "您好，请问有什么可以帮您"]


def _write_call(folder: Path, stem: str, greeting: str) -> Path:
    agent = real_clip("funasr_asr_example_zh.wav")
    cust = real_clip("paddlespeech_zh.wav") * 3
    path = render_stereo(
        folder / f"{stem}.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("agent", 13.0, agent)], 20.0
    )
    utts = [
        {"speaker": "agent", "start": 0.5, "end": 6.0, "text": greeting},
        {"speaker": "customer", "start": 7.0, "end": 12.0, "text": "我想查一下这个月的话费"},
        {"speaker": "agent", "start": 13.0, "end": 18.5, "text": "请问还有什么可以帮您？感谢您的来电，再见"},
    ]
    (folder / f"{stem}.transcript.json").write_text(json.dumps({"utterances": utts}, ensure_ascii=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> list[CallJob]:
    d = tmp_path_factory.mktemp("ray") / "2026-11-22"
    d.mkdir()
    for i, g in enumerate(GREETINGS):
        _write_call(d, f"call{i:02d}", g)
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")  # bad input: recorded once
    return [CallJob(p, metadata_from_name(p, None)) for p in discover_audio([d])]


@pytest.fixture(scope="module")
def local_ray():
    start_local(2, namespace=NAMESPACE, log_to_driver=False)  # ray.init(num_cpus=2), retried on a busy machine
    yield
    ray.shutdown()


def _load(out: Path, jobs: list[CallJob]) -> dict[str, dict]:
    res = {}
    for j in jobs:
        data = json.loads(call_path(out, j.metadata.call_id).read_text(encoding="utf-8"))
        data.pop("timings", None)
        res[j.metadata.call_id] = data
    return res


def _driver(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`callqa …` as its own process, as on a cluster's head node (this test process may hold a Ray instance)."""
    return subprocess.run(
        [sys.executable, "-m", "qa_pipeline", *args], env=env, capture_output=True, text=True, timeout=600
    )


def _driver_env(**extra: str) -> dict[str, str]:
    """This environment without Ray's variables, with this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    return {**env, **extra}


def test_unreachable_cluster_is_a_clear_error(calls, tmp_path):
    # in a driver process of its own: after a failed Ray Client connection, Ray cannot start a local instance
    # in the same process (an assertion inside ray.init), which the other tests here need
    args = ["score", str(calls[0].path), "--engine", "transcript", "--out", str(tmp_path), "--ray", "ray://127.0.0.1:1"]
    r = _driver(args, _driver_env())
    assert r.returncode == 2 and "127.0.0.1:1" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr


def test_ray_and_process_pool_give_identical_results(calls, local_ray, tmp_path):
    pool_out, ray_out = tmp_path / "pool", tmp_path / "ray"
    a = run_batch(calls, pool_out, OPTIONS, workers=2)
    seen: list[dict] = []
    b = run_batch(calls, ray_out, OPTIONS, ray=RayOptions(address="local", actors=2), on_result=seen.append)
    assert (a.ok, a.failed) == (b.ok, b.failed) == (len(GREETINGS), 1)
    assert _load(pool_out, calls) == _load(ray_out, calls)
    assert sorted(r["call_id"] for r in seen) == sorted(j.metadata.call_id for j in calls)  # each call once
    # resume works the same way: nothing left to do but the bad input
    again = run_batch(calls, ray_out, OPTIONS, ray=RayOptions(address="local", actors=2))
    assert (again.skipped, again.ok, again.failed) == (len(GREETINGS), 0, 1)


def test_killing_an_actor_mid_batch_loses_nothing(calls, local_ray, tmp_path):
    out = tmp_path / "killed"
    killed: list[str] = []
    written: list[str] = []

    def progress(done: int, total: int, call_id: str) -> None:
        if not killed:  # after the first result: the other calls are queued or running
            names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "callqa-scorer" in a["name"]]
            victim = sorted(names)[0]
            ray.kill(ray.get_actor(victim, namespace=NAMESPACE), no_restart=False)
            killed.append(victim)

    s = run_batch(
        calls,
        out,
        OPTIONS,
        ray=RayOptions(address="local", actors=2),
        progress=progress,
        on_result=lambda r: written.append(r["call_id"]),
    )
    assert killed
    assert (s.ok, s.failed) == (len(GREETINGS), 1)
    assert sorted(written) == sorted(j.metadata.call_id for j in calls)  # no call lost, none twice
    assert _load(out, calls)["call03"]["status"] == "ok"


def test_cli_score_on_ray_with_progress_summary_and_db(calls, local_ray, tmp_path):
    from typer.testing import CliRunner

    from qa_pipeline.cli import app
    from qa_pipeline.store import open_store

    folder = calls[0].path.parent
    out = tmp_path / "cli"
    args = ["score", str(folder), "--engine", "transcript", "--out", str(out), "--ray", "local", "--ray-actors", "2"]
    args += ["--ray-cpus", "1", "--threads", "1"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output  # the corrupt file fails, as with the process pool
    assert "corrupt" in r.output
    store = open_store(out / "callqa.db")
    try:
        assert store.source_hashes().keys() == {j.metadata.call_id for j in calls}
    finally:
        store.close()


def test_actors_the_cluster_cannot_place_are_left_out(calls, local_ray, tmp_path):
    # 3 actors of 1 CPU on a 2-CPU instance: the third never starts; the batch runs on two
    opts = RayOptions(address="local", actors=3, num_cpus=1.0, start_grace=5.0)
    s = run_batch(calls[:3], tmp_path / "o", OPTIONS, ray=opts)
    assert s.ok + s.failed == 3


# ------------------------------------------------------------------ a cluster started the way a department runs one
def _ray_start(args: list[str], env: dict[str, str]) -> int:
    """`ray start …` in its own session; the daemons it leaves running share its process group, returned."""
    exe = str(Path(sys.executable).with_name("ray"))
    proc = subprocess.Popen(
        [exe, "start", *args], env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    return proc.pid


def _stop_group(pgid: int) -> None:
    """Stop one `ray start`'s daemons only (`ray stop` would stop every Ray instance on the machine)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)


@pytest.fixture(scope="module")
def token_cluster():
    """A two-node Ray cluster on this machine, started with `ray start` as docs/scaling.md tells operators:
    a head and a worker node of one CPU each, with Ray's token authentication on. The token is passed in the
    environment, so the operator's ~/.ray is never touched."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    # `ray start --head` records itself as this machine's latest cluster; put back what was there before
    latest = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    before = latest.read_bytes() if latest.exists() else None
    groups = []
    try:
        groups.append(_ray_start(["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false"], env))
        groups.append(_ray_start([f"--address=127.0.0.1:{port}", "--num-cpus=1"], env))
        yield f"127.0.0.1:{port}", token
    finally:
        for g in reversed(groups):
            _stop_group(g)
        if before is None:
            latest.unlink(missing_ok=True)
        else:
            latest.write_bytes(before)


def test_score_on_a_two_node_cluster_started_with_ray_start(calls, token_cluster, tmp_path):
    address, token = token_cluster
    folder = calls[0].path.parent
    # the operator gave the token but no mode: callqa joins in token mode, as `ray start` does on the head
    out = tmp_path / "cluster"
    args = ["score", str(folder), "--engine", "transcript", "--out", str(out), "--ray", address]
    args += ["--ray-actors", "2", "--ray-cpus", "1", "--threads", "1"]
    r = _driver(args, _driver_env(RAY_AUTH_TOKEN=token))
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]  # the corrupt file fails, as with the pool
    assert "corrupt" in r.stdout + r.stderr
    pool_out = tmp_path / "pool"
    run_batch(calls, pool_out, OPTIONS, workers=1)
    assert _load(out, calls) == _load(pool_out, calls)
    # without the token: one clear message that says what to do, no traceback
    r = _driver(args, _driver_env(RAY_AUTH_TOKEN_PATH=str(tmp_path / "no-token")))
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "RAY_AUTH_MODE=token" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr
