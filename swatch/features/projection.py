"""Compact rows: a centre and the top principal directions, fitted on a catalogue's own rows (no labels)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from swatch.fsutil import atomic_write

KIND = "projection"
FILE = "projection.npz"
MAX_DIMS = 256


class ProjectionError(RuntimeError):
    """A projection cannot be fitted (too few rows, bad dimension) or its file is missing or altered."""


@dataclass
class Projection:
    """x -> (x - centre) @ components.T: `components` holds the top principal directions, one a row."""

    centre: np.ndarray
    components: np.ndarray
    variance_kept: float
    fitted_rows: int

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    def apply(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(rows, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.centre.shape[0]:
            raise ProjectionError(f"the projection expects {self.centre.shape[0]}-d rows, got {x.shape[1]}-d")
        return np.asarray((x - self.centre) @ self.components.T, dtype=np.float32)


def fit(rows: np.ndarray, dims: int, chunk: int = 8192) -> Projection:
    """Centre and top `dims` principal directions of `rows` (the covariance summed in chunks, in float64)."""
    n, d = int(rows.shape[0]), int(rows.shape[1])
    if not 1 <= dims <= min(MAX_DIMS, d):
        raise ProjectionError(f"a projection keeps 1 to {min(MAX_DIMS, d)} dimensions of {d}-d rows, not {dims}")
    if n <= dims:
        raise ProjectionError(f"{n} rows cannot fit a {dims}-d projection (more rows than dimensions needed)")
    total = np.zeros(d, np.float64)
    for s in range(0, n, chunk):
        total += np.asarray(rows[s:s + chunk], dtype=np.float64).sum(axis=0)
    centre = total / n
    cov = np.zeros((d, d), np.float64)
    for s in range(0, n, chunk):
        x = np.asarray(rows[s:s + chunk], dtype=np.float64) - centre
        cov += x.T @ x
    values, vectors = np.linalg.eigh(cov / n)
    order = np.argsort(values)[::-1][:dims]
    kept = float(values[order].sum() / max(float(values.clip(min=0).sum()), 1e-30))
    comps = vectors[:, order].T
    comps *= np.where(comps[np.arange(dims), np.abs(comps).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]  # fixed signs
    return Projection(centre.astype(np.float32), comps.astype(np.float32), round(kept, 6), n)


def save(path: Path, proj: Projection) -> str:
    """Write the projection's arrays atomically; returns the file's sha256."""
    buf = io.BytesIO()
    np.savez(buf, centre=proj.centre, components=proj.components,
             meta=np.array([proj.variance_kept, proj.fitted_rows], np.float64))
    raw = buf.getvalue()
    atomic_write(path, lambda fh: fh.write(raw))
    return hashlib.sha256(raw).hexdigest()


_CACHE: dict[tuple[str, int, int], tuple[str, Projection]] = {}
_LOCK = threading.Lock()


def load(path: Path, sha256: str | None = None) -> Projection:
    """Read a projection file (cached per file state); ProjectionError when missing, unreadable or altered."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ProjectionError(f"projection not readable at {path}: {exc.strerror or exc}") from exc
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        try:
            raw = path.read_bytes()
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                meta = npz["meta"]
                proj = Projection(np.asarray(npz["centre"], np.float32), np.asarray(npz["components"], np.float32),
                                  float(meta[0]), int(meta[1]))
        except (OSError, ValueError, KeyError) as exc:
            raise ProjectionError(f"projection at {path} is unreadable: {exc}") from exc
        cached = (hashlib.sha256(raw).hexdigest(), proj)
        with _LOCK:
            _CACHE[key] = cached
    digest, proj = cached
    if sha256 and digest != sha256:
        raise ProjectionError(f"projection at {path} changed since it was fitted (sha256 {digest[:12]})")
    return proj


def location(info: Mapping[str, Any]) -> Path:
    """Where a version's projection file is: its recorded path, else the same place under SWATCH_DATA_DIR."""
    spec = info.get("projection") or {}
    if not isinstance(spec, Mapping) or not spec.get("relative"):
        raise ProjectionError(f"version info of kind {KIND!r} names no projection file")
    recorded = Path(str(spec.get("file") or ""))
    if spec.get("file") and recorded.is_file():
        return recorded
    from swatch.config import Settings

    return Settings.from_env().data_dir / str(spec["relative"])


def projection_transform(info: dict[str, Any], base_rows: np.ndarray) -> np.ndarray:
    """The registered transform: rows of the base version -> the compact rows of the version described by `info`."""
    spec = info.get("projection") or {}
    return load(location(info), spec.get("sha256") if isinstance(spec, Mapping) else None).apply(base_rows)
