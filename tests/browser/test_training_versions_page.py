"""The training page in real Chromium: the two training modes, a refusal shown with its reason, a label-free run
started from the page and the new version listed with its measured figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ADMIN_TOKEN, LiveServer, server_on_a_copy


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, ingested_dir: Path,
                request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server of this module's own (a run here may activate a version the other browser tests search)."""
    with server_on_a_copy(tmp_path_factory, ingested_dir, request, "train-page") as server:
        yield server


def _finished(page, job: str) -> dict:
    for _ in range(1200):
        state = page.evaluate("async (job) => (await (await fetch(`/api/jobs/${job}`)).json())", job)
        if state["state"] not in ("queued", "running"):
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"job {job} did not finish")


def test_a_label_free_version_trained_from_the_page_shows_its_figures(page, tmp_path) -> None:
    page.goto("/training")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    modes = page.locator("#train-form .mode-pick label")
    assert modes.count() == 2
    assert page.is_checked("#train-form input[name=mode][value=ratings]")
    assert "held-out ratings" in modes.nth(0).inner_text()
    assert "without labels" in modes.nth(1).inner_text() and "no rating needed" in modes.nth(1).inner_text()
    page.wait_for_selector("#version-figures tr[data-version='v1']")
    assert "Pretrained" in page.inner_text("#version-figures tr[data-version='v1']")

    # from ratings there is nothing to learn yet: the page says why, and nothing starts
    with page.expect_response(lambda r: r.url.endswith("/api/train") and r.request.method == "POST") as info:
        page.click("#train-form button[type=submit]")
    assert info.value.status == 400
    page.wait_for_selector("#train-result[data-kind=error]")
    assert "Not started: too few ratings" in page.inner_text("#train-result")

    # from the catalogue alone: no rating needed
    page.check("#train-form input[name=mode][value=catalogue]")
    page.fill("#train-form input[name=epochs]", "3")
    with page.expect_response(lambda r: r.url.endswith("/api/train") and r.request.method == "POST") as info:
        page.click("#train-form button[type=submit]")
    assert info.value.status == 202, info.value.text()
    assert info.value.json()["params"]["mode"] == "catalogue" and info.value.json()["params"]["epochs"] == 3
    page.wait_for_selector("#train-result[data-kind=ok]")
    assert "without labels" in page.inner_text("#train-result")
    state = _finished(page, info.value.json()["job"])
    assert state["state"] == "done", state
    version = state["result"]["version"]
    api = page.evaluate("async () => (await (await fetch('/api/train/versions')).json()).versions")
    made = next(v for v in api if v["version"] == version)
    views, decision = made["metrics"]["views"], made["decision"]

    row = page.locator(f"#version-figures tr[data-version='{version}']")
    row.wait_for()
    assert row.get_attribute("data-mode") == "catalogue"
    assert row.locator(".mode-cell").inner_text() == "Catalogue, no labels"
    assert row.locator(".used-cell").inner_text() == f"none ({made['data']['augmented']} synthetic views)"
    assert row.locator(".time-cell").inner_text().startswith(f"{made['seconds']['train']:.1f} s")
    assert f"recall@1, {views['new']['views']} views" in row.inner_text()
    before, after = views[made["compared_with"]]["recall_at_1"], views["new"]["recall_at_1"]
    assert row.locator(".metric-cell").inner_text().startswith(f"v1 {before:.3f} → {version} {after:.3f}")
    assert decision["activated"] == (after > before)
    said = "yes" if decision["activated"] else "no"
    assert row.locator(".decision-cell").inner_text() == f"{said} · {decision['reason']}"
    assert "synthetic views" in decision["reason"]
    assert row.locator(".gain-cell").inner_text() == "none needed"
    assert ("active" in row.inner_text()) == decision["activated"]
    # the figures are text: no markup made from the data
    assert row.locator("script, img, a").count() == 0

    page.locator("#versions").scroll_into_view_if_needed()
    shot = tmp_path / "training-versions.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_version_trained_from_ratings_shows_the_rating_agreement_it_was_judged_by(page, live_server) -> None:
    from helpers import rate_like_a_designer

    from swatch.config import Settings

    on_url = {"database_url": live_server.database} if isinstance(live_server.database, str) else {}
    rate_like_a_designer(Settings.from_env(data_dir=live_server.data_dir, **on_url))
    page.goto("/training")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    page.check("#train-form input[name=mode][value=ratings]")
    page.fill("#train-form input[name=epochs]", "3")
    with page.expect_response(lambda r: r.url.endswith("/api/train") and r.request.method == "POST") as info:
        page.click("#train-form button[type=submit]")
    assert info.value.status == 202, info.value.text()
    assert info.value.json()["params"]["mode"] == "ratings"
    state = _finished(page, info.value.json()["job"])
    assert state["state"] == "done", state
    version = state["result"]["version"]
    api = page.evaluate("async () => (await (await fetch('/api/train/versions')).json()).versions")
    made = next(v for v in api if v["version"] == version)
    data, heldout, decision = made["data"], made["metrics"]["heldout"], made["decision"]

    row = page.locator(f"#version-figures tr[data-version='{version}']")
    row.wait_for()
    assert row.locator(".mode-cell").inner_text() == "Ratings"
    assert row.locator(".used-cell").inner_text() == (
        f"{data['usable_train']} usable of {data['ratings_train']} ({data['ratings_heldout']} held out)")
    assert data["usable_train"] > 0 and heldout["new"]["pairs"] > 0
    assert f"Agreement with held-out ratings ({heldout['new']['pairs']} pairs)" in row.inner_text()
    before = made["compared_with"]
    assert row.locator(".metric-cell").inner_text().startswith(
        f"{before} {heldout[before]['agreement']:.3f} → {version} {heldout['new']['agreement']:.3f}")
    said = "yes" if decision["activated"] else "no"
    assert row.locator(".decision-cell").inner_text() == f"{said} · {decision['reason']}"
    recorded = data.get("ratings_for_gain")
    assert row.locator(".gain-cell").inner_text() == ("not recorded" if recorded is None else str(recorded))
    # both versions stay listed, each with the mode it learnt from
    modes = page.eval_on_selector_all("#version-figures tr[data-mode]", "rows => rows.map((r) => r.dataset.mode)")
    assert modes == ["catalogue", "ratings"]
