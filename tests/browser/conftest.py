"""Browser-test fixtures: a real waitress server over a copy of the ingested demo catalogue, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import LiveServer, server_on_a_copy

from swatch.testing.browser import launch_chromium
from swatch.testing.server import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, ingested_dir: Path,
                request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """One server for the browser tests, on a private copy of the ingested demo catalogue."""
    with server_on_a_copy(tmp_path_factory, ingested_dir, request, "browser") as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium; a missing binary fails the tests (CI installs it), it never skips them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = launch_chromium(p)
        except FileNotFoundError as exc:
            pytest.fail(str(exc))
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, live_server: LiveServer):  # type: ignore[no-untyped-def]
    """A fresh laptop-sized tab (own storage and cache); JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 800}, base_url=live_server.url)
    context.set_default_timeout(30_000)  # generous: CI machines and this one are shared
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(page):  # type: ignore[no-untyped-def]
    """shot(name, show=selector): save a screenshot of the page's current state under test-artifacts/screenshots/
    (first scrolling the element `show` into view inside its panel)."""

    def save(name: str, show: str | None = None) -> Path:
        if show:
            page.locator(show).first.scroll_into_view_if_needed()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
