"""A small results database for the review/workstation tests: three calls scored by the real 10086 rubric
(`score_findings`), each with a generated stereo WAV (tones per party, so the audio element has real media)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from qa_pipeline.result import SCHEMA_VERSION
from qa_pipeline.rubric import load_rubric, score_findings
from qa_pipeline.store import open_store
from qa_pipeline.store.db import Store
from qa_pipeline.types import Finding

RUBRIC = load_rubric("10086")
DURATION = 150.0


def write_audio(path: Path, duration: float = DURATION, sr: int = 8000) -> Path:
    t = np.arange(int(duration * sr)) / sr
    agent = 0.2 * np.sin(2 * np.pi * 440 * t) * ((t % 10) < 4)
    cust = 0.2 * np.sin(2 * np.pi * 660 * t) * (((t + 5) % 10) < 4)
    sf.write(path, np.stack([agent, cust], axis=1).astype(np.float32), sr, subtype="PCM_16")
    return path


def _finding_json(f: Finding) -> dict:
    return {
        "check": f.check,
        "status": f.status,
        "start": f.start,
        "end": f.end,
        "speaker": f.speaker,
        "evidence": f.evidence,
        "detail": f.detail,
    }


# Findings of call A: greeting fails (S1.1.1 −2), an unannounced 69.9 s silence (S2.1.4 −2 per check: 30 s and
# 60 s bindings → −3 capped), a 推诿 phrase (S2.4.1, fatal), everything else passes.
FINDINGS_A = [
    Finding("greeting", "fail", 0.0, 3.0, "agent", "喂，说吧", {}),
    Finding("closing", "pass", 140.0, 143.0, "agent", "再见", {}),
    Finding("silence_over_30s", "fail", 14.0, 83.9, None, "", {"duration_s": 69.9, "announced": False}),
    Finding("silence_over_60s", "fail", 14.0, 83.9, None, "", {"duration_s": 69.9, "announced": False}),
    Finding(
        "forbidden_phrase",
        "fail",
        100.0,
        102.5,
        "agent",
        "这个您去营业厅办吧",
        {"category": "shirking", "method": "exact", "score": 1.0},
    ),
    Finding("repeated_question", "pass", speaker="agent", detail={}),
    Finding("polite_terms", "pass", speaker="agent", detail={}),
]
FINDINGS_B = [
    Finding("greeting", "pass", 0.0, 3.0, "agent", "您好", {}),
    Finding("closing", "pass", 140.0, 143.0, "agent", "再见", {}),
]

UTTS = [
    ("agent", 0.0, 3.0, "喂，说吧"),
    ("customer", 3.5, 9.0, "我想查一下这个月的流量"),
    ("agent", 9.5, 13.5, "我看一下"),
    ("agent", 84.0, 90.0, "查到了，您的流量用了八成"),
    ("customer", 90.5, 99.0, "那我想办个流量包"),
    ("agent", 100.0, 102.5, "这个您去营业厅办吧"),
    ("agent", 140.0, 143.0, "再见"),
]


def make_result(call_id, agent_id, name, team, started, findings, audio: Path, utts=UTTS) -> dict:
    score = score_findings(findings, RUBRIC)
    return {
        "schema_version": SCHEMA_VERSION,
        "call_id": call_id,
        "status": "ok",
        "error": None,
        "agent_id": agent_id,
        "metadata": {"agent_name": name, "team": team, "started_at": started, "queue": "10086-1"},
        "audio": {
            "path": str(audio),
            "sha256": "0" * 64,
            "duration_s": DURATION,
            "sample_rate": 8000,
            "channels": 2,
            "layout": "stereo",
            "codec": "pcm_s16le",
        },
        "engine": {"asr": "faster-whisper", "model": "base", "rubric": "10086", "rubric_version": RUBRIC.version},
        "utterances": [{"speaker": s, "start": a, "end": b, "text": t} for s, a, b, t in utts],
        "events": [{"type": "speech", "start": a, "end": b, "speaker": s} for s, a, b, _ in utts]
        + [{"type": "silence", "start": 14.0, "end": 83.9, "speaker": None}],
        "checks": [_finding_json(f) for f in findings],
        "score": {
            "total": score.total,
            "max": score.max,
            "fatal": score.fatal,
            "needs_review": score.needs_review,
            "items": [
                {
                    "id": i.id,
                    "title": i.title,
                    "points": i.points,
                    "deduction": i.deduction,
                    "status": i.status,
                    "fatal": i.fatal,
                    "reasons": list(i.reasons),
                }
                for i in score.items
            ],
        },
        "timings": {},
    }


CALL_A = "20261120_A017_000001"  # 王芳 (A017), fatal
CALL_A2 = "20261120_A017_000002"  # 王芳, clean
CALL_B = "20261120_A020_000001"  # 李娜 (A020), clean


def build_db(tmp_path: Path) -> Store:
    audio = write_audio(tmp_path / "call.wav")
    store = open_store(tmp_path / "callqa.db")
    store.upsert_call(make_result(CALL_A, "A017", "王芳", "一组", "2026-11-20T09:00:00", FINDINGS_A, audio))
    store.upsert_call(make_result(CALL_A2, "A017", "王芳", "一组", "2026-11-20T10:00:00", FINDINGS_B, audio))
    store.upsert_call(make_result(CALL_B, "A020", "李娜", "二组", "2026-11-20T11:00:00", FINDINGS_B, audio))
    return store


# ------------------------------------------------------------------ the workstation through FastAPI's TestClient

PW = "password-1"


def client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(app, username: str, password: str = PW) -> tuple[TestClient, str]:
    c = client(app)
    tok = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": tok})
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    return c, csrf_of(page.text) if page.status_code == 200 else ""
