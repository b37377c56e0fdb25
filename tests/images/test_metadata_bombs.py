"""PNG text and ICC chunk bombs, and oversized ICC profiles: refused with "image metadata too large", never a 500.

Each bomb is a real, valid PNG written here: a tiny picture with a chunk whose zlib stream inflates to 64 MiB
(zTXt, compressed iTXt, iCCP), or many chunks that each stay under the per-chunk limit but add up past the
per-file one.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from swatch.images import MAX_CHUNK_BYTES, MAX_ICC_BYTES, MAX_TEXT_BYTES, ImageError, open_image

INFLATED = 64 << 20


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def small_png() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(4)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8), "RGB").save(buf, "PNG")
    return buf.getvalue()


def with_chunks(before_pixels: list[bytes] = (), after_pixels: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """small_png() with extra chunks spliced in before its IDAT and before its IEND."""
    png = small_png()
    idat = png.find(b"IDAT") - 4
    iend = png.find(b"IEND") - 4
    return png[:idat] + b"".join(before_pixels) + png[idat:iend] + b"".join(after_pixels) + png[iend:]


def zeros(n: int) -> bytes:
    return zlib.compress(b"\0" * n, 9)


def ztxt(n: int, key: bytes = b"Comment") -> bytes:
    return chunk(b"zTXt", key + b"\0\0" + zeros(n))


BOMBS = {
    "png-ztxt-bomb": lambda: with_chunks([ztxt(INFLATED)]),
    "png-ztxt-bomb-after-pixels": lambda: with_chunks(after_pixels=[ztxt(INFLATED)]),
    "png-itxt-bomb": lambda: with_chunks([chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + zeros(INFLATED))]),
    "png-iccp-bomb": lambda: with_chunks([chunk(b"iCCP", b"icc\0\0" + zeros(INFLATED))]),
    "png-text-flood": lambda: with_chunks([ztxt(MAX_CHUNK_BYTES - 1024, b"k%d" % i)
                                           for i in range(MAX_TEXT_BYTES // MAX_CHUNK_BYTES + 2)]),
}


@pytest.fixture(params=sorted(BOMBS), ids=sorted(BOMBS))
def bomb(request: pytest.FixtureRequest) -> tuple[str, bytes]:
    data = BOMBS[request.param]()
    assert len(data) < 400_000  # small on the wire: the danger is what it inflates to
    return request.param, data


def test_bomb_is_refused_as_metadata_too_large(bomb: tuple[str, bytes]) -> None:
    name, data = bomb
    with pytest.raises(ImageError) as info:
        open_image(data)
    assert str(info.value).startswith("image metadata too large"), (name, str(info.value))
    assert "\n" not in str(info.value)


def test_bomb_upload_answers_400(client, bomb: tuple[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    name, data = bomb
    for url in ("/api/search", "/api/palette"):
        resp = client.post(url, data={"image": (io.BytesIO(data), f"{name}.png")},
                           content_type="multipart/form-data")
        assert resp.status_code == 400, (url, resp.status_code, resp.get_data(as_text=True)[:300])
        body = resp.get_json()
        assert "image metadata too large" in body["error"]
        assert "Traceback" not in resp.get_data(as_text=True) and "/work/" not in resp.get_data(as_text=True)


def test_modest_metadata_still_decodes() -> None:
    """The limits leave room for real files: a 200 KB comment and a 100 KB text block are fine."""
    data = with_chunks([ztxt(200_000), chunk(b"tEXt", b"Description\0" + b"x" * 100_000)])
    img = open_image(data)
    assert img.size == (32, 24)
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(io.BytesIO(small_png())).convert("RGB")))


def test_oversized_icc_profile_in_a_jpeg_is_refused() -> None:
    img = Image.new("RGB", (32, 24), (200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", icc_profile=b"\0" * (MAX_ICC_BYTES + 1))  # Pillow splits it over APP2 markers
    with pytest.raises(ImageError, match=r"^image metadata too large: a 4,194,305-byte ICC profile"):
        open_image(buf.getvalue())
