"""The trained pattern head in numpy: weights file (head.npz), its forward pass, its registered transform."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from swatch.features.base import l2_normalise
from swatch.features.versions import register_transform
from swatch.fsutil import atomic_write, file_sha256

HEAD_KIND = "trained-head"
HEAD_FILE = "head.npz"


class HeadError(RuntimeError):
    """A trained head's weights are missing, altered or malformed."""


def layer_count(weights: Mapping[str, np.ndarray]) -> int:
    """Number of dense layers (w0/b0, w1/b1, ...) in a weights mapping."""
    n = 0
    while f"w{n}" in weights:
        n += 1
    if n == 0:
        raise HeadError("head weights hold no layer (w0 missing)")
    return n


def forward(weights: Mapping[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Map base rows through the dense layers (ReLU between them) and L2-normalise: the head's output space."""
    x = np.asarray(rows, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    n = layer_count(weights)
    for k in range(n):
        w = np.asarray(weights[f"w{k}"], dtype=np.float32)
        if x.shape[1] != w.shape[0]:
            raise HeadError(f"layer {k} expects {w.shape[0]}-d input, got {x.shape[1]}-d rows")
        x = x @ w + np.asarray(weights[f"b{k}"], dtype=np.float32)
        if k < n - 1:
            x = np.maximum(x, 0.0)
    return l2_normalise(x)


def save_weights(path: Path, weights: Mapping[str, np.ndarray]) -> str:
    """Write head.npz atomically (temp file, fsync, rename); returns its sha256."""
    layer_count(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    atomic_write(path, lambda fh: np.savez(fh, **arrays))
    return file_sha256(path)


_CACHE: dict[tuple[str, int, int], tuple[str, dict[str, np.ndarray]]] = {}
_CACHE_LOCK = threading.Lock()


def load_weights(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read head.npz (cached per file state); HeadError when it is missing or its hash differs from `sha256`."""
    try:
        st = path.stat()
    except OSError as exc:
        raise HeadError(f"head weights not readable at {path}: {exc.strerror or exc}") from exc
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        try:
            raw = path.read_bytes()
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                weights = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
        except (OSError, ValueError) as exc:
            raise HeadError(f"head weights at {path} are unreadable: {exc}") from exc
        layer_count(weights)
        cached = (hashlib.sha256(raw).hexdigest(), weights)
        with _CACHE_LOCK:
            _CACHE[key] = cached
    digest, weights = cached
    if sha256 and digest != sha256:
        raise HeadError(f"head weights at {path} changed since training (sha256 {digest[:12]} != {sha256[:12]})")
    return weights


def weights_location(info: Mapping[str, Any]) -> Path:
    """Where a version's head.npz is: its recorded absolute path, else the same place under SWATCH_DATA_DIR."""
    spec = info.get("weights") or {}
    if not isinstance(spec, Mapping) or not spec.get("relative"):
        raise HeadError(f"version info of kind {HEAD_KIND!r} names no weights file")
    recorded = Path(str(spec.get("file") or ""))
    if spec.get("file") and recorded.is_file():
        return recorded
    from swatch.config import Settings

    return Settings.from_env().data_dir / str(spec["relative"])


def head_transform(info: dict[str, Any], base_rows: np.ndarray) -> np.ndarray:
    """The registered transform: rows of the base version (v1) -> rows of the trained version described by `info`."""
    spec = info.get("weights") or {}
    weights = load_weights(weights_location(info), spec.get("sha256") if isinstance(spec, Mapping) else None)
    return forward(weights, base_rows)


register_transform(HEAD_KIND, head_transform)
