"""HEIC/HEIF (pillow-heif) and AVIF (Pillow's plugin): real files written here, read for ingest and upload."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch.config import Settings
from swatch.images import ImageError, is_supported_name, open_image
from swatch.ingest import scan_folder

RED, NAVY = (200, 30, 40), (20, 30, 110)


def two_tone(size: tuple[int, int] = (96, 64)) -> Image.Image:
    img = Image.new("RGB", size, RED)
    img.paste(NAVY, (0, size[1] // 2, size[0], size[1]))
    return img


def encoded(fmt: str, img: Image.Image | None = None) -> bytes:
    buf = io.BytesIO()
    (img or two_tone()).save(buf, fmt, quality=92)
    return buf.getvalue()


def near(img: Image.Image, x: int, y: int, want: tuple[int, int, int], tol: int = 14) -> bool:
    return bool(np.abs(np.asarray(img)[y, x].astype(int) - np.array(want)).max() <= tol)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_decodes_to_rgb(fmt: str) -> None:
    img = open_image(encoded(fmt))
    assert img.mode == "RGB" and img.size == (96, 64) and img.info["source_size"] == (96, 64)
    assert near(img, 48, 10, RED) and near(img, 48, 54, NAVY)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_large_file_is_downscaled_and_bounded(fmt: str) -> None:
    img = open_image(encoded(fmt, two_tone((1200, 900))), draft_side=224)
    assert img.size == (300, 225) and img.info["source_size"] == (1200, 900)  # box filter by 4
    assert near(img, 150, 20, RED) and near(img, 150, 200, NAVY)
    with pytest.raises(ImageError, match="1200x900 pixels exceeds the 500,000-pixel limit"):
        open_image(encoded(fmt, two_tone((1200, 900))), max_pixels=500_000)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = encoded(fmt)
    with pytest.raises(ImageError, match="truncated|corrupt|cannot open|not an image"):
        open_image(data[: len(data) // 2])


def test_walker_and_ingest_take_heic_and_avif(tmp_path: Path) -> None:
    from swatch.ingest import ingest

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(encoded("HEIF"))
    (folder / "phone.heif").write_bytes(encoded("HEIF", two_tone((80, 60))))
    (folder / "web.avif").write_bytes(encoded("AVIF"))
    assert all(is_supported_name(n) for n in ("a.heic", "a.HEIF", "a.hif", "a.avif"))
    assert scan_folder(folder) == ["IMG_0001.HEIC", "phone.heif", "web.avif"]
    settings = Settings.from_env(data_dir=tmp_path / "data")
    summary = ingest(folder, settings, models=("color",), progress=False)
    assert summary.added == 3 and summary.failed == {}
    assert len(list(settings.thumbnails_dir.rglob("*.jpg"))) == 3


@pytest.mark.parametrize(("fmt", "name"), [("HEIF", "IMG_0002.heic"), ("AVIF", "q.avif")])
def test_upload_search_and_palette(client, fmt: str, name: str) -> None:  # type: ignore[no-untyped-def]
    data = encoded(fmt, two_tone((160, 120)))
    resp = client.post("/api/search", data={"image": (io.BytesIO(data), name), "model": "color", "topN": "5"},
                       content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert len(resp.get_json()) == 5
    resp = client.post("/api/palette?k=2", data={"image": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    hexes = {c["hex"] for c in resp.get_json()["palette"]}
    reds = [h for h in hexes if int(h[1:3], 16) > 150 and int(h[5:7], 16) < 90]
    assert len(hexes) == 2 and len(reds) == 1


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_phone_orientation_is_applied(fmt: str) -> None:
    """A phone photo stored turned with EXIF orientation 6 comes out upright (libheif turns HEIF itself)."""
    stored = two_tone((96, 64)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, fmt, quality=92, exif=exif.tobytes())
    img = open_image(buf.getvalue())
    assert img.size == (96, 64) and img.info["source_size"] == (96, 64)
    assert near(img, 48, 10, RED) and near(img, 48, 54, NAVY)
