"""Pattern model: colourway-blind EfficientNet-Lite embedding, multi-layer pooled, view-averaged and centred."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from swatch.features.backbone import fuse_batchnorm, load_backbone, weights_sha256
from swatch.features.base import Extractor, l2_normalise, register
from swatch.fsutil import atomic_write, write_json_atomic

HEAD = "head"  # the 1280-channel conv head; integers name stages of model.blocks
TURNS = ("id", "rot90", "hflip")
COLOUR_MODES = ("rgb", "grey-eq", "grey")
CENTRES_DIR = Path(__file__).resolve().parent / "centres"
_CENTRE_CACHE: dict[str, np.ndarray] = {}
_CENTRE_LOCK = threading.Lock()


@dataclass(frozen=True)
class View:
    """One test-time view of an image: colour mode, square crop (else squashed to a square), turn and input side.

    Written `colour[/crop][/turn][@side]`, e.g. `rgb/crop` or `grey-eq/rot90@160`.
    """

    colour: str
    crop: bool
    turn: str
    side: int

    @classmethod
    def parse(cls, spec: str, side: int) -> View:
        body, _, size = spec.partition("@")
        colour, *tokens = body.split("/")
        turns = [t for t in tokens if t != "crop"]
        valid = colour in COLOUR_MODES and len(turns) <= 1 and set(turns) <= set(TURNS) and (not size or size.isdigit())
        view_side = int(size) if size and size.isdigit() else side
        if not valid or not 32 <= view_side <= 1024:
            raise ValueError(f"bad view {spec!r}: colour[/crop][/turn][@side] with colour one of {COLOUR_MODES}, "
                             f"turn one of {TURNS}, side 32..1024")
        return cls(colour, "crop" in tokens, turns[0] if turns else "id", view_side)

    def chunk(self) -> int:
        """Images per forward pass: small batches stay in the CPU caches (4 at 224 px ran ~2x faster than 32)."""
        return max(1, round(4 * (224 / self.side) ** 2))


def gem(x: torch.Tensor, p: float = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling over H, W: (N, C, H, W) -> (N, C); p = 1 is average pooling of the positive part."""
    x = x.clamp(min=eps)
    if p == 1.0:
        return x.mean(dim=(2, 3))
    return x.pow(p).mean(dim=(2, 3)).pow(1.0 / p)


def trim_backdrop(arr: np.ndarray, tol: int = 18, margin: float = 0.03, probe: int = 64) -> np.ndarray:
    """Crop a plain studio backdrop around the subject: the box of pixels that differ from the border's colour.

    The box is found on a `probe`-pixel thumbnail and applied to the full picture. Left as is unless 80 % of the
    border is one neutral (white, grey, black) colour, and when the subject box would be under a tenth of the picture.
    """
    h, w = arr.shape[:2]
    scale = min(1.0, probe / max(h, w))
    small = cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) \
        if scale < 1.0 else arr
    sh, sw = small.shape[:2]
    border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]]).astype(np.int16)
    ref = np.median(border, axis=0)
    neutral = float(ref.max() - ref.min()) < 25  # white, grey or black: a backdrop, not a ground colour
    if not neutral or np.mean(np.abs(border - ref).max(axis=1) < tol) < 0.8:
        return arr
    fg = np.abs(small.astype(np.int16) - ref).max(axis=2) > tol
    rows = np.flatnonzero(fg.mean(axis=1) > 0.02)
    cols = np.flatnonzero(fg.mean(axis=0) > 0.02)
    if not len(rows) or not len(cols):
        return arr
    y0, y1 = int(rows[0] * h / sh), int(np.ceil((rows[-1] + 1) * h / sh))
    x0, x1 = int(cols[0] * w / sw), int(np.ceil((cols[-1] + 1) * w / sw))
    if (y1 - y0) * (x1 - x0) < 0.1 * h * w:
        return arr
    my, mx = int(margin * h), int(margin * w)
    return arr[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)]


