"""Security headers on every response, pages without inline script, and originals that never follow a symlink."""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.catalog.images import ImageRow
from swatch.config import Settings
from swatch.ingest import ingest


def policy(res) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The Content-Security-Policy header as {directive: [sources]}."""
    out: dict[str, list[str]] = {}
    for part in res.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def assert_secured(res, what: str) -> None:  # type: ignore[no-untyped-def]
    csp = policy(res)
    assert csp["script-src"] == ["'self'"], what  # no 'unsafe-inline', no 'unsafe-eval', no other origin
    assert csp["style-src"] == ["'self'"], what
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"], what
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"], what
    assert csp["form-action"] == ["'self'"] and set(csp["img-src"]) == {"'self'", "data:", "blob:"}, what
    assert res.headers["X-Frame-Options"] == "DENY", what
    assert res.headers["X-Content-Type-Options"] == "nosniff", what
    assert res.headers["Referrer-Policy"] in ("no-referrer", "same-origin"), what
    assert res.headers["Cross-Origin-Opener-Policy"] == "same-origin", what


def fetch(client, url: str, **kwargs):  # type: ignore[no-untyped-def]
    """A request whose response is read and closed (file responses hold an open file until closed)."""
    res = client.open(url, **kwargs)
    res.get_data()
    res.close()
    return res


def test_every_kind_of_response_carries_the_headers(client, settings) -> None:  # type: ignore[no-untyped-def]
    img = Catalog(settings.database).live_images()[0]
    answers = {
        "/": 200, "/training": 200, "/api/docs": 200, "/openapi.json": 200, "/static/js/designer.js": 200,
        "/static/app.css": 200, "/health": 200,
        "/api/images?per_page=2": 200, "/api/facets": 200, "/api/models": 200,
        f"/find-similar?id={img.id}&model=color&topN=3": 200, f"/thumbnails/{img.thumbnail}": 200,
        f"/images/{img.id}/file": 200, f"/api/images/{img.id}/palette": 200,
        "/images/999999/file": 404, "/no/such/route": 404, "/api/images/1/palette?k=x": 400,
    }
    for url, status in answers.items():
        res = fetch(client, url)
        assert res.status_code == status, (url, res.status_code)
        assert_secured(res, url)
    refused = fetch(client, "/api/models", method="POST", json={"model": "pattern", "version": "v1"})
    assert refused.status_code in (401, 403)
    assert_secured(refused, "refused admin POST")


class _Scan(HTMLParser):
    """Everything in a page that a script-src/style-src 'self' policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}>")
            if name == "style":
                self.blocked.append(f"<{tag} style>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:>")
        if tag == "script":
            self.scripts.append(dict(attrs))
        if tag == "style":
            self.blocked.append("<style>")


def test_pages_hold_no_inline_script_or_style(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/?per_page=5", "/training", "/api/docs"):
        scan = _Scan()
        scan.feed(client.get(url).get_data(as_text=True))
        assert not scan.blocked, (url, scan.blocked)
        for attrs in scan.scripts:  # own module scripts, or JSON data blocks (never executed)
            src = attrs.get("src")
            assert (src and src.startswith("/static/")) or attrs.get("type") == "application/json", (url, attrs)


def _draw(path: Path, colour: tuple[int, int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour) + rng.normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path, "PNG")
    return path.read_bytes()


@pytest.fixture
def own_catalogue(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A catalogue of its own image folder (the shared demo folder must not change): sub/a.png and b.png."""
    images = tmp_path / "images"
    _draw(images / "sub" / "a.png", (180, 40, 40), 1)
    _draw(images / "b.png", (30, 60, 170), 2)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(images, settings, models=("color",), progress=False, log=lambda _msg: None)
    from swatch.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": settings})
    rows = {r.path: r for r in Catalog(settings.database).live_images()}
    return app.test_client(), images, rows, settings


def _original(client, row: ImageRow):  # type: ignore[no-untyped-def]
    return fetch(client, f"/images/{row.id}/file")


def test_symlink_swapped_in_after_ingest_is_404(own_catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, images, rows, _ = own_catalogue
    a, b = rows["sub/a.png"], rows["b.png"]
    original_a = (images / "sub" / "a.png").read_bytes()
    served = _original(client, a)
    assert served.status_code == 200 and served.data == original_a and served.mimetype == "image/png"
    assert served.headers["Content-Length"] == str(len(original_a))

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP SECRET, never served")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.png").write_bytes(original_a)  # the very same bytes, but outside the catalogue root

    target = images / "sub" / "a.png"
    target.unlink()
    target.symlink_to(secret)  # a link to another file
    res = _original(client, a)
    assert res.status_code == 404 and b"SECRET" not in res.data
    assert "missing" in res.get_json()["error"] and str(tmp_path) not in res.get_data(as_text=True)

    target.unlink()
    target.symlink_to(outside / "a.png")  # a link to identical content: still not the catalogued file
    assert _original(client, a).status_code == 404

    target.unlink()
    target.symlink_to("/etc/passwd")  # an absolute link to a system file
    res = _original(client, a)
    assert res.status_code == 404 and b"root:" not in res.data

    shutil.rmtree(images / "sub")
    (images / "sub").symlink_to(outside, target_is_directory=True)  # a linked folder on the way down
    assert _original(client, a).status_code == 404

    (images / "sub").unlink()
    (images / "sub").mkdir()
    (images / "sub" / "a.png").write_bytes(original_a)  # the real file back: served again
    assert _original(client, a).data == original_a
    assert _original(client, b).status_code == 200


def test_other_swaps_of_an_original_are_404(own_catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, images, rows, _ = own_catalogue
    b = rows["b.png"]
    path = images / "b.png"
    original = path.read_bytes()
    with path.open("r+b") as fh:  # same size, other bytes, rewritten in place (same inode)
        fh.write(bytes(len(original)))
    assert _original(client, b).status_code == 404
    path.unlink()
    path.write_bytes(original)
    assert _original(client, b).status_code == 200  # its hash is now known: the swaps below must still be seen

    other = tmp_path / "other.bin"
    other.write_bytes(b"x" * len(original))
    path.unlink()
    os.link(other, path)  # a hard link to another file of the same size
    assert _original(client, b).status_code == 404

    path.unlink()
    os.mkfifo(path)  # a FIFO is refused at once, it never hangs the request
    assert _original(client, b).status_code == 404

    path.unlink()
    path.write_bytes(original)
    assert _original(client, b).data == original


def test_thumbnail_and_palette_never_follow_a_symlink(own_catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, images, rows, settings = own_catalogue
    a = rows["sub/a.png"]
    thumb = settings.thumbnails_dir / a.thumbnail
    assert fetch(client, f"/thumbnails/{a.thumbnail}").status_code == 200
    assert fetch(client, "/thumbnails/a%00.jpg").status_code == 404  # a NUL byte in the name: refused, no 500
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (8, 8), (0, 255, 0)).save(secret, "JPEG")
    thumb.unlink()
    thumb.symlink_to(secret)
    for url in (f"/thumbnails/{a.thumbnail}", f"/images/{a.id}/thumbnail"):
        res = fetch(client, url)
        assert res.status_code == 404 and res.data[:2] != b"\xff\xd8", url

    thumb.unlink()  # no thumbnail: the palette falls back to the original, which must be the catalogued file
    palette = client.get(f"/api/images/{a.id}/palette?k=2")
    assert palette.status_code == 200
    assert int(palette.get_json()["palette"][0]["hex"][1:3], 16) > 120  # the red design, read from its original
    original = images / "sub" / "a.png"
    original.unlink()
    original.symlink_to(secret)
    res = client.get(f"/api/images/{a.id}/palette?k=3")  # k=3: not answered from the palette cache
    assert res.status_code == 404 and "palette" not in res.get_json()
    assert_secured(res, "palette 404")

