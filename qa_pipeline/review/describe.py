"""Machine findings and review decisions as plain sentences for people ("静音 69.9 秒（00:14–01:24），未告知客户").

Wording comes from the message catalog (``finding.<check>`` keys in web.<lang>.yaml, ``finding.default`` for the
rest), so the web page, ``callqa check --db`` and exports say the same thing.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from ..checks.registry import check_label
from ..i18n import catalog, language, t

__all__ = ["check_label", "clock", "describe_finding", "reason_text"]


def clock(seconds: float | None) -> str:
    """mm:ss (h:mm:ss past an hour)."""
    if seconds is None:
        return "—"
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def _span(start: float | None, end: float | None) -> str:
    if start is None:
        return ""
    if end is None or abs(end - start) < 0.05:
        return clock(start)
    return f"{clock(start)}–{clock(end)}"


def reason_text(detail: dict[str, Any]) -> str:
    """Why a check decided as it did, in words: checks store a reason code (``no_wait``) and its values in the
    finding's detail; results written before the codes existed carry a sentence, shown as it is."""
    code = str(detail.get("reason") or "")
    key = f"finding.why.{code}"
    if key not in catalog(language()) and key not in catalog("zh"):
        return code
    values = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in detail.items() if k != "reason"}
    if "average_by" in values:
        values["average_by"] = t(f"finding.by.{values['average_by']}")
    wording = catalog(language()).get(key) or catalog("zh")[key]
    if any(field and field not in values for _, field, _, _ in Formatter().parse(wording)):
        return code  # a value the wording needs is missing: say the code rather than a half-filled sentence
    return t(key, **values) if values else wording


def describe_finding(
    check: str,
    start: float | None,
    end: float | None,
    evidence: str,
    detail: dict[str, Any],
    label: str | None = None,
) -> str:
    """One sentence: what the machine found, when, and how long it lasted (`label`: a rule's title, say, for a
    name the check catalogue does not know)."""
    dur = None if start is None or end is None else end - start
    for k in ("duration_s", "latency_s", "customer_speech_s", "overlap_s"):
        if isinstance(detail.get(k), (int, float)):
            dur = float(detail[k])
            break
    values = {
        "label": label or check_label(check),
        "span": _span(start, end),
        "dur": "" if dur is None else f"{dur:.1f}",
        "evidence": (evidence or "").strip()[:60],
        "note": t("finding.note.not_announced") if detail.get("announced") is False else "",
        "reason": t("finding.note.reason", reason=reason_text(detail)) if detail.get("reason") else "",
    }
    key = f"finding.{check}"
    # the check's own sentence describes a moment of the call; a finding without one (not applicable: "no wait
    # over 10 s") reads through the default wording
    if not values["span"] or (key not in catalog(language()) and key not in catalog("zh")):
        key = "finding.default" if values["span"] else "finding.default_nospan"
    if key.startswith("finding.default") and not values["evidence"]:
        key += "_noevidence"
    return t(key, **values).strip()
