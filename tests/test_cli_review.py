"""`callqa users`, `check CALL_ID --db`, `review export / import` through typer's CliRunner."""

from __future__ import annotations

import csv

from fixtures_review import CALL_A, RUBRIC, build_db
from typer.testing import CliRunner

from qa_pipeline.cli import app
from qa_pipeline.review import service as R
from qa_pipeline.review.users import authenticate, create_user
from qa_pipeline.store import open_store

runner = CliRunner()


def test_users_add_list_and_errors(tmp_path):
    db = str(tmp_path / "new.db")
    env = {"CALLQA_PASSWORD": "first-admin-pw", "CALLQA_LANG": "zh"}
    r = runner.invoke(app, ["users", "add", "管理员", "--role", "admin", "--db", db], env=env)
    assert r.exit_code == 0, r.output
    assert "已新增账号 管理员（管理员）" in r.output
    r = runner.invoke(app, ["users", "add", "管理员", "--role", "admin", "--db", db], env=env)
    assert r.exit_code == 2 and "已存在" in r.output
    r = runner.invoke(app, ["users", "add", "坐席甲", "--role", "agent", "--db", db], env=env)
    assert r.exit_code == 2 and "--agent-id" in r.output
    r = runner.invoke(app, ["users", "add", "x", "--role", "boss", "--db", db], env=env)
    assert r.exit_code == 2 and "未知角色" in r.output
    # interactive: password typed twice
    r = runner.invoke(
        app,
        ["users", "add", "王审", "--role", "reviewer", "--team", "质检", "--db", db],
        input="typed-pass-1\ntyped-pass-1\n",
        env={"CALLQA_LANG": "zh"},
    )
    assert r.exit_code == 0, r.output
    assert "再输入一次密码" in r.output and "Repeat for confirmation" not in r.output
    r = runner.invoke(app, ["users", "list", "--db", db], env={"CALLQA_LANG": "zh"})
    assert "王审" in r.output and "质检员" in r.output
    store = open_store(db)
    assert authenticate(store, "王审", "typed-pass-1") is not None
    store.close()


def test_check_stored_call(tmp_path):
    build_db(tmp_path).close()
    db = str(tmp_path / "callqa.db")
    r = runner.invoke(app, ["check", CALL_A, "--db", db], env={"CALLQA_LANG": "zh"})
    assert r.exit_code == 0, r.output
    assert "静音 69.9 秒（00:14–01:24），未告知客户" in r.output
    assert "红线（0 分）" in r.output and "48 / 57" in r.output and "待人工评分" in r.output
    r = runner.invoke(app, ["check", "no-such-call", "--db", db], env={"CALLQA_LANG": "zh"})
    assert r.exit_code == 1 and "没有通话 no-such-call" in r.output


def test_review_export_edit_import(tmp_path):
    store = build_db(tmp_path)
    create_user(store, "王审", "reviewer", "password-1")
    create_user(store, "王芳", "agent", "password-1", agent_id="A017")
    store.close()
    db = str(tmp_path / "callqa.db")
    out = tmp_path / "review.csv"
    r = runner.invoke(app, ["review", "export", "--db", db, "--call", CALL_A, "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(out, encoding="utf-8-sig")))
    kinds = [x["kind"] for x in rows]
    manual_ids = [i.id for i in RUBRIC.items if i.manual]
    assert kinds.count("manual") == len(manual_ids) and kinds.count("finding") == 4  # greeting, 2 silences, 推诿
    for x in rows:
        if x["kind"] == "finding" and x["check"] == "forbidden_phrase":
            x["decision"], x["comment"] = "误报", "告知营业厅地址"
        if x["kind"] == "manual":
            x["deduction"] = "3" if x["item_id"] == "C2" else "0"
    rows.append({"call_id": CALL_A, "kind": "missed", "item_id": "C1.1", "start": "95", "comment": "重复提问"})
    rows.append({"call_id": CALL_A, "kind": "finding", "check": "greeting", "start": "0.00", "decision": "maybe"})
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    r = runner.invoke(app, ["review", "import", str(out), "--as", "王芳", "--db", db])
    assert r.exit_code == 2 and "不是质检员" in r.output
    r = runner.invoke(app, ["review", "import", str(out), "--as", "王审", "--db", db])
    assert r.exit_code == 1  # one bad row, reported with its line; the others imported
    assert f"review.csv:{len(rows) + 1}" in r.output and "maybe" in r.output
    assert f"判断 1 条，人工评分 {len(manual_ids)} 条，漏检 1 条" in r.output
    store = open_store(db)
    fs = R.load_call(store, CALL_A).final()
    # 57 − 2 − 3 − 5 = 47 automatic + 40 manual = 87, capped at 50 by the 严重 silence (as in the web test)
    assert fs.scale.total == 50 and fs.scale.verdict == "fail"
    assert any(e["action"] == "decision" and e["username"] == "王审" for e in R.audit_for_call(store, CALL_A))
    store.close()
    # importing the same file again changes nothing
    r = runner.invoke(app, ["review", "import", str(out), "--as", "王审", "--db", db])
    assert "判断 0 条，人工评分 0 条，漏检 1 条" in r.output or "判断 0 条，人工评分 0 条" in r.output


def test_account_errors_follow_the_chosen_language(tmp_path):
    """The review service's and accounts' errors come from the catalog (they were hard-coded Chinese)."""
    db = str(tmp_path / "lang.db")
    r = runner.invoke(
        app,
        ["--lang", "en", "users", "add", "x", "--role", "boss", "--db", db],
        env={"CALLQA_PASSWORD": "long-enough-pw"},
    )
    assert r.exit_code == 2 and "unknown role boss" in r.output and "未知角色" not in r.output
    r = runner.invoke(
        app, ["users", "add", "x", "--role", "boss", "--db", db], env={"CALLQA_PASSWORD": "long-enough-pw"}
    )
    assert "未知角色 boss" in r.output