class PatternExtractor(Extractor):
    """Average-pooled stage outputs of an ImageNet EfficientNet-Lite, summed over test-time views, each layer
    L2-normalised and centred on a fixed mean (of the procedural demo catalogue), then concatenated.

    Default: backdrop trimmed, middle square; one view in colour at 224 px and one grey, contrast-equalised and
    turned 90 degrees at 160 px, so colourways, turns and mirror images come out alike; stages 3-6 and the head.
    """

    name = "pattern"

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        size: int = 224,
        layers: tuple[int | str, ...] = (3, 4, 5, 6, HEAD),
        gem_p: float = 1.0,
        views: tuple[str, ...] = ("rgb/crop", "grey-eq/crop/rot90@160"),
        trim: bool = True,
        centre: bool = True,
        threads: int = 0,
    ):
        self.backbone_name = backbone
        self.size = int(size)
        self.layers = tuple(int(x) if isinstance(x, str) and x.isdigit() else x for x in layers)
        self.gem_p = float(gem_p)
        self.views = tuple(str(v) for v in views)
        self.trim = bool(trim)
        self.centre = bool(centre)
        if not self.views:
            raise ValueError("at least one view is needed")
        self._views = [View.parse(v, self.size) for v in self.views]
        if not self.layers or any(x != HEAD and not isinstance(x, int) for x in self.layers):
            raise ValueError("layers must be stage numbers or 'head'")
        self.decode_side = max(v.side for v in self._views)
        if threads:
            torch.set_num_threads(threads)
        # folded batch norms and channels-last run this depthwise network about 3x faster on the CPU
        self.model = fuse_batchnorm(load_backbone(backbone)).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            probe = self._pooled(torch.zeros(1, 3, 64, 64))
        self.layer_dims = [int(p.shape[1]) for p in probe]
        self.dim = sum(self.layer_dims)
        self._mean = centre_vector(self) if self.centre else np.zeros(self.dim, np.float32)

    # -- network --------------------------------------------------------------------------------------
    def _layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        m: Any = self.model
        x = m.bn1(m.conv_stem(x))
        wanted = {layer for layer in self.layers if layer != HEAD}
        last = len(m.blocks) - 1 if HEAD in self.layers else max(int(w) for w in wanted)
        outs: dict[int | str, torch.Tensor] = {}
        for i, block in enumerate(m.blocks):
            if i > last:
                break
            x = block(x)
            if i in wanted:
                outs[i] = x
        if HEAD in self.layers:
            outs[HEAD] = m.bn2(m.conv_head(x))
        return [outs[layer] for layer in self.layers]

    def _pooled(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per layer: (N, C) GeM-pooled and L2-normalised."""
        outs = self._layer_outputs(x.contiguous(memory_format=torch.channels_last))
        return [torch.nn.functional.normalize(gem(o, self.gem_p), dim=1) for o in outs]

    def layer_rows(self, images: list[Image.Image]) -> np.ndarray:
        """Rows before centring: per layer, the views' pooled vectors summed and renormalised; concatenated."""
        arrays = [np.asarray(img, dtype=np.uint8) for img in images]
        if self.trim:
            arrays = [trim_backdrop(a) for a in arrays]
        total: list[torch.Tensor] | None = None
        with torch.inference_mode():
            for view in self._views:
                step = view.chunk()
                chunks = [self._pooled(self.preprocess(arrays[i:i + step], view)) for i in range(0, len(arrays), step)]
                parts = [torch.cat(layer) for layer in zip(*chunks, strict=True)]
                total = parts if total is None else [t + p for t, p in zip(total, parts, strict=True)]
            assert total is not None
            return torch.cat([torch.nn.functional.normalize(t, dim=1) for t in total], dim=1).numpy()

    # -- public ---------------------------------------------------------------------------------------
    @staticmethod
    def preprocess(arrays: list[np.ndarray], view: View) -> torch.Tensor:
        """(N, 3, side, side) channels-last tensor for one view, scaled to mean = std = 0.5."""
        batch = np.empty((len(arrays), view.side, view.side, 3), dtype=np.uint8)
        for i, arr in enumerate(arrays):
            if view.crop:  # the middle square, so a portrait photo keeps the scale of its pattern
                h, w = arr.shape[:2]
                m = min(h, w)
                arr = arr[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m]
            small = cv2.resize(arr, (view.side, view.side), interpolation=cv2.INTER_AREA)
            if view.colour != "rgb":
                g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
                if view.colour == "grey-eq":
                    g = cv2.equalizeHist(g)  # colourways differ in contrast too: spread the grey levels
                small = np.repeat(g[:, :, None], 3, axis=2)
            if view.turn == "rot90":
                small = np.rot90(small)
            elif view.turn == "hflip":
                small = small[:, ::-1]
            batch[i] = small
        tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
        return (tensor / 127.5 - 1.0).contiguous(memory_format=torch.channels_last)

    def extract(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return self.finish(self.layer_rows(images))

    def finish(self, rows: np.ndarray) -> np.ndarray:
        """Centre each layer block on the fixed mean, renormalise it, and make the whole row unit length."""
        out = np.empty(rows.shape, dtype=np.float32)
        start = 0
        for d in self.layer_dims:
            out[:, start:start + d] = l2_normalise(rows[:, start:start + d] - self._mean[start:start + d])
            start += d
        return l2_normalise(out)

    def params(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone_name, "size": self.size, "layers": [str(x) for x in self.layers],
            "gem_p": self.gem_p, "views": list(self.views), "trim": self.trim, "centre": self.centre,
        }

    def weights_hash(self) -> str | None:
        return weights_sha256(self.backbone_name)


# -- the fixed centre: mean row of the procedural demo catalogue ---------------------------------------

CENTRE_DESIGNS, CENTRE_COLOURWAYS, CENTRE_SEED = 100, 2, 11


def centre_key(ex: PatternExtractor) -> str:
    """Identifies everything that shapes the rows before centring (and the demo images the mean comes from)."""
    spec = {k: v for k, v in ex.params().items() if k != "centre"}
    spec.update(weights=ex.weights_hash(), demo=[CENTRE_DESIGNS, CENTRE_COLOURWAYS, CENTRE_SEED])
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def centre_vector(ex: PatternExtractor) -> np.ndarray:
    """The extractor's centre: shipped in CENTRES_DIR for known settings, else computed once from the demo
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


def compute_centre(ex: PatternExtractor, batch: int = 25) -> np.ndarray:
    """Mean of the uncentred rows over the procedural demo catalogue (textile designs in several colourways)."""
    import tempfile

    from swatch.demo import generate_demo_catalogue
    from swatch.images import open_image

    with tempfile.TemporaryDirectory(prefix="swatch-centre-") as tmp:
        generate_demo_catalogue(Path(tmp), designs=CENTRE_DESIGNS, colourways=CENTRE_COLOURWAYS, size=ex.size,
                                seed=CENTRE_SEED, progress=False)
        files = sorted(Path(tmp).glob("*.jpg"))
        rows = [ex.layer_rows([open_image(f) for f in files[i:i + batch]]) for i in range(0, len(files), batch)]
    return np.concatenate(rows).mean(axis=0).astype(np.float32)


def _save_centre(path: Path, mean: np.ndarray, ex: PatternExtractor) -> None:
    """Write the centre and its info.json sidecar atomically; a read-only install just keeps it in memory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: np.save(fh, mean))
        info = {"extractor": "pattern", "params": ex.params(), "dim": ex.dim, "weights_sha256": ex.weights_hash(),
                "source": {"demo_designs": CENTRE_DESIGNS, "colourways": CENTRE_COLOURWAYS, "seed": CENTRE_SEED}}
        write_json_atomic(path.with_suffix(".json"), info)
    except OSError:
        pass


@register("pattern")
def _make_pattern(**kwargs: Any) -> Extractor:
    return PatternExtractor(**kwargs)
