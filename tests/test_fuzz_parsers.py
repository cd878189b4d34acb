"""Fuzz the three parsers that take text from users: rubric YAML, transcript files, search queries.

Property: any input gives a result or the parser's own clear error — never another exception (a traceback).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_pipeline.asr import TranscriptError
from qa_pipeline.asr.transcript import read_transcript
from qa_pipeline.rubric import RubricError, parse_rubric
from qa_pipeline.store.query import QueryError, highlight, parse_query, positive_terms

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAML_PIECES = st.sampled_from(
    [
        "id: x\n",
        "title: 标题\n",
        "version: '1'\n",
        "version: 1\n",
        "items:\n",
        "  - id: a\n",
        "    title: A\n",
        "    points: 5\n",
        "    points: -5\n",
        "    points: .nan\n",
        "    checks: [{check: greeting}]\n",
        "    checks: [{check: nope}]\n",
        "    manual: true\n",
        "checks:\n",
        "  silence_over_30s: {min_gap_s: thirty}\n",
        "  response_latency: {max_latency_s: null}\n",
        "  greeting: {model: 3}\n",
        "extends: 10086\n",
        "extends: missing.yaml\n",
        "a: &x [1, *x]\n",
        "b: &y {c: *y}\n",
        "- [\n",
        "}{\n",
        "&a\n",
        "*a\n",
        "!!python/object:os.system x\n",
        "\t\n",
        "rules: [foo]\n",
        "fatal_policy: zero_total\n",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
UTTERANCE = st.fixed_dictionaries(
    {},
    optional={
        "speaker": st.sampled_from(["agent", "customer", "unknown", "AGENT", "x", 1, None, True]),
        "start": JSON_VALUES,
        "end": JSON_VALUES,
        "text": JSON_VALUES,
    },
)


@FAST
@given(st.lists(YAML_PIECES, max_size=14), st.text(max_size=40))
def test_rubric_parser_never_tracebacks(pieces: list[str], noise: str) -> None:
    for text in ("".join(pieces), "".join(pieces) + noise):
        try:
            parse_rubric(text, "fuzz.yaml")
        except RubricError as exc:
            assert str(exc).startswith("fuzz.yaml") or "rubric" in str(exc) or ".yaml" in str(exc)


@FAST
@given(st.one_of(st.lists(UTTERANCE, max_size=6).map(lambda u: {"utterances": u}), JSON_VALUES))
def test_transcript_json_never_tracebacks(doc: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.transcript.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, allow_nan=True), encoding="utf-8")
        try:
            utts = read_transcript(path)
        except TranscriptError as exc:
            assert str(path) in str(exc)
        else:
            assert all(isinstance(u.text, str) and 0 <= u.start <= u.end < float("inf") for u in utts)


@FAST
@given(st.text(alphabet=st.sampled_from(list(' "“”()（）ANDORNOT您好不知道xy[/b]\\*:-')), max_size=80))
def test_transcript_csv_and_search_query_never_traceback(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.csv"
        path.write_text("speaker,start,end,text\n" + text, encoding="utf-8")
        try:
            read_transcript(path)
        except TranscriptError:
            pass
    try:
        tree = parse_query(text)
    except QueryError as exc:
        assert str(exc)
    else:
        highlight("您好，我不知道", positive_terms(tree))


@FAST
@given(st.text(max_size=300))
def test_search_query_any_text(text: str) -> None:
    try:
        parse_query(text)
    except QueryError:
        pass
