"""faster-whisper (CTranslate2) engine: the default, fastest on CPU (int8), batched on CPU and GPU.

Batching: all windows of a call (both parties) are encoded in one encoder call and their first (temperature 0)
beam search runs as one batched `generate`; every window then goes through faster-whisper's own transcription
loop with that first pass handed in (`_PrimedWhisperModel`), so temperature fallbacks, continuing after an early
stop, word timestamps and its silence rules are exactly the library's. Only the first pass is shared.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from qa_pipeline.asr import models
from qa_pipeline.asr.engine import WindowedWhisperEngine
from qa_pipeline.asr.filters import RawSegment, RawWord
from qa_pipeline.asr.options import AsrOptions, ModelNotInstalledError, resolve_device
from qa_pipeline.i18n import t

CPU_BATCH_WINDOWS = 4  # a typical call's windows (both parties) in one batch; ~0.8 GB peak per worker
CROSS_CACHE_MB_PER_ROW = 40  # base: 2 (K, V) × 6 layers × 1500 frames × 512 × 4 bytes ≈ 37 MB per beam row


def model_dir(model: str) -> Path:
    """A CTranslate2 model directory given by path, or a known offline model from the cache."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "model.bin").is_file():
            raise ModelNotInstalledError(t("models.error.not_ct2", folder=p))
        return p
    return models.ensure_ct2(model)


