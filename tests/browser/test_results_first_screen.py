"""The first screenful of results comes first: eager thumbnails, its own mark, and palettes only after it."""

from __future__ import annotations

import pytest
from test_designer_page import open_main, search_done

pytestmark = pytest.mark.browser

_MARKS = """() => {
  const click = performance.getEntriesByName('swatch:click').slice(-1)[0].startTime;
  const row = performance.getEntriesByName('swatch:first-row-painted').slice(-1)[0];
  const palettes = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/palette') && e.startTime >= click).map((e) => e.startTime);
  return { click, row: row ? row.startTime : null, palettes,
           first_row: performance.getEntriesByName('swatch:click-to-first-row').length,
           twelve: performance.getEntriesByName('swatch:click-to-results').length };
}"""


def test_the_first_screen_of_results_loads_before_the_rest_and_the_palettes(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    page.click("label:has(input[value='color'])")  # the colour model shows palette hints on every card
    found = search_done(page, lambda: page.locator("#cat-grid .tile").nth(2).click())
    assert len(found) > 12, "the default list is longer than the first screen"
    imgs = "#results .result-thumb img"
    loading = page.eval_on_selector_all(imgs, "els => els.map((e) => e.loading)")
    assert loading == ["eager"] * 12 + ["lazy"] * (len(found) - 12)
    priority = page.eval_on_selector_all(imgs, "els => els.map((e) => e.getAttribute('fetchpriority'))")
    assert priority[:8] == ["high"] * 8 and set(priority[8:]) == {None}
    page.wait_for_selector("#results .result .chips")  # a result's colours arrived
    page.wait_for_selector("#query .palette .swatch")  # and the query's
    marks = page.evaluate(_MARKS)
    assert marks["first_row"] == 1 and marks["twelve"] == 1 and marks["row"] is not None
    assert marks["palettes"], "the colour hints asked for palettes"
    assert min(marks["palettes"]) >= marks["row"], "no palette was asked for before the first row was shown"
    # the first row is the cards level with the first one, all of them with their thumbnail decoded
    row = page.eval_on_selector_all(
        "#results .result",
        "els => els.filter((e) => e.offsetTop === els[0].offsetTop).map((e) => e.querySelector('img').complete)")
    assert len(row) >= 2 and all(row)


def test_a_second_click_marks_its_own_first_row(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    search_done(page, lambda: page.locator("#cat-grid .tile").nth(1).click())
    page.wait_for_function("() => performance.getEntriesByName('swatch:click-to-first-row').length === 1")
    again = search_done(page, lambda: page.locator("#results .result-thumb").nth(3).click())
    page.wait_for_function("() => performance.getEntriesByName('swatch:click-to-first-row').length === 2")
    assert page.locator("#results .result").count() == len(again) > 12
