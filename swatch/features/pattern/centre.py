"""The pattern model's fixed centre: the mean uncentred row of the procedural demo catalogue.

The centres of known settings ship in swatch/features/centres/ (package data). Other settings compute theirs once
from reference images written by a registered source (the demo catalogue registers itself on import) and save it
there when the folder is writable.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from swatch.fsutil import atomic_write, write_json_atomic

CENTRES_DIR = Path(__file__).resolve().parent.parent / "centres"
CENTRE_DESIGNS, CENTRE_COLOURWAYS, CENTRE_SEED = 100, 2, 11

#: writes the reference catalogue as *.jpg files into a folder: (folder, designs=, colourways=, size=, seed=)
CentreSource = Callable[..., Any]
_SOURCE: list[CentreSource] = []
_CENTRE_CACHE: dict[str, np.ndarray] = {}
_CENTRE_LOCK = threading.Lock()


class Centred(Protocol):
    """What the centre needs of a pattern extractor."""

    dim: int
    size: int

    def params(self) -> dict[str, Any]: ...

    def weights_hash(self) -> str | None: ...

    def layer_rows(self, images: list[Image.Image]) -> np.ndarray: ...


def register_centre_source(source: CentreSource) -> None:
    """Set the generator of the reference catalogue that centres of settings without a shipped file come from."""
    _SOURCE[:] = [source]


def centre_key(ex: Centred) -> str:
    """Identifies everything that shapes the rows before centring (and the demo images the mean comes from)."""
    spec = {k: v for k, v in ex.params().items() if k != "centre"}
    spec.update(weights=ex.weights_hash(), demo=[CENTRE_DESIGNS, CENTRE_COLOURWAYS, CENTRE_SEED])
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def centre_vector(ex: Centred) -> np.ndarray:
    """The extractor's centre: shipped in CENTRES_DIR for known settings, else computed once from the reference
    catalogue (deterministic, a few seconds) and saved there when the folder is writable."""
    key = centre_key(ex)
    with _CENTRE_LOCK:
        if key in _CENTRE_CACHE:
            return _CENTRE_CACHE[key]
        path = CENTRES_DIR / f"pattern-{key}.npy"
        if path.is_file():
            mean = np.load(path).astype(np.float32)
        else:
            mean = compute_centre(ex)
            _save_centre(path, mean, ex)
        if mean.shape != (ex.dim,):
            raise ValueError(f"{path.name}: centre has shape {mean.shape}, expected ({ex.dim},)")
        _CENTRE_CACHE[key] = mean
        return mean


def compute_centre(ex: Centred, batch: int = 25) -> np.ndarray:
    """Mean of the uncentred rows over the reference catalogue (textile designs in several colourways)."""
    from swatch.images import open_image

    if not _SOURCE:
        raise ValueError(f"no shipped pattern centre for these settings (key {centre_key(ex)}) and no reference "
                         "catalogue registered to compute it from (register_centre_source)")
    with tempfile.TemporaryDirectory(prefix="swatch-centre-") as tmp:
        _SOURCE[0](Path(tmp), designs=CENTRE_DESIGNS, colourways=CENTRE_COLOURWAYS, size=ex.size, seed=CENTRE_SEED)
        files = sorted(Path(tmp).glob("*.jpg"))
        rows = [ex.layer_rows([open_image(f) for f in files[i:i + batch]]) for i in range(0, len(files), batch)]
    return np.concatenate(rows).mean(axis=0).astype(np.float32)


def _save_centre(path: Path, mean: np.ndarray, ex: Centred) -> None:
    """Write the centre and its info.json sidecar atomically; a read-only install just keeps it in memory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: np.save(fh, mean))
        info = {"extractor": "pattern", "params": ex.params(), "dim": ex.dim, "weights_sha256": ex.weights_hash(),
                "source": {"demo_designs": CENTRE_DESIGNS, "colourways": CENTRE_COLOURWAYS, "seed": CENTRE_SEED}}
        write_json_atomic(path.with_suffix(".json"), info)
    except OSError:
        pass
