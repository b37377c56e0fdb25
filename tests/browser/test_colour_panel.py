"""The designer page's Colours panel in headless Chromium against a real server: the colour picker, hex fields
and share sliders, "use this design's palette", harmony results with their matched swatches, a grey's refusal."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def open_main(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.wait_for_selector("#cat-grid .tile img")
    page.wait_for_function("() => document.querySelector('#cat-grid').getAttribute('aria-busy') === 'false'")


def cards(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        "#results .colour-result",
        """els => els.map(e => ({id: Number(e.dataset.id),
            matched: [...e.querySelectorAll('.chips .swatch.shared')].length,
            swatches: [...e.querySelectorAll('.chips .swatch')].length,
            value: e.querySelector('.sim-value').textContent}))""")


def test_picked_colours_with_the_picker_hex_and_sliders_search_the_colour_model(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    page.click("#colour-panel summary")
    rows = page.locator("#colour-rows .colour-row")
    assert rows.count() == 2
    rows.nth(0).locator(".colour-picker").fill("#b03a2e")  # the colour picker sets the hex field
    assert rows.nth(0).locator(".colour-hex").input_value() == "#b03a2e"
    rows.nth(1).locator(".colour-hex").fill("#E8D9B0")  # the hex field sets the picker
    assert rows.nth(1).locator(".colour-picker").input_value() == "#e8d9b0"
    rows.nth(1).locator(".colour-share").fill("20")
    page.click("#colour-add")
    assert rows.count() == 3
    rows.nth(2).locator(".colour-remove").click()
    assert rows.count() == 2
    assert rows.nth(0).locator("output").text_content() == "75 %"  # 60 : 20
    shot("colours-00-panel", show="#colour-panel")
    with page.expect_response(lambda r: "/api/search/colors" in r.url) as info:
        page.click("#colour-search")
    assert info.value.ok, info.value.text()
    sent = json.loads(info.value.request.post_data or "{}")
    assert sent["normalise"] is True and [c["hex"] for c in sent["colors"]] == ["#b03a2e", "#e8d9b0"]
    answer = info.value.json()
    page.wait_for_function(f"() => document.querySelectorAll('#results .colour-result').length === {len(answer)}")
    shown = cards(page)
    assert [c["id"] for c in shown] == [h["id"] for h in answer] and len(shown) == 24
    assert all(c["swatches"] >= 1 for c in shown) and any(c["matched"] for c in shown)
    assert page.locator("#query .colour-query .swatch").count() == 2
    assert "colour story" in page.text_content("#res-status")
    shot("colours-01-picked-colours", show="#results .colour-result")


def test_a_designs_palette_fills_the_colours_and_harmony_marks_the_matched_swatches(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    first = page.locator("#cat-grid .tile").first
    design_id = int(first.get_attribute("data-id"))
    with page.expect_response(lambda r: "/find-similar" in r.url):
        first.click()
    page.click("#colour-panel summary")
    with page.expect_response(lambda r: f"/api/images/{design_id}/palette" in r.url and r.request.method == "GET"):
        page.click("#colour-from-design")
    palette = page.evaluate(f"() => fetch('/api/images/{design_id}/palette').then(r => r.json())")["palette"]
    page.wait_for_function(f"() => document.querySelectorAll('#colour-rows .colour-row').length === {len(palette)}")
    hexes = page.eval_on_selector_all("#colour-rows .colour-hex", "els => els.map(e => e.value)")
    assert hexes == [c["hex"] for c in palette]

    page.select_option("#harmony-rule", "monochromatic")
    page.select_option("#harmony-base", "design")
    with page.expect_response(lambda r: "/api/harmony" in r.url) as info:
        page.click("#harmony-search")
    assert info.value.ok, info.value.text()
    sent = json.loads(info.value.request.post_data or "{}")
    assert sent["id"] == design_id and sent["rule"] == "monochromatic"
    answer = info.value.json()
    assert answer["results"], "the demo catalogue has designs in the hue of the first design"
    page.wait_for_function(
        f"() => document.querySelectorAll('#results .colour-result').length === {len(answer['results'])}")
    shown = cards(page)
    assert [c["id"] for c in shown] == [r["id"] for r in answer["results"]]
    assert design_id not in {c["id"] for c in shown}
    assert all(c["matched"] == len(r["matched"]) >= 1 for c, r in zip(shown, answer["results"], strict=True))
    assert "Monochromatic" in page.text_content("#query .query-title")
    assert "Monochromatic" in page.locator("#results .colour-result").first.locator(".why").inner_text()
    shot("colours-02-harmony-results", show="#results .colour-result")

    # a grey has no hue: the rule is refused in one clear line
    page.locator("#colour-rows .colour-hex").first.fill("#808080")
    page.select_option("#harmony-rule", "complementary")
    page.select_option("#harmony-base", "colour")
    with page.expect_response(lambda r: "/api/harmony" in r.url) as refused:
        page.click("#harmony-search")
    assert refused.value.status == 400
    page.wait_for_function("() => document.querySelector('#res-status').textContent.includes('grey has no hue')")
