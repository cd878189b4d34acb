"""openai-whisper (PyTorch) engine: same weights as faster-whisper (converted), runs on CUDA when asked."""

from __future__ import annotations

import importlib.util

import numpy as np

from qa_pipeline.asr import models
from qa_pipeline.asr.engine import WindowedWhisperEngine
from qa_pipeline.asr.filters import RawSegment, RawWord
from qa_pipeline.asr.options import AsrOptions, ModelNotInstalledError, resolve_device
from qa_pipeline.i18n import t

INSTALL = "pip install --no-deps openai-whisper==20250625 && pip install tiktoken numba more-itertools tqdm"


class OpenAIWhisperEngine(WindowedWhisperEngine):
    name = "openai-whisper"

    @classmethod
    def compute_type_for(cls, options: AsrOptions) -> str:
        return "float16" if resolve_device(options.device).startswith("cuda") else "float32"

    def __init__(self, options: AsrOptions) -> None:
        super().__init__(options)
        if importlib.util.find_spec("whisper") is None:
            raise ModelNotInstalledError(t("install.missing", package="openai-whisper", install=INSTALL))
        import torch
        import whisper

        self.device = resolve_device(options.device)
        if self.device == "cpu":
            torch.set_num_threads(options.cpu_threads)  # process-wide; matches faster-whisper's cpu_threads
        # Never a model name: whisper.load_model(name) would try to download. Always our converted file.
        ckpt_path = models.convert(options.model)
        self.model = options.model
        self.compute_type = "float16" if self.device.startswith("cuda") else "float32"
        self._model = whisper.load_model(str(ckpt_path), device=self.device)
        heads = torch.load(ckpt_path, map_location="cpu", weights_only=True).get("alignment_heads") or []
        if heads:
            # The cross-attention heads that track time (from the CTranslate2 config): better word timings
            # than whisper's default of "all heads of the upper half".
            dims = self._model.dims
            mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            self._model.register_buffer("alignment_heads", mask.to_sparse().to(self.device), persistent=False)

    def _run(self, samples: np.ndarray) -> list[RawSegment]:
        o = self.options
        temps = tuple(o.temperature)
        result = self._model.transcribe(
            samples.astype(np.float32, copy=False),
            language="zh",
            task="transcribe",
            verbose=None,
            temperature=temps if len(temps) > 1 else temps[0],
            beam_size=o.beam_size if o.beam_size > 1 else None,
            best_of=o.beam_size if o.beam_size > 1 and len(temps) > 1 else None,
            fp16=self.compute_type == "float16",
            condition_on_previous_text=False,
            word_timestamps=o.word_timestamps,
            no_speech_threshold=o.no_speech_threshold,
            logprob_threshold=o.log_prob_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
        )
        out: list[RawSegment] = []
        for s in result["segments"]:
            words = [
                RawWord(w["word"], float(w["start"]), float(w["end"]), w.get("probability")) for w in s.get("words", [])
            ]
            out.append(
                RawSegment(
                    float(s["start"]),
                    float(s["end"]),
                    s["text"],
                    words,
                    s["avg_logprob"],
                    s["no_speech_prob"],
                    s["compression_ratio"],
                )
            )
        return out
