"""Catalogue change alerts in real Chromium: the server's scheduled check notices new files, the page shows the
counts with previews, an admin applies them as an ingest job with progress, and the new designs appear."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from harness import ADMIN_TOKEN
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.catalog.folders import register_folder
from swatch.testing.server import ROOT, start_server

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def test_a_change_alert_is_shown_applied_and_its_designs_appear(browser, data_dir: Path, tmp_path: Path,
                                                                demo_images: Path) -> None:
    house = tmp_path / "house"
    house.mkdir()
    folder_id = register_folder(Catalog(data_dir / "catalog.db"), str(house.resolve()), None, None)
    for k, src in enumerate(sorted(demo_images.glob("*.jpg"))[:3]):
        Image.open(src).rotate(90).save(house / f"SS24 - ALERT TWILL - AL10{k}-1.png")
    server = start_server(data_dir, admin_token=ADMIN_TOKEN, env={"SWATCH_WATCH_INTERVAL_S": "1"})
    context = browser.new_context(viewport={"width": 1366, "height": 800}, base_url=server.url)
    context.set_default_timeout(60_000)
    context.add_init_script(f"sessionStorage.setItem('swatch.adminToken', {json.dumps(ADMIN_TOKEN)})")
    errors: list[str] = []
    try:
        deadline = time.monotonic() + 60  # the server's own schedule notices the files (no API call made)
        while True:
            with urllib.request.urlopen(f"{server.url}/api/changes", timeout=30) as resp:
                changes = json.loads(resp.read())
            if changes["pending"]:
                break
            assert time.monotonic() < deadline, changes
            time.sleep(0.3)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/")
        page.wait_for_selector("#cat-grid .tile img")
        alert = page.locator("#change-alert")
        alert.wait_for(state="visible")
        assert "3 new files in house" in page.inner_text("#change-text")
        page.wait_for_function("""() => { const imgs = [...document.querySelectorAll('#change-thumbs img')];
            return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }""")
        srcs = page.eval_on_selector_all("#change-thumbs img", "imgs => imgs.map(i => i.getAttribute('src'))")
        assert all(s.startswith(f"/api/folders/{folder_id}/preview?path=SS24") for s in srcs), srcs
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "change-alert.png"))

        messages: list[str] = []
        page.on("response", lambda r: messages.append(r.json()["message"])
                if "/api/jobs/" in r.url and r.ok else None)
        with page.expect_response(lambda r: r.url.endswith("/api/ingest")) as started:
            page.click("#change-apply")
        assert started.value.status == 202
        alert.wait_for(state="hidden", timeout=240_000)
        assert any("house:" in m for m in messages), messages  # progress was shown from the job
        page.fill("#cat-q", "ALERT")
        page.wait_for_function("() => document.querySelectorAll('#cat-grid .tile').length === 3")
        page.wait_for_function("() => [...document.querySelectorAll('#cat-grid .tile img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        page.click("#folders-box summary")
        page.wait_for_selector("#folder-list li")
        names = page.eval_on_selector_all("#folder-list .folder-name", "els => els.map(e => e.textContent)")
        assert "house" in names
        page.screenshot(path=str(SCREENSHOTS / "change-alert-applied.png"))
    finally:
        context.close()
        server.stop()
    assert not errors, f"JavaScript errors on the page: {errors}"
