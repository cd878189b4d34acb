"""judging: the worker warm-up (what judging loads on first use is loaded when a worker starts)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_scorer_warms_judging_up_when_it_loads() -> None:
    """In a fresh process: jieba's dictionary is not loaded before, a batch scorer's load judges the warm-up call
    (a real judgement, not an error swallowed) and leaves the dictionary loaded, so the first call's `checks`
    time is its own."""
    code = textwrap.dedent(
        """
        import jieba
        from qa_pipeline import batch, judging
        from qa_pipeline.asr import AsrOptions
        from qa_pipeline.pipeline import PipelineOptions

        assert not jieba.dt.initialized
        seen = []
        real = judging.warm_up
        batch.warm_up = lambda rubric: seen.append(real(rubric))
        scorer = batch._Scorer.load(PipelineOptions(asr=AsrOptions(engine="transcript")))
        (judgement,) = seen
        assert judgement is not None and judgement.findings, judgement
        assert {f.check for f in judgement.findings} >= {"greeting", "forbidden_phrase"}
        assert jieba.dt.initialized
        assert scorer.rubric.check_names
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
