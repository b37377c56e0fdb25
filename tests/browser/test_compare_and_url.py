"""Compare view (zoom with synchronised pan, palettes, differences, similarities) and the search kept in the address."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from test_designer_page import open_first_design, open_main, search_done

from swatch.catalog.db import Catalog

pytestmark = pytest.mark.browser

TRANSFORM = re.compile(r"translate\(([-\d.e]+)px, ([-\d.e]+)px\) scale\(([-\d.e]+)\)")


def transforms(page) -> list[tuple[float, float, float]]:  # type: ignore[no-untyped-def]
    """(x, y, scale) of every zoomed original, as its inline style says."""
    styles = page.eval_on_selector_all("#compare-dialog .zoom-img", "imgs => imgs.map(i => i.style.transform)")
    parsed = [TRANSFORM.fullmatch(s) for s in styles]
    assert all(parsed), styles
    return [(float(m.group(1)), float(m.group(2)), float(m.group(3))) for m in parsed if m]


def in_step(page) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """The one transform all panes share (each pane is asserted to have it)."""
    found = transforms(page)
    assert len(set(found)) == 1, found
    return found[0]


def wait_originals(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("""() => { const imgs = [...document.querySelectorAll('#compare-dialog .zoom-img')];
        return imgs.length && imgs.every(i => i.complete && i.naturalWidth > 0 && i.style.transform); }""")


def test_compare_three_results_with_synchronised_zoom(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    assert page.is_hidden("#compare-tray") if page.locator("#compare-tray").count() else True
    cards = page.locator("#results .result")
    picked = [found[k]["id"] for k in (0, 1, 5)]
    for k in (0, 1, 5):
        cards.nth(k).locator("input[data-pick]").check()
    tray = page.locator("#compare-tray")
    assert tray.is_visible() and tray.locator(".tray-list li").count() == 3
    assert tray.locator("strong").inner_text() == "Compare 3 of 4"
    with page.expect_response(lambda r: r.url.endswith("/api/compare")) as info:
        page.click("#compare-open")
    assert info.value.ok
    answer = info.value.json()
    assert [d["id"] for d in answer["designs"]] == picked
    page.wait_for_selector("#compare-dialog[open] .compare-pane")
    assert page.locator("#compare-dialog .compare-pane").count() == 3
    wait_originals(page)
    # the originals themselves (the file endpoint), at their own pixel size
    catalog = Catalog(live_server.data_dir / "catalog.db")
    natural = page.eval_on_selector_all(
        "#compare-dialog .zoom-img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])")
    for (src, w, h), image_id in zip(natural, picked, strict=True):
        assert src == f"/images/{image_id}/file"
        row = catalog.image(image_id)
        assert row is not None
        with Image.open(row.full_path) as im:
            assert (w, h) == im.size
    # both palettes, the differences highlighted, every pair under each model
    page.wait_for_function("""() => { const p = [...document.querySelectorAll('#compare-dialog .compare-palette')];
                                      return p.length === 3 && p.every(e => e.children.length); }""")
    highlighted = set(page.eval_on_selector_all("#compare-dialog dd.diff", "els => els.map(e => e.dataset.field)"))
    assert highlighted == set(answer["differences"]) and "colourway" in highlighted
    rows = page.locator("#compare-dialog .compare-sims tbody tr")
    assert rows.count() == 3  # 3 designs: 3 pairs
    for m in answer["models"]:
        cells = page.eval_on_selector_all(f"#compare-dialog .compare-sims td[data-model='{m['model']}']",
                                          "tds => tds.map(t => t.textContent)")
        assert cells == [f"{round(p['similarity'] * 100)} %" for p in m["pairs"]]
    # fit, then the original's full resolution: every pane at scale 1, in step
    fit = in_step(page)
    fits = page.eval_on_selector_all("#compare-dialog .zoom-img", """imgs => imgs.map(i => {
        const b = i.parentElement.getBoundingClientRect();
        return Math.min(b.width / i.naturalWidth, b.height / i.naturalHeight); })""")
    assert fit[2] == pytest.approx(min(fits))  # every original whole in its pane
    page.click("#compare-dialog [data-zoom=full]")
    x, y, scale = in_step(page)
    assert scale == 1.0
    assert page.text_content("#zoom-level") == "100 %"
    # drag one pane: all pan by the same amount
    box = page.locator("#compare-dialog .zoom-view").nth(1).bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 30, cy - 20, steps=5)
    page.mouse.up()
    x2, y2, scale2 = in_step(page)
    assert (round(x2 - x), round(y2 - y), scale2) == (-30, -20, 1.0)
    # the wheel over another pane zooms them all, about the pointer
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.wheel(0, -100)
    page.wait_for_function(
        "() => !document.querySelector('#compare-dialog .zoom-img').style.transform.endsWith('scale(1)')")
    assert in_step(page)[2] == pytest.approx(1.2)
    page.click("#compare-dialog [data-zoom=in]")
    assert in_step(page)[2] == pytest.approx(1.8)
    shot("20-compare-three-zoomed")
    page.click("#compare-dialog [data-zoom=fit]")
    assert in_step(page)[2] == pytest.approx(fit[2])
    shot("21-compare-three-fit")
    page.keyboard.press("Escape")
    page.wait_for_selector("#compare-dialog", state="hidden")
    # the tray keeps the picks; one pick alone cannot be compared
    tray.locator(".tray-list button").first.click()
    tray.locator(".tray-list button").first.click()
    assert tray.locator(".tray-list li").count() == 1 and page.is_disabled("#compare-open")
    tray.locator("text=Clear").click()
    assert page.is_hidden("#compare-tray")


def test_a_result_card_zooms_into_its_original(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    _, found = open_first_design(page)
    page.locator("#results .result").nth(2).locator(".zoom-button").click()
    page.wait_for_selector("#compare-dialog[open]")
    wait_originals(page)
    assert page.get_attribute("#compare-dialog .zoom-img", "src") == f"/images/{found[2]['id']}/file"
    page.click("#compare-dialog [data-zoom=full]")
    assert in_step(page)[2] == 1.0
    width = page.evaluate("document.querySelector('#compare-dialog .zoom-img').getBoundingClientRect().width")
    natural = page.evaluate("document.querySelector('#compare-dialog .zoom-img').naturalWidth")
    assert round(width) == natural  # one screen pixel per original pixel
    shot("22-result-zoomed")
    page.keyboard.press("Escape")
    page.wait_for_selector("#compare-dialog", state="hidden")


def address(page) -> dict[str, object]:  # type: ignore[no-untyped-def]
    parts = urlsplit(page.url)
    return {"query": {k: v[0] for k, v in parse_qs(parts.query).items()}, "hash": parts.fragment}


def test_back_returns_through_two_searches(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, by_pattern = open_first_design(page)
    assert address(page) == {"query": {"model": "pattern", "topN": "24"}, "hash": f"id={query_id}"}
    by_colour = search_done(page, lambda: page.click("label:has(input[value=color])"))
    assert address(page)["query"] == {"model": "color", "topN": "24"}
    other = by_colour[3]["id"]
    third = search_done(page, lambda: page.locator("#results .result-thumb").nth(3).click())
    assert address(page) == {"query": {"model": "color", "topN": "24"}, "hash": f"id={other}"}
    assert page.text_content("#query .query-title") == by_colour[3]["design"]
    # Back: the colour search of the first design, then its pattern search; Forward again
    back = search_done(page, page.go_back)
    assert [r["id"] for r in back] == [r["id"] for r in by_colour]
    assert address(page)["hash"] == f"id={query_id}" and page.is_checked("input[value=color]")
    shot("23-back-to-the-colour-search")
    back = search_done(page, page.go_back)
    assert [r["id"] for r in back] == [r["id"] for r in by_pattern] and page.is_checked("input[value=pattern]")
    forward = search_done(page, page.go_forward)
    assert [r["id"] for r in forward] == [r["id"] for r in by_colour]
    forward = search_done(page, page.go_forward)
    assert [r["id"] for r in forward] == [r["id"] for r in third]


def test_a_shared_link_gives_the_same_results_in_a_fresh_browser(page, browser, live_server, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, _ = open_first_design(page)
    search_done(page, lambda: page.click("label:has(input[value='color+pattern'])"))
    search_done(page, lambda: page.fill("#weight", "0.3") or page.dispatch_event("#weight", "change"))
    search_done(page, lambda: page.select_option("#topn", "12"))
    page.click("#res-filter-box summary")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-filters=res] select[name=season] option').length > 1")
    season = page.eval_on_selector("[data-filters=res] select[name=season] option:nth-child(2)", "o => o.value")
    mine = search_done(page, lambda: page.select_option("[data-filters=res] select[name=season]", season))
    assert mine and all(r["season"] == season for r in mine)
    link = page.url
    assert address(page) == {"query": {"model": "color+pattern", "weight": "0.3", "topN": "12", "season": season},
                             "hash": f"id={query_id}"}
    # a colleague: a new context (no storage, no history) opens the link
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    try:
        other = context.new_page()
        errors: list[str] = []
        other.on("pageerror", lambda exc: errors.append(str(exc)))
        theirs = search_done(other, lambda: other.goto(link))
        assert [r["id"] for r in theirs] == [r["id"] for r in mine]
        assert [r["sim"] for r in theirs] == [r["sim"] for r in mine]
        assert other.is_checked("input[value='color+pattern']") and other.input_value("#weight") == "0.3"
        assert other.input_value("#topn") == "12"
        assert other.input_value("[data-filters=res] select[name=season]") == season
        assert other.text_content("#res-filter-box [data-count]") == "1"
        assert other.url == link  # the restore wrote no new entry
        other.screenshot(path=str(shot("24-shared-link-sender").parent / "25-shared-link-fresh-context.png"))
        assert not errors, errors
    finally:
        context.close()
