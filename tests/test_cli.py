import json
from pathlib import Path

from typer.testing import CliRunner

from qa_pipeline.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("score", "check", "rubric", "models"):
        assert cmd in r.output


def test_rubric_show_pipes_into_validate() -> None:
    shown = runner.invoke(app, ["rubric", "show", "10086"])
    assert shown.exit_code == 0 and "10086人工热线" in shown.output
    valid = runner.invoke(app, ["--lang", "en", "rubric", "validate", "-"], input=shown.output)
    assert valid.exit_code == 0 and "valid" in valid.output and "100 points" in valid.output


def test_rubric_validate_reports_line_of_unknown_check(tmp_path: Path) -> None:
    bad = tmp_path / "my_rubric.yaml"
    bad.write_text(
        "id: x\ntitle: t\nversion: '1'\nitems:\n  - id: A\n    title: a\n    points: 3\n"
        "    checks: [{check: no_such_check}]\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["rubric", "validate", str(bad)])
    assert r.exit_code == 1
    out = r.output.replace("\n", "")  # the console wraps long lines
    assert "第 8 行" in out and "未知检查项 'no_such_check'" in out  # Chinese first, from the catalog


def test_models_lists_engines() -> None:
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0
    for engine in ("faster-whisper", "openai-whisper", "transcript"):
        assert engine in r.output


def test_score_with_transcript_engine_and_exit_code(real_call: Path, tmp_path: Path) -> None:
    calls = real_call.parent
    (calls / "call_0001.transcript.json").write_text(
        json.dumps(
            {"utterances": [{"speaker": "agent", "start": 0.5, "end": 6.0, "text": "您好，很高兴为您服务"}]},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    r = runner.invoke(app, ["--lang", "en", "score", str(calls), "--out", str(out), "--engine", "transcript"])
    assert r.exit_code == 0, r.output
    assert "calls scored" in r.output and (out / "calls.csv").exists() and (out / "callqa.db").exists()
    (calls / "broken.wav").write_bytes(b"garbage")
    r = runner.invoke(app, ["score", str(calls), "--out", str(out), "--engine", "transcript"])
    assert r.exit_code == 1 and "broken" in r.output
    r = runner.invoke(app, ["check", str(real_call), "--engine", "transcript", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["call_id"] == "call_0001"


def test_score_bad_arguments(tmp_path: Path) -> None:
    r = runner.invoke(app, ["--lang", "en", "score", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = runner.invoke(app, ["score", str(tmp_path), "--engine", "bogus"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["score", str(tmp_path), "--rubric", "nope"])
    assert r.exit_code == 2 and "找不到评分标准 'nope'" in r.output


def test_score_from_manifest_fills_agent_metadata(real_call: Path, tmp_path: Path) -> None:
    (real_call.parent / "call_0001.transcript.json").write_text(json.dumps({"utterances": []}), encoding="utf-8")
    manifest = tmp_path / "calls.csv"
    manifest.write_text(
        "call_id,path,agent_id,agent_name,team,started_at,queue,transferred_at\n"
        f"c1,{real_call},A9,王芳,一组,2026-11-22T09:00:00,话费,\n"
        f"c2,{real_call.parent / 'missing.wav'},A9,王芳,一组,,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    r = runner.invoke(app, ["score", "--manifest", str(manifest), "-o", str(out), "--engine", "transcript"])
    assert r.exit_code == 1  # c2's file does not exist
    c1 = json.loads((out / "calls" / "c1.json").read_text(encoding="utf-8"))
    assert c1["agent_id"] == "A9" and c1["metadata"]["agent_name"] == "王芳" and c1["metadata"]["team"] == "一组"
    c2 = json.loads((out / "calls" / "c2.json").read_text(encoding="utf-8"))
    assert c2["status"] == "failed" and "文件不存在" in c2["error"]


def test_chinese_is_the_default_and_lang_switches(tmp_path: Path) -> None:
    r = runner.invoke(app, ["score", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "错误" in r.output and "不存在" in r.output
    r = runner.invoke(app, ["--lang", "en", "score", str(tmp_path / "nowhere")])
    assert "error:" in r.output and "错误" not in r.output
    r = runner.invoke(app, ["--lang", "fr", "models"])
    assert r.exit_code == 2


def test_the_help_and_error_frame_speaks_the_chosen_language() -> None:
    """click's/typer's own words (panel titles, [required], [default: …], "Try … for help") come from the catalog
    (cli/frame.py), not English gettext msgids; --lang en gives back the English."""
    zh = runner.invoke(app, ["search", "--help"])
    assert zh.exit_code == 0
    assert "选项" in zh.output and "[必填]" in zh.output and "[默认：20]" in zh.output
    assert "Options" not in zh.output and "[required]" not in zh.output and "[default: 20]" not in zh.output
    err = runner.invoke(app, ["search"])  # no query
    assert err.exit_code == 2 and "查看帮助" in err.output and "错误" in err.output
    en = runner.invoke(app, ["--lang", "en", "search", "--help"])
    assert "Options" in en.output and "[required]" in en.output and "[default: 20]" in en.output
    back = runner.invoke(app, ["search", "--help"])  # the next command in the same process: Chinese again
    assert "[必填]" in back.output


def test_python_dash_m_runs_the_cli() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "qa_pipeline", "--lang", "en", "rubric", "validate", "-"],
        input=runner.invoke(app, ["rubric", "show"]).output,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr
