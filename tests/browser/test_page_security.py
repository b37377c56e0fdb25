"""Both pages under their Content-Security-Policy in Chromium: they work, and no violation is ever reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_designer_page import make_cluster_version, open_main, search_done

pytestmark = pytest.mark.browser

#: runs before any page script in every document of the tab: records each violation the browser reports
WATCH = """(() => { window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__csp.push(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
})()"""


class Watch:
    """CSP violations on a tab: from the page's `securitypolicyviolation` events and from the console."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp")) + self.console


def assert_headers(response) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers  # lower-cased names
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["cross-origin-opener-policy"] == "same-origin"


def test_designer_page_works_under_its_policy(page, shot, demo_images: Path) -> None:  # type: ignore[no-untyped-def]
    watch = Watch(page)
    assets: list = []
    page.on("response", lambda r: assets.append(r) if "/static/" in r.url else None)
    assert_headers(page.goto("/"))
    open_main(page)
    assert {a.url.rsplit("/", 1)[-1] for a in assets} >= {"designer.js", "api.js", "dom.js", "app.css"}
    for asset in assets:
        assert_headers(asset)

    # a click search, then colour (palette swatches are styled from script), then the catalogue's text search
    found = search_done(page, page.locator("#cat-grid .tile").first.click)
    assert found
    assert page.evaluate("document.querySelector('#results .bar span').style.width.endsWith('%')")
    search_done(page, lambda: page.click("#search-form label:has-text('Colour') >> nth=0"))
    page.wait_for_selector("#results .swatch")
    assert page.evaluate("getComputedStyle(document.querySelector('#results .swatch')).backgroundColor") != (
        "rgba(0, 0, 0, 0)"), "swatch colours set through the CSSOM must apply"
    with page.expect_response(lambda r: "/api/images?" in r.url and "q=KM10007" in r.url):
        page.fill("#cat-q", "KM10007")
    page.wait_for_function("() => document.querySelectorAll('#cat-grid .tile').length === 3")

    # an upload: its preview is a blob: URL, which img-src allows
    upload = sorted(demo_images.glob("*KM10007-2.jpg"))[0]
    search_done(page, lambda: page.set_input_files("#upload", str(upload)), endpoint="/api/search", timeout=90_000)
    preview = page.locator("#query img").first
    assert (preview.get_attribute("src") or "").startswith("blob:")
    assert page.evaluate("(img) => img.decode().then(() => img.naturalWidth)", preview.element_handle()) > 0
    shot("20-designer-page-under-csp")
    assert watch.violations() == []

    # the watch itself works: inline script and an inline style attribute are refused and reported
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                             document.body.append(s);
                             document.body.setAttribute('style', 'outline: 3px solid red'); }""")
    page.wait_for_function("() => window.__csp.length >= 2")
    assert page.evaluate("window.__ran") is None
    assert {v.split()[0] for v in watch.violations()} >= {"script-src-elem", "style-src-attr"}


def test_training_page_works_under_its_policy(page, shot) -> None:  # type: ignore[no-untyped-def]
    watch = Watch(page)
    assert_headers(page.goto("/training"))
    page.wait_for_selector("#models-table tbody tr td:has-text('v1')")
    # a clustering job started from the form (with the admin token) and followed to the end, then its set
    # browsed with its thumbnails
    version = make_cluster_version(page, k=3)
    assert page.text_content("#token-state") == "A token is set for this tab."
    page.wait_for_selector(f"#cluster-table td a[href='/api/clusters/{version}/export.csv']")
    page.select_option("#fix-version", version)
    page.wait_for_selector("#fix-members img")
    assert page.evaluate("(img) => img.decode().then(() => img.naturalWidth)",
                         page.locator("#fix-members img").first.element_handle()) > 0
    page.wait_for_selector("#jobs .job")
    shot("21-training-page-under-csp")
    assert watch.violations() == []
