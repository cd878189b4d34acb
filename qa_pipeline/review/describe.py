"""Machine findings and review decisions as plain sentences for people ("静音 69.9 秒（00:14–01:24），未告知客户").

Wording comes from the message catalog (``finding.<check>`` keys in web.<lang>.yaml, ``finding.default`` for the
rest), so the web page, ``callqa check --db`` and exports say the same thing.
"""

from __future__ import annotations

from typing import Any

from ..i18n import catalog, language, t


def clock(seconds: float | None) -> str:
    """mm:ss (h:mm:ss past an hour)."""
    if seconds is None:
        return "—"
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def check_label(check: str) -> str:
    key = f"check.{check}"
    text = t(key)
    return check if text == key else text


def _span(start: float | None, end: float | None) -> str:
    if start is None:
        return ""
    if end is None or abs(end - start) < 0.05:
        return clock(start)
    return f"{clock(start)}–{clock(end)}"


def describe_finding(check: str, start: float | None, end: float | None, evidence: str, detail: dict[str, Any]) -> str:
    """One sentence: what the machine found, when, and how long it lasted."""
    dur = None if start is None or end is None else end - start
    for k in ("duration_s", "latency_s", "customer_speech_s", "overlap_s"):
        if isinstance(detail.get(k), (int, float)):
            dur = float(detail[k])
            break
    values = {
        "label": check_label(check),
        "span": _span(start, end),
        "dur": "" if dur is None else f"{dur:.1f}",
        "evidence": (evidence or "").strip()[:60],
        "note": t("finding.note.not_announced") if detail.get("announced") is False else "",
        "reason": t("finding.note.reason", reason=detail["reason"]) if detail.get("reason") else "",
    }
    key = f"finding.{check}"
    if key not in catalog(language()) and key not in catalog("zh"):
        key = "finding.default" if values["span"] else "finding.default_nospan"
    if key.startswith("finding.default") and not values["evidence"]:
        key += "_noevidence"
    return t(key, **values).strip()
