"""Clip cutting on a generated stereo WAV, via the API and the CLI (clip, search --export-clips)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import typer
from fixtures_store import make_result
from typer.testing import CliRunner

from qa_pipeline.cli.store import clip_command, search_command
from qa_pipeline.store import open_store
from qa_pipeline.store.clip import ClipError, clip_call, cut_clip

SR = 8000


@pytest.fixture()
def call_db(tmp_path):
    n = SR * 120
    t = np.arange(n) / SR
    left = (0.1 * np.sin(2 * np.pi * 440 * t)).astype("float32")  # agent
    right = (t / 120.0).astype("float32")  # customer: a ramp, value encodes the time
    wav = tmp_path / "audio" / "k1.wav"
    wav.parent.mkdir()
    sf.write(wav, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    db = tmp_path / "callqa.db"
    store = open_store(db)
    store.upsert_call(
        make_result(
            "k1",
            "A001",
            "2026-11-03T09:00:00+08:00",
            60.0,
            {},
            audio_path="audio/k1.wav",
            utterances=[("agent", 63.2, 66.0, "这个我不知道")],
        )
    )
    store.close()
    return db, wav


def test_cut_clip_channels(call_db, tmp_path):
    db, wav = call_db
    out = cut_clip(wav, tmp_path / "a.wav", at=63.2, before=5, after=10, channel="customer")
    data, sr = sf.read(out, always_2d=True)
    assert sr == SR and data.shape == (15 * SR, 1)
    assert data[0, 0] == pytest.approx(58.2 / 120, abs=1e-3) and data[-1, 0] == pytest.approx(73.2 / 120, abs=1e-3)
    both, _ = sf.read(cut_clip(wav, tmp_path / "b.wav", at=2.0, before=5, after=1), always_2d=True)
    assert both.shape == (3 * SR, 2)  # clamped at the start of the file
    agent, _ = sf.read(cut_clip(wav, tmp_path / "c.wav", at=119, before=1, after=10, channel="agent"), always_2d=True)
    assert agent.shape == (2 * SR, 1) and np.abs(agent).max() == pytest.approx(0.1, abs=1e-3)
    with pytest.raises(ClipError):
        cut_clip(tmp_path / "missing.wav", tmp_path / "d.wav", at=1)


def test_clip_call_resolves_relative_path(call_db, tmp_path):
    db, _ = call_db
    store = open_store(db)
    out = clip_call(store, "k1", tmp_path / "x.wav", at=63.2, before=1, after=1, channel="both")
    assert sf.info(out).frames == 2 * SR
    with pytest.raises(ClipError):
        clip_call(store, "nope", tmp_path / "y.wav", at=1)
    store.close()


def test_clip_and_export_clips_cli(call_db, tmp_path):
    db, _ = call_db
    app = typer.Typer()
    app.command("clip")(clip_command)
    app.command("search")(search_command)
    out = tmp_path / "cli.wav"
    r = CliRunner().invoke(
        app,
        [
            "clip",
            "k1",
            "--at",
            "63.2",
            "--before",
            "5",
            "--after",
            "10",
            "--channel",
            "agent",
            "-o",
            str(out),
            "--db",
            str(db),
        ],
    )
    assert r.exit_code == 0, r.output
    assert sf.info(out).frames == 15 * SR and sf.info(out).channels == 1
    clips = tmp_path / "clips"
    r = CliRunner().invoke(app, ["search", "我不知道", "--export-clips", str(clips), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert [p.name for p in clips.iterdir()] == ["k1_63.2.wav"]
