"""faster-whisper (CTranslate2) engine: the default, fastest on CPU (int8)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa_pipeline.asr import models
from qa_pipeline.asr.engine import WindowedWhisperEngine
from qa_pipeline.asr.filters import RawSegment, RawWord
from qa_pipeline.asr.options import AsrOptions, ModelNotInstalledError, resolve_device


def model_dir(model: str) -> Path:
    """A CTranslate2 model directory given by path, or a known offline model from the cache."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "model.bin").is_file():
            raise ModelNotInstalledError(f"{p} is not a CTranslate2 model directory (no model.bin)")
        return p
    return models.ensure_ct2(model)


class FasterWhisperEngine(WindowedWhisperEngine):
    name = "faster-whisper"

    def __init__(self, options: AsrOptions) -> None:
        super().__init__(options)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: we always pass a local directory
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelNotInstalledError("faster-whisper is not installed: pip install faster-whisper==1.2.1") from e
        path = model_dir(options.model)
        self.model = options.model
        self.compute_type = options.compute_type
        self._model = WhisperModel(
            str(path),
            device=resolve_device(options.device),
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
            local_files_only=True,
        )

    def _run(self, samples: np.ndarray) -> list[RawSegment]:
        o = self.options
        segments, _ = self._model.transcribe(
            samples.astype(np.float32, copy=False),
            language="zh",
            task="transcribe",
            beam_size=o.beam_size,
            best_of=o.beam_size,
            temperature=list(o.temperature),
            condition_on_previous_text=False,  # no loops carried from one sentence into the next
            word_timestamps=o.word_timestamps,
            vad_filter=False,  # speech-only windows already
            no_speech_threshold=o.no_speech_threshold,
            log_prob_threshold=o.log_prob_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
        )
        out: list[RawSegment] = []
        for s in segments:  # a generator: decoding happens here
            words = [RawWord(w.word, w.start, w.end, w.probability) for w in (s.words or [])]
            out.append(RawSegment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob, s.compression_ratio))
        return out
