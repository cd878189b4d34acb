"""The CUDA path. Runs only where a CUDA device is present (marker `gpu`); batch sizing is checked everywhere."""

from __future__ import annotations

import pytest

from qa_pipeline.asr.faster_whisper import CROSS_CACHE_MB_PER_ROW, gpu_batch_size


def test_gpu_batch_size_fits_half_the_free_memory() -> None:
    gib = 1 << 30
    n = gpu_batch_size(5, 80 * gib)
    assert n * 5 * CROSS_CACHE_MB_PER_ROW <= 40 * 1024  # cross-attention cache within half of 80 GiB
    assert gpu_batch_size(5, 80 * gib, cap=16) == 16
    assert gpu_batch_size(5, 1 * gib) == 2
    assert gpu_batch_size(5, 100 << 20) == 1  # never zero


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not _cuda(), reason="no CUDA device")
def test_cuda_batched_transcript_matches_one_at_a_time() -> None:
    from test_asr_engines import _dialogue_call

    from qa_pipeline.asr import AsrOptions
    from qa_pipeline.asr.faster_whisper import FasterWhisperEngine

    audio, tl, _ = _dialogue_call()
    opts = dict(device="cuda", compute_type="float16")
    one = FasterWhisperEngine(AsrOptions(batch_windows=1, **opts)).transcribe(audio, tl)  # type: ignore[arg-type]
    engine = FasterWhisperEngine(AsrOptions(batch_windows=0, **opts))  # type: ignore[arg-type]
    batched = engine.transcribe(audio, tl)
    assert "".join(u.text for u in one.utterances)
    assert [u.text for u in batched.utterances] == [u.text for u in one.utterances]
