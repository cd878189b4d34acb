"""Hand-made call results with hand-computed scorecard numbers (see test_report_scorecard.py)."""

from __future__ import annotations

import json
from pathlib import Path

ITEMS = [  # (id, title, points, fatal-if-fail)
    ("greeting", "开头语规范", 10.0, False),
    ("closing", "结束语规范", 10.0, False),
    ("forbidden", "服务禁语", 20.0, True),
    ("silence", "静音时长", 10.0, False),
]
AGENTS = {
    "A001": ("张伟", "一组"),
    "A002": ("李娜", "一组"),
    "A003": ("王芳", "二组"),
    "A004": ("赵磊", "二组"),
}
ENGINE = {
    "asr": "faster-whisper",
    "model": "large-v3",
    "compute_type": "int8",
    "rubric": "10086",
    "rubric_version": "2026.1",
    "package_version": "0.1.0",
    "vad": "silero",
    "options": {"beam_size": 5},
}


def make_result(
    call_id,
    agent_id,
    started_at,
    total,
    item_status,
    *,
    utterances=(),
    checks=(),
    fatal=False,
    needs_review=False,
    status="ok",
    error=None,
    audio_path=None,
    duration=120.0,
    engine=None,
):
    name, team = AGENTS[agent_id]
    items = []
    for iid, title, pts, fat in ITEMS:
        st = item_status.get(iid, "pass")
        items.append(
            {
                "id": iid,
                "title": title,
                "points": pts,
                "deduction": pts if st == "fail" else 0.0,
                "status": st,
                "fatal": bool(fat and st == "fail"),
                "reasons": [f"{title}:{st}"],
            }
        )
    return {
        "schema_version": 1,
        "call_id": call_id,
        "status": status,
        "error": error,
        "agent_id": agent_id,
        "metadata": {
            "agent_name": name,
            "team": team,
            "started_at": started_at,
            "queue": "10086-1",
            "caller_region": "北京",
        },
        "audio": {
            "path": audio_path or f"/calls/{call_id}.wav",
            "sha256": "0" * 64,
            "duration_s": duration,
            "sample_rate": 8000,
            "channels": 2,
            "layout": "stereo",
            "codec": "pcm_s16le",
        },
        "engine": engine or ENGINE,
        "utterances": [{"speaker": s, "start": a, "end": b, "text": t} for s, a, b, t in utterances],
        "events": [{"type": "speech", "start": a, "end": b, "speaker": s} for s, a, b, _ in utterances],
        "checks": [
            {"check": c, "status": st, "start": a, "end": b, "speaker": "agent", "evidence": ev, "detail": {}}
            for c, st, a, b, ev in checks
        ],
        "score": None
        if status != "ok"
        else {"total": total, "max": 100.0, "fatal": fatal, "needs_review": needs_review, "items": items},
        "timings": {"asr": 1.5},
    }


GREET = ("agent", 0.0, 3.0, "您好，很高兴为您服务，请问有什么可以帮您？")
BYE = ("agent", 110.0, 113.0, "感谢您的来电，祝您生活愉快，再见。")


def fixture_results() -> list[dict]:
    r = make_result
    return [
        r(
            "c1",
            "A001",
            "2026-11-03T09:15:00+08:00",
            95.0,
            {"silence": "fail"},
            utterances=[
                GREET,
                ("customer", 3.5, 8.0, "我的话费怎么扣了这么多"),
                ("agent", 8.5, 12.0, "请您稍等，我帮您查询一下话费详单"),
                ("agent", 75.0, 80.0, "您的流量包已经超出了"),
                BYE,
            ],
            checks=[
                ("greeting", "pass", 0.0, 3.0, "您好，很高兴为您服务"),
                ("silence_over_30s", "fail", 40.0, 75.0, "静音35秒"),
            ],
        ),
        r(
            "c2",
            "A001",
            "2026-11-03T14:30:00+08:00",
            80.0,
            {"greeting": "fail", "silence": "fail"},
            utterances=[
                ("agent", 0.0, 2.0, "喂，说吧"),
                ("customer", 2.5, 6.0, "我不知道怎么办理套餐"),
                ("agent", 6.5, 10.0, "您可以发送短信办理流量套餐"),
                BYE,
            ],
            checks=[("greeting", "fail", 0.0, 2.0, "喂，说吧"), ("silence_over_30s", "fail", 50.0, 85.0, "静音35秒")],
        ),
        r(
            "c3",
            "A001",
            "2026-11-05T10:00:00+08:00",
            60.0,
            {"forbidden": "fail", "closing": "fail", "silence": "not_applicable"},
            fatal=True,
            utterances=[
                GREET,
                ("customer", 3.5, 9.0, "我的宽带一直连不上网"),
                ("agent", 63.0, 66.0, "这个我不知道，你自己去营业厅问吧。"),
                ("customer", 66.5, 70.0, "你们这是什么服务态度"),
            ],
            checks=[
                ("forbidden_phrase", "fail", 63.0, 66.0, "我不知道"),
                ("closing", "fail", 66.0, 70.0, "未使用结束语"),
            ],
        ),
        r(
            "c4",
            "A002",
            "2026-11-04T11:00:00+08:00",
            100.0,
            {},
            utterances=[GREET, ("customer", 3.5, 7.0, "我想查询一下积分"), ("agent", 7.5, 11.0, "好的，请您稍等"), BYE],
            checks=[("greeting", "pass", 0.0, 3.0, "您好")],
        ),
        r(
            "c5",
            "A002",
            "2026-11-10T16:45:00+08:00",
            90.0,
            {"closing": "needs_review"},
            needs_review=True,
            utterances=[
                GREET,
                ("customer", 3.5, 7.0, "帮我取消这个业务"),
                ("agent", 7.5, 12.0, "请您稍等，我帮您查询一下"),
            ],
            checks=[("closing", "needs_review", 100.0, 105.0, "结束语不完整")],
        ),
        r(
            "c6",
            "A003",
            "2026-11-20T08:05:00+08:00",
            70.0,
            {"greeting": "fail", "silence": "fail"},
            utterances=[
                ("agent", 0.0, 2.0, "嗯，什么事"),
                ("customer", 2.5, 6.0, "我的手机欠费停机了"),
                ("agent", 6.5, 9.0, "这个我不只到啊"),
                ("agent", 80.0, 84.0, "您先交话费吧"),
            ],
            checks=[("greeting", "fail", 0.0, 2.0, "嗯，什么事"), ("silence_over_60s", "fail", 10.0, 78.0, "静音68秒")],
        ),
        r("c7", "A003", "2026-11-21T09:00:00+08:00", None, {}, status="failed", error="AudioError: cannot decode"),
        r(
            "c8",
            "A004",
            "2026-10-30T10:00:00+08:00",
            50.0,
            {"forbidden": "fail"},
            fatal=True,
            utterances=[("agent", 0.0, 2.0, "我不知道")],
            checks=[("forbidden_phrase", "fail", 0.0, 2.0, "我不知道")],
        ),
    ]


def write_results_dir(root: Path, results: list[dict] | None = None) -> Path:
    calls = root / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    for r in results if results is not None else fixture_results():
        (calls / f"{r['call_id']}.json").write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    return root


def build_fixture_db(tmp: Path, db: Path | str | None = None) -> Path | str:
    """The fixture calls imported into `db` (a SQLite file or a database URL; default tmp/callqa.db)."""
    from qa_pipeline.store import import_results

    root = write_results_dir(tmp / "results")
    db = db if db is not None else tmp / "callqa.db"
    rep = import_results(root, db)
    assert not rep.failed, rep.failed
    return db
