"""The page routes: HTML pages, thumbnails (safe paths, long cache), original files and colour palettes."""

from __future__ import annotations

import io
import json

from PIL import Image

from swatch.catalog.db import Catalog


def first_image(settings):  # type: ignore[no-untyped-def]
    return Catalog(settings.database).live_images()[0]


def fetch(client, url: str, **kwargs):  # type: ignore[no-untyped-def]
    """GET and close the response (file responses hold an open file until closed)."""
    res = client.get(url, **kwargs)
    res.get_data()
    res.close()
    return res


def test_pages_render_with_their_scripts(client) -> None:  # type: ignore[no-untyped-def]
    main = client.get("/")
    assert main.status_code == 200
    html = main.get_data(as_text=True)
    assert 'id="cat-grid"' in html and "js/designer.js" in html and 'href="/training"' in html
    training = client.get("/training")
    assert training.status_code == 200
    assert "js/training.js" in training.get_data(as_text=True)
    # everything the pages load is served locally: no CDN, no external fonts
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assets = ("js/designer.js", "js/api.js", "js/dom.js", "js/training.js", "app.css", "icons.svg", "favicon.svg")
    for asset in assets:
        assert fetch(client, f"/static/{asset}").status_code == 200, asset


def test_main_page_carries_the_first_catalogue_page(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/?per_page=5").get_data(as_text=True)
    start = html.index('<script type="application/json" id="first-page">') + len(
        '<script type="application/json" id="first-page">')
    first = json.loads(html[start : html.index("</script>", start)])
    assert first["page"] == 1 and first["per_page"] == 5 and len(first["images"]) == 5
    assert first["total"] == 36
    # the first thumbnails are preloaded from the HTML, before any script runs
    for img in first["images"]:
        assert f'<link rel="preload" as="image" href="{img["thumbnail"]}"' in html
    for bad in ("0", "-3", "999", "x"):
        page = client.get(f"/?per_page={bad}")
        assert page.status_code == 200  # the script then asks /api/images itself
    assert 'id="first-page"' not in client.get("/?per_page=999").get_data(as_text=True)


def test_thumbnail_is_served_with_long_cache(client, settings) -> None:  # type: ignore[no-untyped-def]
    img = first_image(settings)
    res = fetch(client, f"/thumbnails/{img.thumbnail}")
    assert res.status_code == 200
    assert res.mimetype == "image/jpeg"
    assert "immutable" in res.headers["Cache-Control"] and "max-age=31536000" in res.headers["Cache-Control"]
    assert Image.open(io.BytesIO(res.data)).size[0] <= settings.thumb_size
    by_id = fetch(client, f"/images/{img.id}/thumbnail")
    assert by_id.status_code == 200 and by_id.data == res.data


def test_thumbnail_path_tricks_are_refused(client, settings) -> None:  # type: ignore[no-untyped-def]
    (settings.data_dir / "secret.txt").write_text("do not serve")
    for rel in ("../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "/etc/passwd", "../catalog.db",
                "aa/../../secret.txt", "nonexistent.jpg"):
        res = fetch(client, f"/thumbnails/{rel}", follow_redirects=True)
        assert res.status_code == 404, rel
        assert b"do not serve" not in res.data
    res = fetch(client, "/thumbnails/..\\secret.txt")
    assert res.status_code == 404


def test_original_file(client, settings) -> None:  # type: ignore[no-untyped-def]
    img = first_image(settings)
    res = fetch(client, f"/images/{img.id}/file")
    assert res.status_code == 200
    assert res.data == img.full_path.read_bytes()
    missing = client.get("/images/999999/file")
    assert missing.status_code == 404 and "999999" in missing.get_json()["error"]


def test_original_file_gone_from_disk_is_404(client, settings) -> None:  # type: ignore[no-untyped-def]
    img = first_image(settings)
    catalog = Catalog(settings.database)
    with catalog.transaction() as tx:  # point the row at a copy we can delete, leaving the shared images alone
        tx.execute("UPDATE images SET root = ? WHERE id = ?", (str(settings.data_dir), img.id))
    res = client.get(f"/images/{img.id}/file")
    assert res.status_code == 404 and "missing" in res.get_json()["error"]


def test_palette_of_a_catalogue_image(client, settings) -> None:  # type: ignore[no-untyped-def]
    img = first_image(settings)
    res = client.get(f"/api/images/{img.id}/palette")
    assert res.status_code == 200
    palette = res.get_json()["palette"]
    assert len(palette) == 5
    assert all(c["hex"].startswith("#") and len(c["hex"]) == 7 and len(c["lab"]) == 3 for c in palette)
    shares = [c["share"] for c in palette]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 0.01
    again = client.get(f"/api/images/{img.id}/palette").get_json()["palette"]
    assert again == palette  # cached, and deterministic anyway
    assert len(client.get(f"/api/images/{img.id}/palette?k=3").get_json()["palette"]) == 3


def test_palette_bad_input(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/images/999999/palette").status_code == 404
    for k in ("0", "1", "99", "x"):
        res = client.get(f"/api/images/1/palette?k={k}")
        assert res.status_code == 400 and "k must be" in res.get_json()["error"]


def test_palette_of_an_upload_finds_its_colours(client) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    half = Image.new("RGB", (80, 80), (200, 30, 40))
    half.paste((20, 60, 180), (40, 0, 80, 80))
    half.save(buf, "PNG")
    res = client.post("/api/palette?k=2", data={"image": (io.BytesIO(buf.getvalue()), "q.png")},
                      content_type="multipart/form-data")
    assert res.status_code == 200
    hexes = {c["hex"] for c in res.get_json()["palette"]}
    reds = [h for h in hexes if int(h[1:3], 16) > 150 and int(h[5:7], 16) < 90]
    blues = [h for h in hexes if int(h[5:7], 16) > 140 and int(h[1:3], 16) < 60]
    assert reds and blues, hexes


def test_palette_upload_refuses_non_images(client) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/api/palette", data={"image": (io.BytesIO(b"not an image"), "x.jpg")},
                      content_type="multipart/form-data")
    assert res.status_code == 400 and "not a usable image" in res.get_json()["error"]
    res = client.post("/api/palette", data={}, content_type="multipart/form-data")
    assert res.status_code == 400
