# ruff: noqa: F811  (pytest fixtures imported from fixtures_loop are used as parameters)
"""Trainer collections: search in the page, collect with notes, read-only sharing, the export zip's contents
(clips + index CSV, personal data masked in clips), permissions and the audit log."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import numpy as np
import soundfile as sf
from fixtures_loop import client, login, loop_env, loop_template, user  # noqa: F401
from fixtures_review import CALL_A, CALL_B, FINDINGS_B, UTTS, make_result

from qa_pipeline.review import collections as K
from qa_pipeline.review import service as R
from qa_pipeline.types import Finding

CALL_PII = "20261120_A020_000077"


def _collect(app, store):
    tr, tok = login(app, "培训")
    r = tr.post("/collections", data={"name": "推诿反例", "csrf_token": tok})
    assert r.status_code == 303
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    page = tr.get("/search", params={"q": "营业厅", "speaker": "agent"}).text
    assert "<mark>营业厅</mark>" in page and 'class="play"' in page and f'data-src="/calls/{CALL_A}/audio"' in page
    hit = re.search(r'data-src="/calls/(\w+)/audio" data-t="([\d.]+)" data-end="([\d.]+)"', page)
    call_id, start, end = hit.group(1), float(hit.group(2)), float(hit.group(3))
    assert (call_id, start, end) in {(c, 100.0, 102.5) for c in (CALL_A, "20261120_A017_000002", CALL_B)}
    form = {
        "call_id": CALL_A,
        "start": "100.0",
        "end": "102.5",
        "speaker": "agent",
        "text": "这个您去营业厅办吧",
        "rule": "forbidden_phrase",
        "note": "典型推诿：应主动办理",
        "csrf_token": tok,
    }
    assert tr.post(f"/collections/{cid}/examples", data=form).status_code == 303
    form |= {"start": "0.0", "end": "3.0", "text": "喂，说吧", "rule": "greeting", "note": "开头语不规范"}
    assert tr.post(f"/collections/{cid}/examples", data=form).status_code == 303
    return tr, tok, cid


def test_search_collect_note_and_export(loop_env):
    app, store = loop_env
    tr, tok, cid = _collect(app, store)
    page = tr.get(f"/collections/{cid}").text
    assert "典型推诿：应主动办理" in page and "开头语不规范" in page
    r = tr.get(f"/collections/{cid}/export.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = sorted(zf.namelist())
    assert names == ["clips/001_20261120_A017_000001_0140.wav", "clips/002_20261120_A017_000001_0000.wav", "index.csv"]
    rows = list(csv.reader(io.StringIO(zf.read("index.csv").decode("utf-8-sig"))))
    assert rows[0][:3] == ["录音片段", "通话", "坐席工号"]
    body = rows[1:]
    assert [r[0] for r in body] == names[:2]
    first = dict(zip(rows[0], body[0], strict=True))
    assert first["通话"] == CALL_A and first["坐席"] == "王芳" and first["坐席工号"] == "A017"
    assert first["片段时间"] == "01:40–01:42" and first["转写"] == "这个您去营业厅办吧"
    assert first["备注"] == "典型推诿：应主动办理" and "forbidden_phrase" in first["规则"]
    assert first["通话时间"].startswith("2026-11-20T09:00")
    # the clip: the line plus 1 s either side (2.5 + 2 = 4.5 s), both channels
    data, sr = sf.read(io.BytesIO(zf.read(names[0])))
    assert sr == 8000 and data.shape == (int(4.5 * 8000), 2)
    data2, _ = sf.read(io.BytesIO(zf.read(names[1])))
    assert data2.shape[0] == int(4.0 * 8000)  # starts at 0: no second before it
    actions = [a["action"] for a in R.audit_for_call(store, CALL_A)]
    assert actions.count("collection_add") == 2


def test_pii_is_masked_in_exported_clips(loop_env, tmp_path):
    app, store = loop_env
    findings = [*FINDINGS_B, Finding("pii_masked", "pass", 0.5, 2.0, "agent", "", {"category": "phone"})]
    audio = R.load_call(store, CALL_A, transcript=False).call["audio_path"]
    store.upsert_call(make_result(CALL_PII, "A020", "李娜", "二组", "2026-11-20T15:00:00", findings, audio, UTTS))
    tr = user(store, "培训")
    cid = K.create_collection(store, tr, "隐私")
    K.add_example(store, tr, cid, CALL_PII, start=0.0, end=3.0, speaker="agent", text="喂，说吧")
    buf = io.BytesIO()
    assert K.export_zip(store, tr, cid, buf) == 1
    zf = zipfile.ZipFile(buf)
    data, sr = sf.read(io.BytesIO(zf.read(zf.namelist()[0])))
    agent = data[int(0.7 * sr) : int(1.8 * sr), 0]  # inside the masked span (0.5–2.0 s, padded)
    peak = np.fft.rfftfreq(len(agent), 1 / sr)[np.argmax(np.abs(np.fft.rfft(agent)))]
    assert abs(peak - 1000) < 20  # privacy's mask tone, not the 440 Hz agent
    after = data[int(2.5 * sr) : int(3.5 * sr), 0]  # outside: the original 440 Hz
    peak2 = np.fft.rfftfreq(len(after), 1 / sr)[np.argmax(np.abs(np.fft.rfft(after)))]
    assert abs(peak2 - 440) < 20


def test_sharing_is_read_only_and_permissions(loop_env):
    app, store = loop_env
    tr, tok, cid = _collect(app, store)
    sup, stok = login(app, "主管")  # supervisors collect too: a second "trainer" here
    assert sup.get(f"/collections/{cid}").status_code == 404  # not shared yet
    assert sup.get(f"/collections/{cid}/export.zip").status_code == 404
    assert tr.post(f"/collections/{cid}/share", data={"shared": "1", "csrf_token": tok}).status_code == 303
    page = sup.get(f"/collections/{cid}")
    assert page.status_code == 200 and "只读" in page.text and "/remove" not in page.text
    assert sup.get(f"/collections/{cid}/export.zip").status_code == 200
    eid = K.get_collection(store, cid)["examples"][0]["example_id"]
    for path, data in (
        (f"/collections/{cid}/examples", {"call_id": CALL_A, "start": "1", "end": "2"}),
        (f"/collections/{cid}/examples/{eid}/note", {"note": "改"}),
        (f"/collections/{cid}/examples/{eid}/remove", {}),
        (f"/collections/{cid}/share", {}),
    ):
        assert sup.post(path, data=data | {"csrf_token": stok}).status_code == 404, path
    assert len(K.get_collection(store, cid)["examples"]) == 2
    # the owner changes a note and removes an example
    assert (
        tr.post(f"/collections/{cid}/examples/{eid}/note", data={"note": "新备注", "csrf_token": tok}).status_code
        == 303
    )
    assert K.get_collection(store, cid)["examples"][0]["note"] == "新备注"
    assert tr.post(f"/collections/{cid}/examples/{eid}/remove", data={"csrf_token": tok}).status_code == 303
    assert len(K.get_collection(store, cid)["examples"]) == 1
    # agents and reviewers: no search, no collections
    for name in ("王芳", "王审"):
        c, _ = login(app, name)
        for path in ("/search?q=营业厅", "/collections", f"/collections/{cid}", f"/collections/{cid}/export.zip"):
            assert c.get(path).status_code == 404, (name, path)
    assert client(app).get("/search").status_code == 303
    # a bad query is a message, not a traceback
    bad = tr.get("/search", params={"q": '"未闭合'})
    assert bad.status_code == 200
    # …saying what is wrong, in the page's language
    bad = tr.get("/search", params={"q": "NOT 您好"})
    assert bad.status_code == 200 and "NOT 前面需要有检索词" in bad.text
    # nothing found: a link that searches the same words by sound (ASR writes homophones), unless already so
    none = tr.get("/search", params={"q": "完全没有这句话"})
    assert "没有找到" in none.text and 'id="try-pinyin"' in none.text and "pinyin=1" in none.text
    none = tr.get("/search", params={"q": "完全没有这句话", "pinyin": "1"})
    assert "没有找到" in none.text and 'id="try-pinyin"' not in none.text
    # no CSRF token: rejected
    assert tr.post("/collections", data={"name": "x"}).status_code == 403
