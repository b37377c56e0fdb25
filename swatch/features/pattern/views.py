"""The pattern model's input: a studio backdrop trimmed away, then each test-time view as a network batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

TURNS = ("id", "rot90", "hflip")
COLOUR_MODES = ("rgb", "grey-eq", "grey")


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
        """Images per forward pass: small batches stay in the CPU caches (4 at 224 px ran ~2x faster than 32;
        under ONNX Runtime 4, 8 and 16 ran alike)."""
        return max(1, round(4 * (224 / self.side) ** 2))

    def pixels(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(N, 3, side, side) float32 of this view of each picture, scaled to mean = std = 0.5."""
        out = np.empty((len(arrays), self.side, self.side, 3), dtype=np.uint8)
        for i, arr in enumerate(arrays):
            out[i] = self.picture(arr)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(127.5) - 1.0)

    def batch(self, arrays: list[np.ndarray]) -> torch.Tensor:
        """`pixels` as a channels-last tensor (the PyTorch runtime's input)."""
        import torch  # here, not at the top: describing a view (ingest's unchanged re-run) never loads torch

        return torch.from_numpy(self.pixels(arrays)).contiguous(memory_format=torch.channels_last)

    def picture(self, arr: np.ndarray) -> np.ndarray:
        """(side, side, 3) uint8: this view of one (H, W, 3) picture."""
        if self.crop:  # the middle square, so a portrait photo keeps the scale of its pattern
            h, w = arr.shape[:2]
            m = min(h, w)
            arr = arr[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m]
        small = cv2.resize(arr, (self.side, self.side), interpolation=cv2.INTER_AREA)
        if self.colour != "rgb":
            g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
            if self.colour == "grey-eq":
                g = cv2.equalizeHist(g)  # colourways differ in contrast too: spread the grey levels
            small = np.repeat(g[:, :, None], 3, axis=2)
        if self.turn == "rot90":
            small = np.rot90(small)
        elif self.turn == "hflip":
            small = small[:, ::-1]
        return small


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


def view_arrays(images: list[np.ndarray], trim: bool) -> list[np.ndarray]:
    """The pictures the views are cut from: each image, its studio backdrop trimmed when `trim`."""
    return [trim_backdrop(a) for a in images] if trim else images
