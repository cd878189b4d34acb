"""The wheel is self-contained: default rubric, lexicons, messages, schema inside; test helpers outside."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # build from a clean copy: setuptools reuses build/ in the source tree, which can hold deleted modules
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "qa_pipeline", src / "qa_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src), "-w", str(out)],
        check=True,
        timeout=300,
    )
    (whl,) = out.glob("callqa-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "qa_pipeline/rubrics/10086.yaml",
        "qa_pipeline/lexicons/greeting.yaml",
        "qa_pipeline/phrasing/templates.yaml",  # the phrase and role models train from it at first use
        "qa_pipeline/role_phrases.yaml",
        "qa_pipeline/messages/cli.zh.yaml",
        "qa_pipeline/schemas/call_result.schema.json",
        "qa_pipeline/__main__.py",
    ):
        assert needed in names
    assert not any(n.startswith(("tests/", "benchmarks/", "scoring_rubrics/")) for n in names)


@pytest.mark.slow
def test_non_editable_install_finds_the_default_rubric(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what pip puts into site-packages for a pure wheel
    run = tmp_path / "elsewhere"
    run.mkdir()
    code = "import qa_pipeline, sys; from qa_pipeline.cli import app; print(qa_pipeline.__file__); app()"
    r = subprocess.run(
        [sys.executable, "-c", code, "rubric", "show", "10086"],
        cwd=run,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "CALLQA_LANG": "en"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    first, _, shown = r.stdout.partition("\n")
    assert first.startswith(str(site))  # the unpacked wheel, not the checkout
    assert "10086人工热线" in shown and "items:" in shown
