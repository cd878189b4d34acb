"""A batch SIGKILLed at random points, several times, then resumed: every call exactly once in the JSON folder,
calls.csv and the database (issue 15)."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import real_clip, render_stereo

from qa_pipeline.store import open_store

REPO = Path(__file__).resolve().parents[1]
N_CALLS = 8


def _day(tmp_path: Path) -> Path:
    day = tmp_path / "day"
    day.mkdir()
    agent = real_clip("funasr_asr_example_zh.wav")
    cust = real_clip("paddlespeech_zh.wav") * 3
    template = render_stereo(
        tmp_path / "t.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("agent", 13.0, agent)], 20.0
    )
    for i in range(N_CALLS):
        shutil.copyfile(template, day / f"call{i:02d}.wav")
        utts = [
            {"speaker": "agent", "start": 0.5, "end": 6.0, "text": "您好，很高兴为您服务"},
            {"speaker": "customer", "start": 7.0, "end": 12.0, "text": f"我的号码是1381234{i:04d}"},
            {"speaker": "agent", "start": 13.0, "end": 18.5, "text": "感谢您的来电，再见"},
        ]
        (day / f"call{i:02d}.transcript.json").write_text(json.dumps({"utterances": utts}, ensure_ascii=False))
    return day


def _score(day: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "qa_pipeline", "score", str(day), "-o", str(out), "--engine", "transcript", "-j", "2"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_keeps_every_call_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(15)
    day, out = _day(tmp_path), tmp_path / "out"
    calls = out / "calls"
    for _ in range(3):
        proc = _score(day, out)
        before = len(list(calls.glob("*.json"))) if calls.exists() else 0
        target = before + rng.randint(0, 3)
        deadline = time.monotonic() + rng.uniform(3.0, 40.0)
        while time.monotonic() < deadline and proc.poll() is None:
            if calls.exists() and len(list(calls.glob("*.json"))) >= target and rng.random() < 0.5:
                break
            time.sleep(rng.uniform(0.01, 0.2))
        # A batch that already finished has no process group left to kill. While poll() says it runs, the
        # unreaped leader keeps the group alive, so the kill cannot race its exit.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers, mid-write or not
        proc.wait()
    final = _score(day, out)
    _, errors = final.communicate(timeout=600)
    assert final.returncode == 0, errors.decode(errors="replace")[-2000:]

    ids = [json.loads(f.read_text(encoding="utf-8"))["call_id"] for f in calls.glob("*.json")]
    assert sorted(ids) == [f"call{i:02d}" for i in range(N_CALLS)]
    with open(out / "calls.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["call_id"] for r in rows) == sorted(ids) and all(r["status"] == "ok" for r in rows)
    store = open_store(out / "callqa.db")
    try:
        with store.read() as conn:
            db_ids = [r[0] for r in conn.execute(sa.text("select call_id from calls"))]
    finally:
        store.close()
    assert sorted(db_ids) == sorted(ids)
    assert not list(out.rglob("*.tmp"))