def gpu_batch_size(beam_size: int, free_bytes: int | None = None, cap: int = 64) -> int:
    """Windows per batched decode on a GPU: what fits in half the free memory (the rest: the encoder's
    activations and CTranslate2's allocator slack) at CROSS_CACHE_MB_PER_ROW per beam row."""
    if free_bytes is None:
        free_bytes = _cuda_free_bytes()
    if not free_bytes:
        return 8
    rows = free_bytes // 2 // (CROSS_CACHE_MB_PER_ROW << 20)
    return int(max(1, min(cap, rows // max(1, beam_size))))


def _cuda_free_bytes() -> int | None:
    try:
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0])
    except Exception:  # no torch / no CUDA runtime: fall back to a fixed batch
        return None
    return None


def _make_primed_model(base: type) -> type:
    class _PrimedWhisperModel(base):
        """A WhisperModel whose next encode() and first decode can be handed in precomputed (the batched
        pass); everything after (fallbacks, continuation, word alignment) runs unchanged."""

        primed_encoding: Any = None
        primed_decoding: Any = None

        def encode(self, features: np.ndarray) -> Any:
            enc, self.primed_encoding = self.primed_encoding, None
            return enc if enc is not None else super().encode(features)

        def generate_with_fallback(self, encoder_output: Any, prompt: list[int], tokenizer: Any, options: Any) -> Any:
            first, self.primed_decoding = self.primed_decoding, None
            if first is None:
                return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            if not _needs_fallback(first, options) or len(options.temperatures) < 2:
                return first
            # A fallback (rare: noise, music): the library's own schedule after temperature 0, whose (beam)
            # result is the primed one: redoing it cost a whole beam search per fallback window.
            rest = super().generate_with_fallback(
                encoder_output, prompt, tokenizer, dataclasses.replace(options, temperatures=options.temperatures[1:])
            )
            return _after_fallbacks(first, rest, options)

    return _PrimedWhisperModel


def _after_fallbacks(first: tuple[Any, ...], rest: tuple[Any, ...], options: Any) -> tuple[Any, ...]:
    """What the library's generate_with_fallback returns for the whole schedule, given its temperature-0 result
    (`first`, which failed) and what it returned for the temperatures after it (`rest`). When a later
    temperature passed, that one; when every one failed, the highest average log-probability among the results
    under the compression-ratio threshold (or among all when none is), earlier first on a tie, with the last
    temperature (what the library reports). `rest` is already that choice among the later temperatures."""
    if not _needs_fallback(rest, options):
        return rest
    limit = options.compression_ratio_threshold

    def below(r: tuple[Any, ...]) -> bool:
        return limit is not None and r[3] <= limit

    pool = [r for r in (first, rest) if below(r)] or [first, rest]
    best = max(pool, key=lambda r: r[1])
    return (best[0], best[1], rest[2], best[3])


def _needs_fallback(decoded: tuple[Any, float, float, float], options: Any) -> bool:
    """faster-whisper's rule (generate_with_fallback) for retrying at a higher temperature."""
    result, avg_logprob, _, compression_ratio = decoded
    needs = options.compression_ratio_threshold is not None and compression_ratio > options.compression_ratio_threshold
    low = options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold
    if low:
        needs = True
        if options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold:
            needs = False  # silence
    return needs


class FasterWhisperEngine(WindowedWhisperEngine):
    name = "faster-whisper"

    def __init__(self, options: AsrOptions) -> None:
        super().__init__(options)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: we always pass a local directory
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelNotInstalledError(
                t("install.missing", package="faster-whisper", install="pip install faster-whisper==1.2.1")
            ) from e
        path = model_dir(options.model)
        self.model = options.model
        self.compute_type = options.compute_type
        self.device = resolve_device(options.device)
        self._model = _make_primed_model(WhisperModel)(
            str(path),
            device=self.device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
            local_files_only=True,
        )
        self.batch_windows = options.batch_windows
        if self.batch_windows <= 0:
            on_gpu = self.device.startswith("cuda")
            self.batch_windows = gpu_batch_size(options.beam_size) if on_gpu else CPU_BATCH_WINDOWS

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
        try:
            for s in segments:  # a generator: decoding happens here
                words = [RawWord(w.word, w.start, w.end, w.probability) for w in (s.words or [])]
                out.append(
                    RawSegment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob, s.compression_ratio)
                )
        finally:  # a primed pass never leaks into the next window
            self._model.primed_encoding = self._model.primed_decoding = None
        return out

    def _run_many(self, batch: list[np.ndarray]) -> list[list[RawSegment]]:
        n = max(1, self.batch_windows)
        if n == 1 or len(batch) < 2 or self.options.temperature[:1] != (0.0,):
            return [self._run(x) for x in batch]
        out: list[list[RawSegment]] = []
        for i in range(0, len(batch), n):
            out.extend(self._run_batched(batch[i : i + n]))
        return out

    def _run_batched(self, batch: list[np.ndarray]) -> list[list[RawSegment]]:
        """First pass of every window together (one encode, one beam search), then each window through the
        library's loop with its first pass handed in."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        m, o = self._model, self.options
        if len(batch) == 1:
            return [self._run(batch[0])]
        feats = []
        for x in batch:
            f = m.feature_extractor(x.astype(np.float32, copy=False))
            content = f.shape[-1] - 1  # as WhisperModel.transcribe → generate_segments cuts its first segment
            feats.append(pad_or_trim(f[:, : min(m.feature_extractor.nb_max_frames, content)]))
        # to_cpu: slices of the output are handed to the per-window loop (ctranslate2 moves them back)
        enc = m.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(feats))), to_cpu=True)
        enc_np = np.asarray(enc)
        tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language="zh")
        prompt = m.get_prompt(tok, [], without_timestamps=False)
        results = m.model.generate(
            enc,
            [list(prompt) for _ in batch],
            beam_size=o.beam_size,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            max_length=m.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tok, [-1]),
            max_initial_timestamp_index=int(round(1.0 / m.time_precision)),
        )
        out = []
        for i, (x, res) in enumerate(zip(batch, results, strict=True)):
            tokens = res.sequences_ids[0]
            avg_logprob = res.scores[0] * len(tokens) / (len(tokens) + 1)
            ratio = get_compression_ratio(tok.decode(tokens).strip())
            m.primed_encoding = ctranslate2.StorageView.from_array(np.ascontiguousarray(enc_np[i : i + 1]))
            m.primed_decoding = (res, avg_logprob, 0.0, ratio)
            out.append(self._run(x))
        return out
