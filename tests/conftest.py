"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["COLUMNS"] = "240"  # rich wraps CLI output at the terminal width; keep lines whole for asserts

import pytest  # noqa: E402
from helpers import real_clip, render_stereo  # noqa: E402

from qa_pipeline import i18n  # noqa: E402


@pytest.fixture(autouse=True)
def _default_language():
    """`callqa --lang en` sets the language for the whole process (the CLI runs in-process under CliRunner):
    every test starts and ends in the default language, so no test depends on the order tests ran in."""
    i18n.set_language(None)
    yield
    i18n.set_language(None)


@pytest.fixture
def real_call(tmp_path: Path) -> Path:
    """A 60 s stereo 8 kHz call built from real speech with a 35 s silence in the middle."""
    agent = real_clip("funasr_asr_example_zh.wav")
    cust = real_clip("paddlespeech_zh.wav") * 3
    cust2 = real_clip("wenetspeech_nst_ID001.wav")
    return render_stereo(
        tmp_path / "call_0001.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("customer", 48.0, cust2)], 60.0
    )


# ---------------------------------------------------------------- PostgreSQL (store tests run on both backends)

_pg = None


def _pg_required() -> bool:
    # CI (make test) sets CALLQA_REQUIRE_PG=1: a machine without the server binaries fails there instead of
    # silently skipping the PostgreSQL half of the store tests
    return os.environ.get("CALLQA_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session (started on first use, stopped at the end)."""
    global _pg
    from pg_server import find_bindir, start_server

    if find_bindir() is None:
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if _pg_required():
            pytest.fail(msg)
        pytest.skip(msg)
    _pg = start_server()
    yield _pg
    _pg.stop()
    _pg = None


_db_counter = [0]


@pytest.fixture
def pg_url(pg_server):
    """Factory: a fresh, empty PostgreSQL database URL."""

    def make(prefix: str = "t") -> str:
        _db_counter[0] += 1
        return pg_server.create_database(f"{prefix}_{os.getpid()}_{_db_counter[0]}")

    return make
