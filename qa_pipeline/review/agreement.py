"""Inter-rater agreement for calibration: percent agreement, Cohen's kappa (two raters, scikit-learn's
``cohen_kappa_score``) and Fleiss' kappa (three or more). Pure functions over nominal labels.

Each unit (a machine finding, a rubric item of a call) has one label per rater; units some rater did not judge are
left out by the caller. Kappa is undefined (None) when chance agreement is already total (every label the same).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations

Label = str


def percent_agreement(units: Sequence[Sequence[Label]]) -> float | None:
    """Mean share of agreeing rater pairs per unit (for two raters: the share of units where both agree)."""
    vals = []
    for labels in units:
        pairs = list(combinations(labels, 2))
        if pairs:
            vals.append(sum(a == b for a, b in pairs) / len(pairs))
    return None if not vals else sum(vals) / len(vals)


def cohen_kappa(a: Sequence[Label], b: Sequence[Label]) -> float | None:
    """Cohen's kappa of two raters over the same units (scikit-learn); None when undefined."""
    if len(a) != len(b):
        raise ValueError("both raters must label the same units")
    if not a or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    k = float(cohen_kappa_score(list(a), list(b)))
    return None if k != k else k  # NaN: undefined


def fleiss_kappa(units: Sequence[Sequence[Label]]) -> float | None:
    """Fleiss' kappa (Fleiss 1971) for units each labelled by the same number (≥ 2) of raters; None when undefined."""
    units = [list(u) for u in units if u]
    if not units:
        return None
    n = len(units[0])
    if n < 2 or any(len(u) != n for u in units):
        raise ValueError("Fleiss' kappa needs the same number (≥ 2) of ratings per unit")
    cats = sorted({x for u in units for x in u})
    counts = [Counter(u) for u in units]
    big_n = len(units)
    p_j = [sum(c[k] for c in counts) / (big_n * n) for k in cats]
    p_i = [(sum(v * v for v in c.values()) - n) / (n * (n - 1)) for c in counts]
    p_bar = sum(p_i) / big_n
    p_e = sum(p * p for p in p_j)
    if p_e >= 1.0 - 1e-12:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def kappa(units: Sequence[Sequence[Label]]) -> float | None:
    """Cohen's kappa for two raters, Fleiss' kappa for more."""
    units = [u for u in units if u]
    if not units:
        return None
    if len(units[0]) == 2:
        return cohen_kappa([u[0] for u in units], [u[1] for u in units])
    return fleiss_kappa(units)
