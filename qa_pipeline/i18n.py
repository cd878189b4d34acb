"""One message catalog for everything a person reads (CLI output, reports, web pages).

Messages live in ``qa_pipeline/messages/<domain>.<lang>.yaml`` (flat ``key: text`` maps, ``str.format``
placeholders). Chinese (``zh``) is the default language; ``en`` is available. Every domain file of a language is
merged into one catalog, so the CLI, the reports and the workstation share keys and wording.

The language is chosen, in order, by ``using_language()`` (one context: a workstation request follows its user's
choice), ``set_language()`` (the process), the ``CALLQA_LANG`` environment variable, then ``zh``.
A key missing from the chosen language falls back to Chinese, then to the key itself (never an exception: a
missing translation must not break a report).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import yaml

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
_MESSAGES_DIR = Path(__file__).with_name("messages")
_current: str | None = None
# per context (asyncio task / the thread a request runs in): the workstation serves users who chose different
# languages from one process, so a request must not change the process-wide choice
_context: ContextVar[str | None] = ContextVar("callqa_language", default=None)


def set_language(lang: str | None) -> None:
    """Select the language for this process (``None``: back to the environment/default)."""
    global _current
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _current = lang


@contextmanager
def using_language(lang: str | None) -> Iterator[None]:
    """Within this block (this context only) messages are in `lang`; None or an unknown code changes nothing."""
    token = _context.set(lang if lang in LANGUAGES else None)
    try:
        yield
    finally:
        _context.reset(token)


def language() -> str:
    lang = _context.get() or _current or os.environ.get("CALLQA_LANG", "").strip().lower() or DEFAULT_LANGUAGE
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, merged from every ``*.<lang>.yaml`` domain file."""
    merged: dict[str, str] = {}
    for path in sorted(_MESSAGES_DIR.glob(f"*.{lang}.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a message file must be a mapping of key: text")
        for key, text in data.items():
            if key in merged:
                raise ValueError(f"{path}: message key {key!r} is defined twice")
            merged[str(key)] = str(text)
    return merged


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The text for ``key`` in the chosen language, formatted with ``values``."""
    lang = lang or language()
    text = catalog(lang).get(key)
    if text is None and lang != DEFAULT_LANGUAGE:
        text = catalog(DEFAULT_LANGUAGE).get(key)
    if text is None:
        return key
    return text.format(**values) if values else text
