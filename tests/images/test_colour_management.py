"""ICC colour management: profiled files decode to the sRGB colours they mean, in features and thumbnails.

The Adobe RGB (1998) and CMYK profiles are built byte by byte in iccbuild.py; the expected colours come from
colour maths written there, not from LittleCMS. Colour differences are CIEDE2000 (checked against Sharma's
published test pairs below).
"""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path

import numpy as np
import pytest
from iccbuild import (
    ADOBE_GAMMA,
    adobe_rgb_profile,
    ciede2000,
    cmyk_profile,
    lab_to_srgb,
    srgb_encode,
    srgb_to_adobe,
)
from PIL import Image

from swatch.config import Settings
from swatch.features.color import AB_RANGE, L_RANGE
from swatch.features.store import FeatureStore
from swatch.icc import SRGB_ICC
from swatch.images import open_image

#: saturated stripes of unequal widths (widths in 1/20ths), where Adobe RGB and sRGB numbers differ most
STRIPES = [((0, 160, 60), 6), ((200, 30, 40), 5), ((20, 40, 120), 4), ((240, 200, 30), 3), ((60, 170, 200), 2)]
INKS = {"cyan": (55.0, -37.0, -50.0), "magenta": (48.0, 74.0, -3.0), "yellow": (89.0, -5.0, 93.0)}


def design(width: int = 240, height: int = 160) -> np.ndarray:
    cols = np.concatenate([[i] * (w * width // 20) for i, (_, w) in enumerate(STRIPES)])
    colours = np.array([c for c, _ in STRIPES], np.uint8)
    return np.broadcast_to(colours[cols][None], (height, width, 3)).copy()


def jpeg(arr: np.ndarray, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    mode = "CMYK" if arr.shape[-1] == 4 else "RGB"
    Image.fromarray(arr.astype(np.uint8), mode).save(buf, "JPEG", quality=95, subsampling=0, **kwargs)
    return buf.getvalue()


def _stripe_centres(width: int = 240) -> list[int]:
    edges = np.cumsum([0] + [w * width // 20 for _, w in STRIPES])
    return [int(v) for v in (edges[:-1] + edges[1:]) // 2]


def test_ciede2000_matches_published_pairs() -> None:
    got = ciede2000(np.array([[50, 2.6772, -79.7751], [50, 0, 0], [50, 2.5, 0], [60.2574, -34.0099, 36.2677]]),
                    np.array([[50, 0, -82.7485], [50, -1, 2], [73, 25, -18], [60.4626, -34.1751, 39.4387]]))
    assert np.allclose(got, [2.0425, 2.3669, 27.1492, 1.2644], atol=1e-4)


def test_adobe_rgb_pixels_decode_to_their_srgb_colours() -> None:
    srgb = design()
    adobe = srgb_to_adobe(srgb)
    managed = np.asarray(open_image(jpeg(adobe, icc_profile=adobe_rgb_profile()))).astype(int)
    plain = np.asarray(open_image(jpeg(adobe))).astype(int)
    assert np.abs(managed - srgb).max() <= 6  # JPEG and 8-bit rounding only
    assert np.abs(plain - srgb).max() >= 60  # the same numbers read as sRGB are other colours


def _best_mean_delta_e(a: list[list[float]], b: list[list[float]]) -> float:
    """Mean CIEDE2000 between two palettes, paired the way that fits best."""
    la, lb = np.array(a), np.array(b)
    return min(float(ciede2000(la, lb[list(p)]).mean()) for p in itertools.permutations(range(len(lb))))


def _row_mean_lab(row: np.ndarray, bins: tuple[int, int, int], power: float) -> np.ndarray:
    """The weighted mean Lab colour a stored colour row describes (soft binning keeps the mean exactly)."""
    hist = np.power(np.clip(row.astype(np.float64), 0, None), 1.0 / power).reshape(bins)
    hist /= hist.sum()
    axes = [np.linspace(*rng, n) for rng, n in zip((L_RANGE, AB_RANGE, AB_RANGE), bins, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    return (hist[..., None] * grid).sum(axis=(0, 1, 2))


@pytest.fixture(scope="module")
def profiled_catalogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """The same design as sRGB, as Adobe RGB with its profile, and as those Adobe numbers with no profile."""
    from swatch.ingest import ingest

    folder = tmp_path_factory.mktemp("profiled")
    srgb = design()
    adobe = srgb_to_adobe(srgb)
    (folder / "AW24 - TEST - D1-1 srgb.jpg").write_bytes(jpeg(srgb))
    (folder / "AW24 - TEST - D1-2 adobe.jpg").write_bytes(jpeg(adobe, icc_profile=adobe_rgb_profile()))
    (folder / "AW24 - TEST - D1-3 unmanaged.jpg").write_bytes(jpeg(adobe))
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("profiled-data"))
    summary = ingest(folder, settings, models=("color",), progress=False)
    assert summary.added == 3 and not summary.failed
    return settings, folder


def test_ingested_adobe_rgb_matches_its_srgb_twin(profiled_catalogue: tuple[Settings, Path]) -> None:
    """Stored colour rows and the palette endpoint's dominant colours: under 2 CIEDE2000 with the conversion,
    far apart without it."""
    from swatch.web import create_app

    settings, _ = profiled_catalogue
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    images = client.get("/api/images?per_page=10").get_json()["images"]
    ids = {img["filename"].split()[-1].removesuffix(".jpg"): img["id"] for img in images}
    palettes = {name: [c["lab"] for c in client.get(f"/api/images/{i}/palette?k=5").get_json()["palette"]]
                for name, i in ids.items()}
    managed = _best_mean_delta_e(palettes["srgb"], palettes["adobe"])
    unmanaged = _best_mean_delta_e(palettes["srgb"], palettes["unmanaged"])
    print(f"palette mean CIEDE2000 vs the sRGB file: converted {managed:.2f}, unconverted {unmanaged:.2f}")
    assert managed < 2.0, palettes
    assert unmanaged > 3.0 and unmanaged > 3 * managed, palettes

    stored = FeatureStore(settings.features_dir).load("color", "v1")
    params = stored.info["params"]
    bins, power = tuple(params["bins"]), float(params["power"])
    row_of = {int(i): np.asarray(stored.features[k]) for k, i in enumerate(stored.ids)}
    mean = {name: _row_mean_lab(row_of[i], bins, power) for name, i in ids.items()}  # type: ignore[arg-type]
    row_managed = float(ciede2000(mean["srgb"][None], mean["adobe"][None])[0])
    row_unmanaged = float(ciede2000(mean["srgb"][None], mean["unmanaged"][None])[0])
    print(f"colour-row mean colour CIEDE2000: converted {row_managed:.2f}, unconverted {row_unmanaged:.2f}")
    assert row_managed < 2.0 and row_unmanaged > 3 * row_managed
    assert float(np.dot(row_of[ids["srgb"]], row_of[ids["adobe"]])) > 0.99


def test_thumbnails_are_srgb_and_tagged(profiled_catalogue: tuple[Settings, Path]) -> None:
    settings, _ = profiled_catalogue
    thumbs = sorted(settings.thumbnails_dir.rglob("*.jpg"))
    assert len(thumbs) == 3
    pixels = []
    for path in thumbs:
        with Image.open(path) as img:
            assert img.info.get("icc_profile") == SRGB_ICC
            pixels.append(np.asarray(img.convert("RGB")).astype(int))
    expected, centres = design(), _stripe_centres()
    close = [np.abs(p[60:100, centres] - expected[60:100, centres]).max() <= 8 for p in pixels]
    assert sorted(close) == [False, True, True]  # the sRGB file and the converted Adobe one; not the untagged one


def test_broken_profile_is_taken_as_srgb_with_a_warning(caplog: pytest.LogCaptureFixture, client) -> None:  # type: ignore[no-untyped-def]
    srgb = design()
    broken = adobe_rgb_profile()[:200] + b"\xff" * 64  # header claims more than there is
    with caplog.at_level(logging.WARNING, logger="swatch.icc"):
        img = open_image(jpeg(srgb, icc_profile=broken))
    assert np.abs(np.asarray(img).astype(int) - srgb).max() <= 6
    assert any("broken embedded ICC profile" in r.getMessage() for r in caplog.records)
    resp = client.post("/api/palette", data={"image": (io.BytesIO(jpeg(srgb, icc_profile=b"not a profile")),
                                                       "q.jpg")}, content_type="multipart/form-data")
    assert resp.status_code == 200 and len(resp.get_json()["palette"]) == 5


def test_profile_for_another_colour_space_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    srgb = design(80, 60)
    buf = io.BytesIO()
    Image.fromarray(srgb).save(buf, "PNG", icc_profile=_press_profile())
    with caplog.at_level(logging.WARNING, logger="swatch.images"):
        img = open_image(buf.getvalue())
    assert np.array_equal(np.asarray(img), srgb)
    assert any("CMYK ICC profile" in r.getMessage() for r in caplog.records)


def _press_profile() -> bytes:
    """Three process inks and their overprints (darker, mixed hue); black ink goes to Lab 0 (no BPC shift)."""
    corners = {}
    for c, m, y, k in itertools.product((0, 1), repeat=4):
        inks = [INKS[n] for n, on in zip(("cyan", "magenta", "yellow"), (c, m, y), strict=True) if on]
        if k:
            corners[(c, m, y, k)] = (0.0, 0.0, 0.0)
        elif not inks:
            corners[(c, m, y, k)] = (100.0, 0.0, 0.0)
        else:
            dark = min(i[0] for i in inks) * (0.6 if len(inks) > 1 else 1.0)
            corners[(c, m, y, k)] = (dark, sum(i[1] for i in inks) / len(inks), sum(i[2] for i in inks) / len(inks))
    return cmyk_profile(corners)


def test_profiled_cmyk_jpeg_shows_its_inks(tmp_path: Path) -> None:
    patches = np.zeros((32, 96, 4), np.uint8)
    patches[:, :32, 0] = 255  # cyan
    patches[:, 32:64, 1] = 255  # magenta
    data = jpeg(patches, icc_profile=_press_profile())
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == "CMYK"
    img = np.asarray(open_image(data)).astype(int)
    naive = np.asarray(open_image(jpeg(patches))).astype(int)
    for x, ink in ((16, "cyan"), (48, "magenta")):
        want = lab_to_srgb(INKS[ink])
        assert np.abs(img[16, x] - want).max() <= 6, (ink, img[16, x], want)
        assert np.abs(naive[16, x] - want).max() >= 40  # without the profile: screen cyan, screen magenta
    assert np.abs(img[16, 80] - 255).max() <= 3  # no ink: paper white


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "I;16"])
def test_odd_modes_with_a_profile(mode: str) -> None:
    """Alpha over white, palettes, grey and 16-bit grey, each with the Adobe RGB profile, come out right."""
    srgb = design(60, 40)
    adobe = srgb_to_adobe(srgb).astype(np.uint8)
    buf = io.BytesIO()
    if mode == "RGBA":
        rgba = np.dstack([adobe, np.full(adobe.shape[:2], 255, np.uint8)])
        rgba[:, :6, 3] = 0  # a transparent strip: white
        Image.fromarray(rgba, "RGBA").save(buf, "PNG", icc_profile=adobe_rgb_profile())
        want = srgb.astype(int).copy()
        want[:, :6] = 255
    elif mode == "P":
        Image.fromarray(adobe).quantize(colors=8).save(buf, "PNG", icc_profile=adobe_rgb_profile())
        want = srgb.astype(int)
    else:
        grey = np.tile(np.linspace(0, 255, 60), (40, 1))
        pic = Image.fromarray((grey * 257).astype(np.uint16)) if mode == "I;16" else Image.fromarray(
            grey.astype(np.uint8), "L")
        pic.save(buf, "PNG", icc_profile=adobe_rgb_profile())
        want = np.repeat(srgb_encode((np.round(grey) / 255.0) ** ADOBE_GAMMA)[..., None], 3, axis=2)  # still grey
    with Image.open(io.BytesIO(buf.getvalue())) as raw:
        assert raw.mode == mode
    got = np.asarray(open_image(buf.getvalue())).astype(int)
    assert np.abs(got - want).max() <= 6, (mode, np.abs(got - want).max())


def test_srgb_tagged_input_is_left_alone() -> None:
    arr = design(80, 60)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", icc_profile=SRGB_ICC)
    assert np.array_equal(np.asarray(open_image(buf.getvalue())), arr)
