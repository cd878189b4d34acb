"""Untrusted names and values made safe where they leave callqa: file names, spreadsheet cells, readable text.

One source for each rule, so every writer (per-call JSON, calls.csv, scorecards, search CSV, clips) agrees.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

__all__ = ["FORMULA_PREFIXES", "first_line", "readable", "safe_file_stem", "spreadsheet_cell"]

_MAX_STEM_BYTES = 120  # far below the 255-byte file-name limit, leaving room for ".json" and temp prefixes
_HASH_CHARS = 10


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception as one line a person reads beside the file or call it concerns: the driver's own message for
    a database error (SQLAlchemy's `orig`), its first line, at most `limit` characters; the class name when the
    exception says nothing."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def readable(text: str) -> str:
    """A string that can be written as UTF-8: file names that were not UTF-8 (Python keeps their bytes as lone
    surrogates) are decoded as GB18030 (what Chinese Windows writes), else shown with U+FFFD."""
    if not any("\udc80" <= ch <= "\udcff" or "\ud800" <= ch <= "\udfff" for ch in text):
        return text
    raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else text.encode("utf-8", "surrogatepass")
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def _only_escapes(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def safe_file_stem(call_id: str) -> str:
    """A file stem unique per call id: the id itself when it is a plain, short name; otherwise its safe characters
    plus a short hash of the id, so `a/b`, `a_b`, `a:b` never share a file and long ids fit the file system."""
    safe = "".join(c if (c.isalnum() or c in "-_.~") and c.isprintable() else "_" for c in call_id)
    if safe == call_id and safe and not safe.startswith(".") and len(safe.encode("utf-8")) <= _MAX_STEM_BYTES:
        return safe
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    head = safe.lstrip(".")
    while len(head.encode("utf-8")) > _MAX_STEM_BYTES - _HASH_CHARS - 1:
        head = head[: max(0, len(head) - 8)]
    return f"{head}-{digest}" if head else digest


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_cell(value: Any) -> Any:
    """OWASP CSV-injection rule: a text cell that a spreadsheet would read as a formula gets a leading apostrophe
    (shown as text by Excel/WPS/LibreOffice). Numbers stay numbers; NaN/inf become empty."""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        # a plain negative number ("-3.5") is data, not a formula
        try:
            float(value)
            if value[0] in "-+" and not value.lower().lstrip("+-").startswith(("inf", "nan")):
                return value
        except ValueError:
            pass
        return "'" + value
    return value
