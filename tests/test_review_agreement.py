"""Agreement statistics against hand-computed and published values."""

from __future__ import annotations

import pytest

from qa_pipeline.review.agreement import cohen_kappa, fleiss_kappa, kappa, percent_agreement


def test_cohen_kappa_hand_computed():
    a = ["C", "C", "R", "C"]
    b = ["C", "R", "R", "R"]
    # p_o = 2/4; p_e = 3/4·1/4 + 1/4·3/4 = 0.375; κ = (0.5 − 0.375) / 0.625 = 0.2
    assert cohen_kappa(a, b) == pytest.approx(0.2)
    assert percent_agreement(list(zip(a, b, strict=True))) == pytest.approx(0.5)
    assert kappa(list(zip(a, b, strict=True))) == pytest.approx(0.2)
    assert cohen_kappa(["C", "C"], ["C", "C"]) is None  # undefined: no variation at all
    assert cohen_kappa(["C", "R"], ["R", "C"]) == pytest.approx(-1.0)


def test_fleiss_kappa_published_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories → κ ≈ 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    units = [[str(cat) for cat, k in enumerate(row) for _ in range(k)] for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.2099, abs=5e-4)
    assert kappa(units) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_three_raters_hand_computed():
    units = [["A", "A", "A"], ["A", "A", "B"], ["B", "B", "B"], ["A", "B", "B"]]
    # P_i = 1, 1/3, 1, 1/3 → P̄ = 2/3; p_A = p_B = 6/12 → P_e = 0.5; κ = (2/3 − 1/2) / (1/2) = 1/3
    assert fleiss_kappa(units) == pytest.approx(1 / 3)
    assert percent_agreement(units) == pytest.approx(2 / 3)
    assert fleiss_kappa([["A", "A", "A"]]) is None
    with pytest.raises(ValueError):
        fleiss_kappa([["A", "A"], ["A", "B", "B"]])
