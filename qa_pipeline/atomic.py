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
    # the pid in the name lets a later run remove what a killed writer left (remove_orphan_temps); a long name is
    # cut so that the temp name still fits the file system's 255-byte limit
    stem = dest.name if len(dest.name.encode("utf-8", "surrogateescape")) <= 150 else dest.name[:40]
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{stem}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; every output gets the same ordinary mode
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
    try:
        payload = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a file name that was not UTF-8): \u-escape, never fail
        payload = json.dumps(data, ensure_ascii=True, indent=1).encode("ascii")
    write_bytes_atomic(dest, payload)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_orphan_temps(folder: Path) -> int:
    """Delete the `.<name>.<pid>.<random>.tmp` files of writers that no longer run (killed with -9), and older
    temp files without a pid; a live process's temp file is left alone. Returns how many were removed."""
    removed = 0
    if not Path(folder).is_dir():
        return 0
    for f in Path(folder).glob(".*.tmp"):
        parts = f.name.rsplit(".", 3)
        pid = int(parts[-3]) if len(parts) == 4 and parts[-3].isdigit() else None
        if pid is not None and (pid == os.getpid() or _pid_alive(pid)):
            continue
        f.unlink(missing_ok=True)
        removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
