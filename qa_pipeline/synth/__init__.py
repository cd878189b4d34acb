"""Synthetic call generator: YAML dialogue spec -> stereo 8 kHz call + exact ground truth.

    render_spec(spec_path, out_dir, mono=False, seed=0, customer_clips_dir=None) -> audio path

writes ``<id>.flac`` (ch0 agent, ch1 customer), ``<id>.truth.json``, ``<id>.transcript.json``
and optionally ``<id>.mono.flac``. See docs/samples.md.
"""

from __future__ import annotations

from pathlib import Path

SPECS_DIR = Path(__file__).parent / "specs"
REAL_SPECS_DIR = SPECS_DIR / "real"


def render_spec(
    spec_path: Path, out_dir: Path, *, mono: bool = False, seed: int = 0, customer_clips_dir: Path | None = None
) -> Path:
    """Render one spec; returns the stereo FLAC path. ``customer_clips_dir`` is needed by specs
    whose customer turns use ``clip:`` (real recorded speech)."""
    from .render import render_spec as _render

    return _render(Path(spec_path), Path(out_dir), mono=mono, seed=seed, customer_clips_dir=customer_clips_dir)


def builtin_specs(real: bool = False) -> list[Path]:
    return sorted((REAL_SPECS_DIR if real else SPECS_DIR).glob("*.yaml"))


__all__ = ["render_spec", "builtin_specs", "SPECS_DIR", "REAL_SPECS_DIR"]
