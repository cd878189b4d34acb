"""Execute notebooks/qa_daily_review.ipynb against the fixture DB (CALLQA_DB)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

from fixtures_store import build_fixture_db  # noqa: E402

NB = Path(__file__).resolve().parents[1] / "notebooks" / "qa_daily_review.ipynb"


def test_notebook_committed_without_outputs():
    nb = nbformat.read(NB, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs(tmp_path, monkeypatch):
    db = build_fixture_db(tmp_path)
    monkeypatch.setenv("CALLQA_DB", str(db))
    monkeypatch.setenv("CALLQA_FROM", "2026-11-01")
    monkeypatch.setenv("CALLQA_TO", "2026-11-22")
    monkeypatch.setenv("PYTHONPATH", str(NB.parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NB, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "6 scored" in text and "1 fatal" in text
    assert "这个我不知道，你自己去营业厅问吧。" in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
