"""Tests for swatch.images.open_image on real files of every supported kind and every kind of bad input.

The builders here also make the mixed good/bad folder that tests/test_ingest.py ingests through the CLI.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from swatch.images import ImageError, open_image


def shared_conftest() -> ModuleType:
    """tests/conftest.py as a module (for make_image and dataset). `from conftest import ...` is ambiguous once
    tests/browser/conftest.py exists: whichever conftest pytest imported last owns that name."""
    name = "_swatch_tests_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A valid 1-bit greyscale PNG whose IHDR claims width x height, all zero: ~50 KB on disk, 400 Mpx decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))
    return path


def red_over_blue(size: tuple[int, int] = (80, 60)) -> Image.Image:
    """Upright reference: top half red, bottom half blue."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (0, size[1] // 2, size[0], size[1]))
    return img


def write_exif_rotated(path: Path, orientation: int = 6, size: tuple[int, int] = (80, 60)) -> Path:
    """A JPEG whose pixels are stored turned, with the EXIF orientation that makes it red-over-blue upright."""
    undo = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
    stored = red_over_blue(size).transpose(undo[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def noise(size: tuple[int, int] = (96, 64), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8), "RGB")


def jpeg_bytes(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def write_plain_cmyk_jpeg(path: Path, cmyk: tuple[int, int, int, int]) -> Path:
    """A CMYK JPEG without Adobe's APP14 marker (channels stored as is, as non-Adobe encoders write them)."""
    inverted = np.full((32, 48, 4), [255 - c for c in cmyk], np.uint8)
    data = jpeg_bytes(Image.fromarray(inverted, "CMYK"))  # Pillow stores CMYK inverted, Adobe style
    at = data.find(b"\xff\xee")
    assert at > 0, "expected an APP14 (Adobe) marker"
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    path.write_bytes(data[:at] + data[at + 2 + length :])
    return path


def build_mixed_folder(folder: Path) -> tuple[set[str], dict[str, str]]:
    """Good files of every kind and bad files of every kind: (good names, bad name -> expected reason words)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    full = jpeg_bytes(noise(seed=1), quality=90)
    (folder / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (folder / "notes.jpg").write_text("this is a text file, not a photograph\n", encoding="utf-8")
    write_png_bomb(folder / "bomb.png")
    Image.fromarray(np.full((64, 96, 4), [0, 255, 255, 0], np.uint8), "CMYK").save(folder / "cmyk.jpg", "JPEG")
    ramp = np.tile(np.linspace(0, 65535, 96), (64, 1)).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "deep16.png")  # mode I;16
    pal = Image.new("P", (96, 64), 0)
    pal.putpalette([0, 0, 0, 0, 160, 0] + [0] * 762)
    pal.paste(1, (48, 0, 96, 64))  # right half opaque green, left half transparent index 0
    pal.save(folder / "palette.png", transparency=0)
    write_exif_rotated(folder / "rotated.jpg", 6)
    noise(seed=2).save(folder / "sample.webp", "WEBP", lossless=True)
    noise(seed=3).save(folder / "sample.bmp", "BMP")
    noise(seed=4).save(folder / "sample.tiff", "TIFF")
    (folder / "sub").mkdir(exist_ok=True)
    noise(seed=5).save(folder / "sub" / "png_named.jpg", "PNG")
    noise(seed=9).save(folder / "phone.HEIC", "HEIF")  # pillow-heif, registered by swatch.images
    noise(seed=10).save(folder / "sample.avif", "AVIF")
    text = io.BytesIO()
    noise(seed=11).save(text, "PNG")
    png = text.getvalue()
    ztxt = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * (64 << 20), 9))
    (folder / "ztxt_bomb.png").write_bytes(png[:33] + ztxt + png[33:])  # after IHDR: inflates to 64 MiB
    good = {"cmyk.jpg", "deep16.png", "palette.png", "rotated.jpg", "sample.webp", "sample.bmp", "sample.tiff",
            "sub/png_named.jpg", "phone.HEIC", "sample.avif"}
    bad = {"empty.jpg": "empty file", "truncated.jpg": "truncated", "notes.jpg": "not an image",
           "bomb.png": "decompression bomb", "ztxt_bomb.png": "image metadata too large"}
    return good, bad


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
