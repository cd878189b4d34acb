"""Shared setup for the workstation part-2 tests (appeals, calibration, dashboard, accuracy, collections):
the review fixture database with one user per role, a reviewed call, and logged-in test clients."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures_review import CALL_A, PW, RUBRIC, build_db, client, csrf_of, login  # noqa: F401  (re-exported)

from qa_pipeline.review import service as R
from qa_pipeline.review.access import User
from qa_pipeline.review.users import create_user, list_users
from qa_pipeline.store import open_store
from qa_pipeline.store.db import Store
from qa_pipeline.web import create_app
from qa_pipeline.web.settings import WebSettings

MANUAL_IDS = [i.id for i in RUBRIC.items if i.manual]
USERS = [
    ("admin", "admin", {}),
    ("主管", "supervisor", {}),
    ("王审", "reviewer", {}),
    ("李审", "reviewer", {}),
    ("培训", "trainer", {}),
    ("王芳", "agent", {"agent_id": "A017"}),
    ("李娜", "agent", {"agent_id": "A020"}),
]


def make_template(d: Path) -> Path:
    store = build_db(d)
    for name, role, extra in USERS:
        create_user(store, name, role, PW, **extra)
    store.close()
    return d


def copy_db(template: Path, dest: Path) -> Store:
    for f in template.iterdir():
        if f.is_file():
            shutil.copy(f, dest / f.name)
    return open_store(dest / "callqa.db")


def user(store: Store, name: str) -> User:
    return next(u for u in list_users(store) if u.username == name)


def review_call_a(store: Store, reviewer: User, *, confirm_fatal: bool = True) -> None:
    """A full official review of CALL_A: every manual item passed, the 69.9 s silence rejected (the agent was
    looking the data up), the 推诿 phrase confirmed, submitted: final 0 (红线); without the 推诿, 100 − 2 = 98."""
    data = R.load_call(store, CALL_A, transcript=False)
    rows = {sf.finding.check: sf.row_id for sf in data.findings if sf.finding.status == "fail"}
    R.decide(store, reviewer, CALL_A, rows["forbidden_phrase"], "confirm" if confirm_fatal else "reject", "推诿属实")
    for check in ("silence_over_30s", "silence_over_60s"):
        R.decide(store, reviewer, CALL_A, rows[check], "reject", "查询业务中")
    for item_id in MANUAL_IDS:
        R.set_manual(store, reviewer, CALL_A, item_id, 0.0)
    R.submit(store, reviewer, CALL_A, "已复核")


@pytest.fixture(scope="session")
def loop_template(tmp_path_factory):
    """Calls + users built once per session (Argon2 hashing is deliberately slow); each test gets a copy."""
    return make_template(tmp_path_factory.mktemp("loopdb"))


@pytest.fixture
def loop_env(tmp_path, loop_template):
    store = copy_db(loop_template, tmp_path)
    settings = WebSettings(db=str(tmp_path / "callqa.db"), secret_key="test-secret", audio_root=str(tmp_path))
    app = create_app(settings, store)
    yield app, store
    store.close()
