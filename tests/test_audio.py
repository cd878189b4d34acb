import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import real_clip

from qa_pipeline.audio import AudioError, IngestOptions, load_call
from qa_pipeline.types import CallMetadata


def _md(name: str = "c1") -> CallMetadata:
    return CallMetadata(call_id=name)


def _stereo(rate: int = 8000) -> np.ndarray:
    a = real_clip("aishell1_BAC009S0724W0121.wav", rate)
    b = real_clip("wenetspeech_nst_ID002.wav", rate)
    out = np.zeros((len(a) + len(b), 2), np.float32)
    out[: len(a), 0] = a
    out[len(a) :, 1] = b
    return out


@pytest.mark.parametrize(
    "fmt,subtype,rate",
    [
        ("WAV", "PCM_16", 8000),
        ("WAV", "PCM_16", 16000),
        ("WAV", "ULAW", 8000),
        ("WAV", "ALAW", 8000),
        ("FLAC", "PCM_16", 8000),
        ("MP3", "MPEG_LAYER_III", 16000),
    ],
)
def test_decodes_call_centre_formats(tmp_path: Path, fmt: str, subtype: str, rate: int) -> None:
    x = _stereo(rate)
    path = tmp_path / f"call.{fmt.lower()}"
    sf.write(str(path), x, rate, format=fmt, subtype=subtype)
    call = load_call(path, _md())
    assert call.source.layout == "stereo"
    assert call.source.sample_rate == rate
    assert set(call.parties) == {"agent", "customer"}
    assert abs(call.duration - len(x) / rate) < 0.1
    # 16 kHz float32 per party, the agent's speech first, the customer's second
    agent, cust = call.parties["agent"], call.parties["customer"]
    assert agent.dtype == np.float32 and abs(len(agent) / 16000 - call.duration) < 0.1
    half = len(agent) // 2
    assert np.abs(agent[: half // 2]).mean() > np.abs(agent[-half // 2 :]).mean()
    assert np.abs(cust[-half // 2 :]).mean() > np.abs(cust[: half // 2]).mean()
    assert len(call.source.sha256) == 64


def test_agent_channel_swaps_parties(tmp_path: Path) -> None:
    x = _stereo()
    path = tmp_path / "c.wav"
    sf.write(str(path), x, 8000)
    a = load_call(path, _md(), IngestOptions(agent_channel=0))
    b = load_call(path, _md(), IngestOptions(agent_channel=1))
    assert np.allclose(a.parties["agent"], b.parties["customer"])


def test_mono_and_duplicated_stereo_are_mono(tmp_path: Path) -> None:
    clip = real_clip("aishell1_BAC009S0724W0121.wav")
    noise = np.random.default_rng(0).normal(0, 0.003, clip.size).astype(np.float32)
    sf.write(str(tmp_path / "m.wav"), clip, 8000)
    sf.write(str(tmp_path / "d.wav"), np.stack([clip, clip * 0.9], axis=1), 8000)
    sf.write(str(tmp_path / "half.wav"), np.stack([clip, clip * 0.5 + noise], axis=1), 8000)  # −6 dB + noise
    sf.write(str(tmp_path / "late.wav"), np.stack([clip, np.roll(clip, 40)], axis=1), 8000)  # 5 ms late
    for name in ("m.wav", "d.wav", "half.wav", "late.wav"):
        call = load_call(tmp_path / name, _md())
        assert call.source.layout == "mono"
        assert list(call.parties) == ["unknown"]


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: None, "文件不存在"),
        (lambda p: p.write_bytes(b""), "空文件"),
        (lambda p: p.write_text("call_id,agent\n1,2\n"), "不是可读取的音频文件"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40), "音频"),
        (lambda p: sf.write(str(p), np.zeros((0, 2), np.float32), 8000), "录音长度为零"),
        (lambda p: sf.write(str(p), np.zeros((8000, 2), np.float32), 8000), "全程静音"),
        (lambda p: sf.write(str(p), np.full((8000, 3), 0.1, np.float32), 8000), "3 个声道"),
    ],
)
def test_bad_input_names_file_and_reason(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as exc:
        load_call(path, _md())
    assert str(path) in str(exc.value)
    assert reason in str(exc.value)


def test_huge_file_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(str(path), np.full((8000 * 10, 1), 0.1, np.float32), 8000)
    with pytest.raises(AudioError, match="超过上限"):
        load_call(path, _md(), IngestOptions(max_duration_s=5))


def _damaged(path: Path, fmt: str, noise: int = 400) -> Path:
    """A 5 s tone written as `fmt`, `noise` bytes in its first third overwritten with noise."""
    x = (0.3 * np.sin(np.arange(8000 * 5) / 10)).astype(np.float32)
    sf.write(str(path), np.stack([x, x[::-1]], axis=1), 8000, format=fmt)
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    k = len(raw) // 3
    raw[k : k + noise] = rng.integers(0, 256, noise, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("fmt,name", [("MP3", "坏的 录音.mp3"), ("FLAC", "damaged.flac")])
def test_decoder_messages_name_the_file(tmp_path, capfd, fmt, name):
    """libmpg123 / libFLAC / FFmpeg write to file descriptor 2 themselves: every line that reaches standard
    error names the recording it is about (a batch decodes hundreds of files)."""
    path = _damaged(tmp_path / name, fmt)
    try:
        load_call(path, _md())
    except AudioError as exc:
        assert str(path) in str(exc)  # a refused file says so by name
    err = capfd.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    if fmt == "MP3":
        assert lines, "libmpg123 says nothing about a damaged MP3 any more: this test needs another fixture"
    assert all(str(path) in x for x in lines), err


def test_a_recording_cut_short_by_damage_fails_instead_of_scoring_a_fragment(tmp_path):
    """libmpg123 resyncs past damage and returns what it could: when it complained and less than 90 % of the
    declared length came out, the call fails naming the file (a fragment would be judged as the whole call);
    light damage that loses a few frames still decodes."""
    light = load_call(_damaged(tmp_path / "light.mp3", "MP3", noise=400), _md())
    assert 4.5 <= light.source.duration_s <= 5.0
    with pytest.raises(AudioError) as exc:
        load_call(_damaged(tmp_path / "heavy.mp3", "MP3", noise=900), _md())
    assert str(tmp_path / "heavy.mp3") in str(exc.value) and "录音已损坏" in str(exc.value)


def test_decoder_messages_leave_python_stderr_alone(tmp_path, capfd):
    """Only what native code writes to fd 2 is caught: Python's own stderr (the progress bar of an in-process
    batch) still reaches the terminal while a file is being decoded."""
    import sys

    from qa_pipeline.audio import decoder_messages
    from qa_pipeline.i18n import t

    with decoder_messages(tmp_path / "x.mp3"):
        print("progress 3/10", file=sys.stderr)
        os.write(2, b"Note: native says hello\n")
    err = capfd.readouterr().err.splitlines()
    assert "progress 3/10" in err
    expected = t("audio.decoder_message", file=str(tmp_path / "x.mp3"), message="Note: native says hello")
    assert [x for x in err if "native says hello" in x] == [expected]


@pytest.mark.parametrize("rate,layout", [(8000, "stereo"), (16000, "stereo"), (8000, "mono")])
def test_streamed_decode_equals_whole_file_resampling(tmp_path, monkeypatch, rate, layout):
    """Block-by-block decoding + soxr's stream give exactly the samples of resampling the whole file at once
    (more than two blocks, so block edges are crossed)."""
    import soxr

    from qa_pipeline import audio

    monkeypatch.setattr(audio, "BLOCK_S", 2.0)
    rng = np.random.default_rng(3)
    n = int(2.5 * audio.BLOCK_S * rate)
    x = (0.2 * rng.standard_normal((n, 2))).astype(np.float32)
    if layout == "mono":
        x = x[:, :1]
    path = tmp_path / f"s{rate}.flac"
    sf.write(str(path), x, rate, subtype="PCM_24")
    whole, _ = sf.read(str(path), dtype="float32", always_2d=True)
    ref = whole if rate == 16000 else soxr.resample(whole, rate, 16000, quality="HQ").astype(np.float32)
    got = load_call(path, _md(), IngestOptions(agent_channel=1))
    if layout == "stereo":
        assert np.array_equal(got.parties["agent"], ref[:, 1]) and np.array_equal(got.parties["customer"], ref[:, 0])
    else:
        assert np.array_equal(got.parties["unknown"], ref.mean(axis=1))
    assert got.source.duration_s == round(n / rate, 3)


def test_long_recordings_spill_to_a_temporary_file_that_leaves_no_trace(tmp_path, monkeypatch):
    """Past `spill_after_s` the parties live in an unlinked temporary file mapped into memory: same samples,
    not the worker's own memory, nothing left on disk."""
    import tempfile

    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    path = tmp_path / "call.wav"
    sf.write(str(path), _stereo(), 8000, subtype="PCM_16")
    kept = load_call(path, _md())
    spilled = load_call(path, _md(), IngestOptions(spill_after_s=1.0))
    for party in ("agent", "customer"):
        assert isinstance(spilled.parties[party], np.memmap) and not isinstance(kept.parties[party], np.memmap)
        assert np.array_equal(spilled.parties[party], kept.parties[party])
    assert spilled.source == kept.source
    assert list(spill_dir.iterdir()) == []  # unlinked from the start
    spilled.parties["agent"][:10] = 0.5  # copy-on-write: a consumer may scale its copy in place
    assert np.array_equal(
        load_call(path, _md(), IngestOptions(spill_after_s=1.0)).parties["agent"], kept.parties["agent"]
    )
