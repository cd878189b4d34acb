"""Atomic file writes: a reader sees the old file or the complete new one, never a part of it.

Every writer of a result, table, stamp or model file goes through here: write a temporary file in the target's
folder (same file system, so the rename is atomic), flush it to disk, then `os.replace` it over the target; on
any error — an exception, Ctrl-C — the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest` to write to (by any means); it replaces `dest` when the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(dest: Path, mode: str = "w", *, encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """`open(dest, mode)` for writing, atomically: the file is synced and renamed into place on success."""
    if "b" in mode:
        encoding = None
    with atomic_path(dest) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    with atomic_open(dest, "wb") as fh:
        fh.write(data)


def write_text_atomic(dest: Path, text: str, *, encoding: str = "utf-8") -> None:
    with atomic_open(dest, "w", encoding=encoding) as fh:
        fh.write(text)


def write_json_atomic(dest: Path, data: Any) -> None:
    """JSON as callqa writes it everywhere: UTF-8, Chinese unescaped, one-space indent."""
    with atomic_open(dest, "w") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
