"""Tests for swatch.images.open_image on real files of every supported kind and every kind of bad input.

The builders of real files (tests/helpers.py) also make the mixed good/bad folder that tests/test_ingest.py ingests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    BLUE,
    RED,
    build_mixed_folder,
    jpeg_bytes,
    noise,
    red_over_blue,
    write_exif_rotated,
    write_plain_cmyk_jpeg,
)
from PIL import Image

from swatch.images import ImageError, open_image


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    build_mixed_folder(folder)
    return folder


def pixel(img: Image.Image, x: int, y: int) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(img)[y, x])


def close_to(got: tuple[int, ...], want: tuple[int, ...], tol: int = 24) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(got, want, strict=True))


# -- refusals, each with its reason --


@pytest.mark.parametrize(
    ("name", "reason"),
    [("empty.jpg", "empty file"), ("truncated.jpg", "truncated image data"),
     ("notes.jpg", "not an image (unrecognised format)"), ("bomb.png", "decompression bomb guard"),
     ("ztxt_bomb.png", "image metadata too large")],
)
def test_bad_files_are_refused_with_their_reason(mixed: Path, name: str, reason: str) -> None:
    with pytest.raises(ImageError, match=r".+") as info:
        open_image(mixed / name)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message


def test_bomb_is_refused_before_decoding(mixed: Path) -> None:
    assert (mixed / "bomb.png").stat().st_size < 200_000
    with pytest.raises(ImageError, match="400,000,000 pixels exceeds the 40,000,000-pixel limit"):
        open_image(mixed / "bomb.png")


def test_own_pixel_limit_applies_below_pillows(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    noise((300, 200)).save(path)
    with pytest.raises(ImageError, match="300x200 pixels exceeds the 50,000-pixel limit"):
        open_image(path, max_pixels=50_000)
    assert open_image(path, max_pixels=60_000).size == (300, 200)


def test_gif_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    path = tmp_path / "animated.gif"
    noise(seed=6).save(path, "GIF")
    with pytest.raises(ImageError, match="unsupported format GIF; use JPEG, PNG, WebP, BMP, TIFF, HEIC or AVIF"):
        open_image(path)
    renamed = tmp_path / "disguised.png"  # a GIF with a PNG name is still a GIF
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(ImageError, match="unsupported format GIF"):
        open_image(renamed)


def test_path_tricks(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    with pytest.raises(ImageError, match="cannot read file: Is a directory"):
        open_image(folder)
    with pytest.raises(ImageError, match="cannot read file"):
        open_image(tmp_path / "missing.jpg")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="empty file"):  # never blocks reading a pipe
        open_image(fifo)
    noise(seed=7).save(tmp_path / "real.png")
    assert open_image(tmp_path / "folder.jpg" / ".." / "real.png").size == (96, 64)
    assert open_image(str(tmp_path / "real.png")).size == (96, 64)


def test_bytes_input() -> None:
    with pytest.raises(ImageError, match="empty file"):
        open_image(b"")
    with pytest.raises(ImageError, match="not an image"):
        open_image(b"GIF? no: plain text")
    assert open_image(jpeg_bytes(noise(seed=8))).size == (96, 64)


# -- good files of every kind decode to upright 8-bit RGB --


def test_png_named_jpg_decodes(mixed: Path) -> None:
    img = open_image(mixed / "sub" / "png_named.jpg")
    assert img.mode == "RGB" and img.size == (96, 64)
    assert np.array_equal(np.asarray(img), np.asarray(noise(seed=5)))  # lossless: the exact pixels


@pytest.mark.parametrize(("name", "seed"), [("sample.webp", 2), ("sample.bmp", 3), ("sample.tiff", 4)])
def test_other_formats_decode_exactly(mixed: Path, name: str, seed: int) -> None:
    img = open_image(mixed / name)
    assert img.mode == "RGB" and img.size == (96, 64)
    assert np.array_equal(np.asarray(img), np.asarray(noise(seed=seed)))  # all three saved losslessly


def test_cmyk_jpeg_keeps_its_colour(mixed: Path, tmp_path: Path) -> None:
    adobe = open_image(mixed / "cmyk.jpg")  # Adobe marker (as Photoshop and Pillow write them)
    assert adobe.mode == "RGB" and close_to(pixel(adobe, 10, 10), RED)
    plain = open_image(write_plain_cmyk_jpeg(tmp_path / "plain.jpg", (0, 255, 255, 0)))
    assert close_to(pixel(plain, 10, 10), RED)


def test_16_bit_png_keeps_its_grey_ramp(mixed: Path) -> None:
    with Image.open(mixed / "deep16.png") as raw:
        assert raw.mode == "I;16"
    img = open_image(mixed / "deep16.png")
    row = np.asarray(img)[10, :, 0].astype(int)
    assert img.mode == "RGB"
    assert row[0] <= 3 and row[-1] >= 252  # full range kept, not clipped to white
    assert np.all(np.diff(row) >= 0) and len(set(row.tolist())) > 60


def test_palette_transparency_is_white(mixed: Path) -> None:
    img = open_image(mixed / "palette.png")
    assert pixel(img, 10, 10) == (255, 255, 255)  # transparent index over white, not black
    assert pixel(img, 80, 10) == (0, 160, 0)


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_rotation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = write_exif_rotated(tmp_path / f"o{orientation}.jpg", orientation)
    img = open_image(path)
    assert img.size == (80, 60)
    assert img.info["source_size"] == (80, 60)
    assert close_to(pixel(img, 40, 5), RED) and close_to(pixel(img, 40, 55), BLUE)


def test_draft_decodes_large_jpeg_at_reduced_size(tmp_path: Path) -> None:
    path = write_exif_rotated(tmp_path / "big.jpg", 6, size=(1600, 1200))
    full = open_image(path)
    small = open_image(path, draft_side=224)
    assert full.size == (1600, 1200)
    assert small.size == (400, 300)  # 1/4 scale: the smallest that keeps both sides >= 224
    assert small.info["source_size"] == (1600, 1200)
    assert close_to(pixel(small, 200, 10), RED) and close_to(pixel(small, 200, 290), BLUE)
    png = tmp_path / "big.png"
    red_over_blue((1600, 1200)).save(png)
    boxed = open_image(png, draft_side=224)  # other formats: an integer box filter right after decoding
    assert boxed.size == (320, 240) and boxed.info["source_size"] == (1600, 1200)
    assert pixel(boxed, 160, 10) == RED and pixel(boxed, 160, 230) == BLUE
