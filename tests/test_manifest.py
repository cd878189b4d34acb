from pathlib import Path

import pytest

from qa_pipeline.manifest import ManifestError, compile_name_pattern, discover_audio, metadata_from_name, read_manifest


def test_name_pattern_fills_metadata() -> None:
    pat = compile_name_pattern("{date}_{agent_id}_{call_id}")
    md = metadata_from_name(Path("/x/20261122_A017_000123.wav"), pat)
    assert (md.call_id, md.agent_id, md.started_at) == ("000123", "A017", "2026-11-22")
    assert metadata_from_name(Path("/x/odd.wav"), pat).call_id == "odd"
    assert metadata_from_name(Path("/x/c1.wav"), None).call_id == "c1"
    with pytest.raises(ValueError):
        compile_name_pattern("no fields")


def test_manifest_rows_good_and_bad(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(
        "call_id,path,agent_id,agent_name,team,started_at,queue,transferred_at\n"
        "c1,a.wav,A1,张三,一组,2026-11-22T09:00:00,fee,\n"
        "c2,b.wav,A2,李四,二组,2026-11-22T09:05:00,fee,35.5\n"
        "c3,,A3,王五,二组,,,\n"
        "c4,d.wav,A4,赵六,二组,,,soon\n"
        "c1,e.wav,A1,张三,一组,,,\n",
        encoding="utf-8-sig",
    )
    jobs = read_manifest(tmp_path / "m.csv")
    assert [j.error is None for j in jobs] == [True, True, False, False, False]
    assert jobs[0].metadata.agent_name == "张三" and jobs[0].path == tmp_path / "a.wav"
    assert jobs[1].metadata.transferred_at == 35.5
    assert "m.csv:4：path 为空" in (jobs[2].error or "")
    assert "不是秒数" in (jobs[3].error or "")
    assert "重复" in (jobs[4].error or "") and jobs[4].metadata.call_id != "c1"


def test_bad_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="清单文件不存在"):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "m.csv").write_text("call_id,file\n1,a.wav\n")
    with pytest.raises(ManifestError, match="含 path 列的表头"):
        read_manifest(tmp_path / "m.csv")


def test_discover_skips_non_audio_and_mono_mixdowns(tmp_path: Path) -> None:
    for name in ("a.wav", "b.flac", "b.mono.flac", "b.truth.json", "notes.txt", "sub/c.mp3"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover_audio([tmp_path])]
    assert found == ["a.wav", "b.flac", "sub/c.mp3"]


def test_a_name_pattern_without_fields_is_said_from_the_catalog() -> None:
    import pytest

    from qa_pipeline.manifest import compile_name_pattern

    with pytest.raises(ValueError, match="文件名模式 abc 里没有 {字段} 占位符"):
        compile_name_pattern("abc")
