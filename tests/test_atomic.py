from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_pipeline.atomic import atomic_open, atomic_path, write_json_atomic, write_text_atomic


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.json"
    write_json_atomic(target, {"名": 1})
    assert json.loads(target.read_text(encoding="utf-8")) == {"名": 1} and "名" in target.read_text(encoding="utf-8")
    write_text_atomic(target, "new", encoding="utf-8-sig")
    assert target.read_bytes() == b"\xef\xbb\xbfnew"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("crash")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
