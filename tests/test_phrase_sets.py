"""The phrase sets stay apart: no development sentence is (nearly) a held-out one.

The development sets (tests/data/phrasing_dev*.yaml) are read by whoever changes the matchers; the held-out set
(benchmarks/data/heldout_phrases.yaml) never is. A development sentence that is nearly a held-out one would let
tuning on the first leak into the measurement on the second. The independent development set was written blind
to the held-out set, and 23 of its sentences still came within a 0.8 similarity of held-out ones (short stock
phrases mostly); they were removed, and this test keeps it so. Its messages give counts only, never text.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path

import yaml

from qa_pipeline.text import normalize

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "benchmarks" / "data" / "heldout_phrases.yaml"
DEV_SETS = sorted((ROOT / "tests" / "data").glob("phrasing_dev*.yaml"))
NEAR = 0.8  # difflib ratio on the normalised text (no punctuation, spaces or "_", the ASR cut mark)


def _texts(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        normalize(e if isinstance(e, str) else e["text"])
        for spec in data["categories"].values()
        for kind in ("positives", "negatives")
        for e in spec.get(kind) or []
    ]


def _near_pairs(dev: list[str], held: list[str]) -> int:
    count = 0
    for a in dev:
        m = SequenceMatcher(None, autojunk=False)
        m.set_seq2(a)  # SequenceMatcher caches details of the second sequence
        for b in held:
            m.set_seq1(b)
            if m.real_quick_ratio() >= NEAR and m.quick_ratio() >= NEAR and m.ratio() >= NEAR:
                count += 1
                break
    return count


def test_the_development_sets_hold_no_held_out_sentence() -> None:
    assert len(DEV_SETS) >= 2
    held = _texts(HELDOUT)
    for path in DEV_SETS:
        n = _near_pairs(_texts(path), held)
        assert n == 0, f"{path.name}: {n} sentence(s) within {NEAR} of a held-out sentence"


def test_the_overlap_measure_finds_a_near_copy() -> None:
    held = ["您好请稍等我帮您查一下话费余额", "感谢您的来电再见"]
    assert _near_pairs(["您好请稍等我帮您查询一下话费余额"], held) == 1
    assert _near_pairs(["这个业务我帮您转到人工台"], held) == 0
