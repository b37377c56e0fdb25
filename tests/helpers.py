"""Builders the tests share across folders: real image files of every kind, designer-like ratings, tree digests."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.catalog.feedback import add_rating
from swatch.config import Settings
from swatch.features.store import FeatureStore


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


def rate_like_a_designer(settings: Settings, queries: int | None = None) -> int:
    """Rate the top-10 pattern/v1 results of each image: 5 stars for another colourway of its design, else 1."""
    catalog = Catalog(settings.database)
    fv = FeatureStore(settings.features_dir).load("pattern", "v1")
    images = catalog.images_by_ids([int(i) for i in fv.ids])
    rows = np.asarray(fv.features)
    count = 0
    for q in range(len(fv) if queries is None else queries):
        sims = rows @ rows[q]
        sims[q] = -np.inf
        query = images[int(fv.ids[q])]
        for r in np.argsort(-sims)[:10]:
            result = images[int(fv.ids[r])]
            add_rating(catalog, query.path, result.path, "pattern", "v1", 5 if result.design == query.design else 1)
            count += 1
    return count


def tree_digest(folder: Path) -> str:
    """sha256 over every file below `folder` (names and bytes), links resolved."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.resolve().rglob("*") if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cluster_fingerprint(settings: Settings, version: str) -> dict[str, object]:
    """Everything that must never change once a cluster version exists: its rows and its sidecar bytes."""
    conn = Catalog(settings.database).connect()
    rows = conn.execute("SELECT image_id, cluster, distance FROM cluster_assignments WHERE version = ?"
                        " ORDER BY image_id", (version,)).fetchall()
    head = conn.execute("SELECT * FROM cluster_versions WHERE version = ?", (version,)).fetchone()
    folder = settings.clusters_dir / version
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    return {"rows": rows, "head": head, "files": files}
