"""The page's learning tools in real Chromium: marks re-rank the list at once; "Help Swatch learn" rates pairs."""

from __future__ import annotations

import pytest
from test_designer_page import open_first_design, open_main, results, search_done

from swatch.catalog.db import Catalog

pytestmark = pytest.mark.browser


def _ratings(live_server) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    conn = Catalog(live_server.data_dir / "catalog.db").connect()
    return [tuple(r) for r in conn.execute("SELECT query_id, result_id, rating FROM feedback ORDER BY id")]


def test_marks_rerank_the_list_and_are_kept_as_ratings(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    before = _ratings(live_server)
    cards = page.locator("#results .result")
    liked, disliked = found[4]["id"], found[0]["id"]
    cards.nth(4).locator(".mark-yes").click()
    cards.nth(0).locator(".mark-no").click()
    assert page.locator("#rerank").text_content() == "Re-rank with 2 marks"
    shot("marks-01-marked", show="#rerank")
    again = search_done(page, lambda: page.click("#rerank"), endpoint="/find-similar/refine")
    ids = [r["id"] for r in again]
    assert disliked not in ids and liked in ids and query_id not in ids
    assert ids.index(liked) < 4, "a design marked alike moves up"
    assert ids != [r["id"] for r in found]
    new = _ratings(live_server)[len(before):]
    assert sorted(new) == sorted([(query_id, liked, 5), (query_id, disliked, 1)])
    shot("marks-02-reranked", show="#results")
    # the marks stay on the cards still shown, and a second re-rank keeps the rejected design out
    assert cards.nth(ids.index(liked)).locator(".mark-yes").get_attribute("aria-pressed") == "true"
    third = search_done(page, lambda: page.click("#rerank"), endpoint="/find-similar/refine")
    assert disliked not in [r["id"] for r in third]
    assert results(page) == third


def test_help_swatch_learn_offers_pairs_and_stores_their_stars(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    before = _ratings(live_server)
    with page.expect_response(lambda r: "/api/learn/queue" in r.url) as info:
        page.click("#learn-open")
    assert info.value.status == 200
    page.wait_for_selector("#learn-dialog .learn-pair")
    pairs = page.locator("#learn-dialog .learn-pair")
    assert pairs.count() >= 1
    first = pairs.first
    query, result = int(first.get_attribute("data-query")), int(first.get_attribute("data-result"))
    with page.expect_response(lambda r: "/api/feedback" in r.url) as saved:
        first.locator(".star").nth(3).click()
    assert saved.value.status == 201
    page.wait_for_selector("#learn-dialog .learn-pair.rated")
    assert _ratings(live_server)[len(before):] == [(query, result, 4)]
    shot("learn-01-pairs", show="#learn-dialog")
    page.click("#learn-dialog .learn-close")
    assert not page.is_visible("#learn-dialog")
