"""Decoding bounded by pixels, not bytes: header checks, early downscaling, and a semaphore on full-size decodes."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from swatch.images import ImageError, decode_slots, open_image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def png(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kwargs)
    return buf.getvalue()


def red_over_blue(size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (0, size[1] // 2, size[0], size[1]))
    return img


def test_compressible_near_limit_png_comes_back_small() -> None:
    """A 130 KB file of 39.7 megapixels: decoded once, box-filtered straight away to the size asked for."""
    data = png(red_over_blue((6300, 6300)), compress_level=9)
    assert len(data) < 300_000
    img = open_image(data, draft_side=224)
    assert img.size == (225, 225) and img.info["source_size"] == (6300, 6300)  # 6300 // 224 = 28
    assert tuple(np.asarray(img)[5, 100]) == RED and tuple(np.asarray(img)[220, 100]) == BLUE
    with pytest.raises(ImageError, match="6300x6300 pixels exceeds the 39,000,000-pixel limit"):
        open_image(data, max_pixels=39_000_000)


def test_decodes_wait_for_a_free_slot() -> None:
    data = png(red_over_blue((64, 48)))
    done = threading.Event()

    def decode() -> None:
        open_image(data, slots=1)
        done.set()

    slot = decode_slots(1)
    with slot:  # the only slot is taken: a decode must wait for it
        worker = threading.Thread(target=decode)
        worker.start()
        assert not done.wait(0.5)
    worker.join(30)
    assert done.is_set()


def test_a_failed_decode_gives_its_slot_back() -> None:
    broken = png(red_over_blue((64, 48)))
    broken = broken[: len(broken) - 40]
    for _ in range(3):  # with one slot, a slot kept by a failure would hang the next decode
        with pytest.raises(ImageError, match="truncated|corrupt"):
            open_image(broken, slots=1)
    assert decode_slots(1).acquire(timeout=5)
    decode_slots(1).release()


def test_orientation_survives_downscaling() -> None:
    """The EXIF turn is read from the file before the box filter drops its tags (PNG eXIf and TIFF tags)."""
    stored = red_over_blue((1600, 1200)).transpose(Image.Transpose.ROTATE_90)  # what orientation 6 undoes
    exif = Image.Exif()
    exif[0x0112] = 6
    tiff = io.BytesIO()
    stored.save(tiff, "TIFF", exif=exif.tobytes())
    for data in (png(stored, exif=exif.tobytes()), tiff.getvalue()):
        img = open_image(data, draft_side=224)
        assert img.size == (320, 240) and img.info["source_size"] == (1600, 1200)
        arr = np.asarray(img)
        assert tuple(arr[5, 160]) == RED and tuple(arr[235, 160]) == BLUE


def test_sixteen_bit_grey_is_downscaled_and_keeps_its_range() -> None:
    ramp = np.tile(np.linspace(0, 65535, 1800), (1200, 1)).astype(np.uint16)
    img = open_image(png(Image.fromarray(ramp)), draft_side=224)
    assert img.size == (360, 240)  # 1200 // 224 = 5
    row = np.asarray(img)[10, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253 and np.all(np.diff(row) >= 0)


def test_palette_and_alpha_images_are_downscaled_in_colour() -> None:
    pal = red_over_blue((900, 600)).quantize(colors=4)
    rgba = red_over_blue((900, 600)).convert("RGBA")
    rgba.putalpha(Image.new("L", (900, 600), 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 100, 600))  # a transparent strip shows white
    for data in (png(pal), png(rgba)):
        arr = np.asarray(open_image(data, draft_side=128))
        assert arr.shape == (150, 225, 3)  # 600 // 128 = 4
        assert tuple(arr[10, 150]) == RED and tuple(arr[140, 150]) == BLUE
    assert tuple(np.asarray(open_image(png(rgba), draft_side=128))[75, 5]) == (255, 255, 255)
