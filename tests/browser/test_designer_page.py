"""The designer's page in headless Chromium against a real server: browse, search, filter, switch, upload, rate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import ADMIN_TOKEN

from swatch.catalog.db import Catalog

pytestmark = pytest.mark.browser

DEMO_TOTAL = 36  # tests/conftest.py: 12 designs x 3 colourways


def open_main(page, query: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto("/" + query)
    page.wait_for_selector("#cat-grid .tile img")
    page.wait_for_function("() => document.querySelector('#cat-grid').getAttribute('aria-busy') === 'false'")


def tile_count(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator("#cat-grid .tile").count())


def results(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """The result cards as the page shows them: id, design, season, similarity text, in rank order."""
    return page.eval_on_selector_all(
        "#results .result",
        """els => els.map(e => ({id: Number(e.dataset.id), design: e.dataset.design, season: e.dataset.season,
                                 sim: e.querySelector('.sim-value').textContent}))""",
    )


def search_done(page, action, endpoint: str = "/find-similar", timeout: float = 30_000):  # type: ignore[no-untyped-def]
    """Run `action` and wait until the page has drawn the answer of the search it triggers."""
    with page.expect_response(lambda r: endpoint in r.url, timeout=timeout) as info:
        action()
    assert info.value.ok, info.value.text()
    page.wait_for_function("() => document.querySelector('#results').getAttribute('aria-busy') === 'false'")
    return results(page)


def percent(text: str) -> int:
    m = re.fullmatch(r"(\d+) %", text.strip())
    assert m, text
    return int(m.group(1))


def open_first_design(page):  # type: ignore[no-untyped-def]
    first = page.locator("#cat-grid .tile").first
    query_id = int(first.get_attribute("data-id"))
    found = search_done(page, first.click)
    return query_id, found


def test_page_loads_thumbnails(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    assert tile_count(page) == DEMO_TOTAL
    assert page.text_content("#cat-count") == f"{DEMO_TOTAL} designs"
    # real decoded thumbnails with alt text saying what each design is
    loaded = page.eval_on_selector_all(
        "#cat-grid .tile img",
        "imgs => Promise.all(imgs.slice(0, 12).map(i => i.decode().then(() => [i.naturalWidth, i.alt])))",
    )
    assert all(w > 0 and alt for w, alt in loaded)
    assert all(re.match(r"KM\d{5} colourway \d, \d{4}-(AW|SS), ", alt) for _, alt in loaded)
    assert page.title() == "Swatch"
    shot("01-catalogue-loaded")


def test_scrolling_loads_more(page, shot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1366, "height": 700})
    pages_asked: list[str] = []
    page.on("request", lambda r: pages_asked.append(r.url) if "/api/images?" in r.url else None)
    open_main(page, "?per_page=6")
    page.wait_for_load_state("networkidle")
    before = tile_count(page)
    assert 0 < before < DEMO_TOTAL, "the first screen should not hold the whole catalogue at 6 per page"
    asked_before = len(pages_asked)
    shot("02-catalogue-before-scroll")
    for _ in range(20):
        page.eval_on_selector("#cat-scroll", "el => el.scrollTo(0, el.scrollHeight)")
        page.wait_for_timeout(150)
        if tile_count(page) == DEMO_TOTAL:
            break
    page.wait_for_load_state("networkidle")
    assert tile_count(page) == DEMO_TOTAL
    assert len(pages_asked) > asked_before
    assert page.text_content("#cat-more") == "That's all."
    ids = page.eval_on_selector_all("#cat-grid .tile", "els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == DEMO_TOTAL, "pages must not repeat designs"
    shot("03-catalogue-scrolled-to-end")


def test_clicking_a_design_shows_similar_designs(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    assert len(found) == min(24, DEMO_TOTAL - 1)
    assert query_id not in [r["id"] for r in found]
    sims = [percent(r["sim"]) for r in found]
    assert sims == sorted(sims, reverse=True) and 0 <= sims[-1] <= sims[0] <= 100
    # pattern model: the design's other colourways come first, and the page says why
    query_design = page.text_content("#query .query-title")
    assert [r["design"] for r in found[:2]] == [query_design, query_design]
    assert "Same design" in page.locator("#results .result").first.locator(".why").inner_text()
    assert page.locator("#cat-grid .tile.selected").get_attribute("data-id") == str(query_id)
    assert page.url.endswith(f"#id={query_id}")
    page.wait_for_selector("#query .palette .swatch")
    shot("04-similar-designs")


def test_a_result_filter_narrows_the_results(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    _, before = open_first_design(page)
    seasons = sorted({r["season"] for r in before})
    assert len(seasons) > 1
    page.click("#res-filter-box summary")
    season = seasons[-1]
    after = search_done(page, lambda: page.select_option('[data-filters="res"] select[name=season]', season))
    assert after and all(r["season"] == season for r in after)
    assert [r["id"] for r in after] != [r["id"] for r in before]
    assert page.text_content("#res-filter-box [data-count]") == "1"
    shot("05-results-filtered-by-season", show="#results .result .meta")
    cleared = search_done(page, lambda: page.click('[data-filters="res"] button[type=reset]'))
    assert [r["id"] for r in cleared] == [r["id"] for r in before]


def test_a_catalogue_filter_narrows_the_catalogue(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    page.click("#cat-filter-box summary")
    quality = page.eval_on_selector('[data-filters="cat"] select[name=quality]', "s => s.options[1].value")
    with page.expect_response(lambda r: "/api/images?" in r.url):
        page.select_option('[data-filters="cat"] select[name=quality]', quality)
    page.wait_for_function("() => document.querySelector('#cat-grid').getAttribute('aria-busy') === 'false'")
    alts = page.eval_on_selector_all("#cat-grid .tile img", "imgs => imgs.map(i => i.alt)")
    assert 0 < len(alts) < DEMO_TOTAL and all(alt.endswith(quality) for alt in alts)


def test_switching_model_changes_results_and_survives_reload(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, pattern_results = open_first_design(page)
    colour_results = search_done(page, lambda: page.click("label:has(input[value=color])"))
    assert [r["id"] for r in colour_results] != [r["id"] for r in pattern_results]
    # colour matches explain themselves with the shared palette
    page.wait_for_selector("#results .result .chips .swatch.shared")
    page.wait_for_selector("#query .palette .swatch")
    shot("06-colour-results-with-palettes")
    assert page.is_hidden("#weight-box")
    combined = search_done(page, lambda: page.click("label:has(input[value='color+pattern'])"))
    assert page.is_visible("#weight-box")
    all_colour = search_done(page, lambda: page.fill("#weight", "1") or page.dispatch_event("#weight", "change"))
    assert [r["id"] for r in combined] != [r["id"] for r in all_colour]
    assert page.text_content("#weight-out") == "100 % colour · 0 % pattern"
    shot("07-colour-and-pattern-weighted")
    # the choice of model (and the weight) survives a reload; the query comes back from the address
    reloaded = search_done(page, page.reload)
    assert page.is_checked("input[value='color+pattern']")
    assert page.input_value("#weight") == "1"
    assert [r["id"] for r in reloaded] == [r["id"] for r in all_colour]
    assert page.locator("#query .query-title").is_visible() and page.url.endswith(f"#id={query_id}")


def test_version_picker_lists_versions_and_is_remembered(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    page.wait_for_selector("#version option[value=v1]", state="attached")  # models load after the thumbnails
    options = page.eval_on_selector_all("#version option", "os => os.map(o => o.value)")
    assert options[0] == "" and "v1" in options
    assert page.text_content("#version option") == "active (v1)"
    page.select_option("#version", "v1")
    page.reload()
    page.wait_for_selector("#version option[value=v1]", state="attached")
    page.wait_for_function("() => document.querySelector('#version').value === 'v1'")
    assert page.locator("#models .version.chosen").count() == 1


def test_uploading_an_image_returns_results(page, shot, demo_images: Path) -> None:  # type: ignore[no-untyped-def]
    upload = sorted(demo_images.glob("*KM10007-2.jpg"))[0]
    open_main(page)
    # the first upload loads the CNN in the server: allow for it on a busy machine
    found = search_done(page, lambda: page.set_input_files("#upload", str(upload)), endpoint="/api/search",
                        timeout=90_000)
    assert found
    assert found[0]["design"] == "KM10007", "the uploaded design itself (or its colourway) must rank first"
    assert page.text_content("#query .query-title") == upload.name
    assert page.locator("#results .stars").count() == 0  # ratings need a catalogue query
    shot("08-upload-results")


def test_dropping_an_image_searches_with_it(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    first_id = page.locator("#cat-grid .tile").first.get_attribute("data-id")
    drop = """async (id) => {
        const blob = await (await fetch(`/images/${id}/file`)).blob();
        const dt = new DataTransfer();
        dt.items.add(new File([blob], 'dropped.jpg', {type: 'image/jpeg'}));
        const zone = document.querySelector('#results-panel');
        zone.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
    }"""
    found = search_done(page, lambda: page.evaluate(drop, first_id), endpoint="/api/search", timeout=90_000)
    assert found and str(found[0]["id"]) == first_id, "a dropped catalogue file finds itself first"
    assert page.text_content("#query .query-title") == "dropped.jpg"


def test_a_rating_is_stored(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    card = page.locator("#results .result").nth(1)
    with page.expect_response(lambda r: "/api/feedback" in r.url) as info:
        card.locator(".star").nth(3).click()
    assert info.value.status == 201
    page.wait_for_selector("#results .result >> nth=1 >> .stars[data-saved='4']")
    assert card.locator(".star.on").count() == 4
    shot("09-rating-saved", show="#results .result >> nth=1 >> .stars")
    rows = Catalog(live_server.database).connect().execute(
        "SELECT query_id, result_id, model, version, rating FROM feedback ORDER BY id DESC LIMIT 1").fetchall()
    assert rows == [(query_id, found[1]["id"], "pattern", "v1", 4)]


def test_keyboard_moves_through_the_grid_and_opens_a_design(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    page.focus("#cat-q")
    page.keyboard.press("Tab")  # past the search box: the filters summary
    page.keyboard.press("Tab")  # into the grid: one tab stop, the first tile
    assert page.evaluate("document.activeElement.classList.contains('tile')")
    first = page.evaluate("document.activeElement.dataset.id")
    page.keyboard.press("ArrowRight")
    second = page.evaluate("document.activeElement.dataset.id")
    assert second != first
    cols = page.evaluate("""() => { const t = [...document.querySelectorAll('#cat-grid .tile')];
                                    return t.findIndex(e => e.offsetTop !== t[0].offsetTop); }""")
    page.keyboard.press("ArrowDown")
    below = page.evaluate("[...document.querySelectorAll('#cat-grid .tile')].indexOf(document.activeElement)")
    assert below == 1 + cols
    found = search_done(page, lambda: page.keyboard.press("Enter"))
    assert found and page.url.endswith(f"#id={page.evaluate('document.activeElement.dataset.id')}")
    # Space opens too, from the results grid
    page.focus("#results .result-thumb >> nth=0")
    page.keyboard.press("ArrowRight")
    target = page.evaluate("document.activeElement.closest('.result').dataset.id")
    search_done(page, lambda: page.keyboard.press("Space"))
    assert page.url.endswith(f"#id={target}")


def test_slow_answers_show_the_loading_bar(page) -> None:  # type: ignore[no-untyped-def]
    # hold /find-similar back for 600 ms: the bar must appear (after ~100 ms) and go once the answer is drawn
    page.add_init_script("""(() => { const f = window.fetch; window.fetch = (u, o) =>
        String(u).includes('/find-similar')
            ? new Promise(r => setTimeout(r, 600)).then(() => f(u, o)) : f(u, o); })()""")
    open_main(page)
    page.wait_for_load_state("networkidle")
    assert page.is_hidden("#busy")
    page.locator("#cat-grid .tile").first.click()
    page.wait_for_selector("#busy", state="visible", timeout=500)
    page.wait_for_selector("#results .result")
    page.wait_for_selector("#busy", state="hidden")


def test_tablet_layout_and_training_page(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 820, "height": 1180})
    open_main(page)
    open_first_design(page)
    boxes = page.evaluate("""() => ['.catalogue', '.results', '.side'].map(s => {
        const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.width]; })""")
    assert all(w > 0 for _, _, w in boxes)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    shot("10-tablet-results")
    page.click("text=Training & clusters")
    page.wait_for_url("**/training")
    page.wait_for_selector("#models-table tbody tr td:has-text('v1')")
    assert page.is_visible("#cluster-form") and page.is_visible("#train-form")
    page.set_viewport_size({"width": 1366, "height": 800})
    shot("11-training-page")


def make_cluster_version(page, k: int) -> str:  # type: ignore[no-untyped-def]
    """Start a clustering job on the training page (admin token, form), wait for it; returns the new version."""
    page.goto("/training")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    page.select_option("#cluster-form select[name=model]", "pattern")
    page.fill("#cluster-form input[name=k]", str(k))
    with page.expect_response(lambda r: r.url.endswith("/api/clusters") and r.request.method == "POST") as info:
        page.click("#cluster-form button[type=submit]")
    assert info.value.status == 202, info.value.text()
    job = info.value.json()["job"]
    for _ in range(240):
        state = page.evaluate("async (job) => (await (await fetch(`/api/jobs/${job}`)).json())", job)
        if state["state"] not in ("queued", "running"):
            break
        page.wait_for_timeout(250)
    assert state["state"] == "done", state
    return str(state["result"]["version"])


def test_training_page_makes_clusters_and_the_main_page_shows_them(page, shot) -> None:  # type: ignore[no-untyped-def]
    version = make_cluster_version(page, k=4)
    page.wait_for_selector(f"#cluster-table td a[href='/api/clusters/{version}/export.csv']")
    assert page.locator("#jobs .state-done").count() >= 1
    shot("12-training-page-after-clustering")
    open_main(page)
    page.wait_for_selector("#clusters .cluster")
    page.select_option("#side-cluster-version", version)
    page.wait_for_function("() => document.querySelectorAll('#clusters .cluster').length === 4")
    first = page.locator("#clusters .cluster").first
    size = int(first.locator("summary .muted").inner_text().split()[0])
    assert first.locator(".rep img").count() >= 1
    assert first.locator(".rep img").first.get_attribute("alt")
    shot("13-cluster-representatives")
    with page.expect_response(lambda r: "/api/images?" in r.url and "cluster_version=" in r.url):
        first.locator("text=Show in catalogue").click()
    page.wait_for_function("() => document.querySelector('#cat-grid').getAttribute('aria-busy') === 'false'")
    assert tile_count(page) == size
    assert page.text_content("#cat-count") == f"{size} design{'s' if size != 1 else ''}"


def use_token(page, token: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#token", token)
    page.click("#token-form button")


def move_attempt(page, version: str) -> int:  # type: ignore[no-untyped-def]
    """Click "Move selected", wait until the page has shown the answer; returns the HTTP status."""
    with page.expect_response(lambda r: r.url.endswith(f"/api/clusters/{version}/move")) as info:
        page.click("#fix-move")
    page.wait_for_function("() => document.querySelector('#fix-result').dataset.kind")
    return int(info.value.status)


def test_moving_designs_by_hand_is_recorded(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    from swatch.catalog.clusters import effective_clusters

    version = make_cluster_version(page, k=4)
    db = Catalog(live_server.database)
    before = effective_clusters(db, version)
    sizes = [sum(1 for c in before.values() if c == k) for k in range(4)]
    source = max(range(4), key=sizes.__getitem__)
    target = next(k for k in range(4) if k != source)
    # pick the set and its largest cluster: its members show as thumbnails with alt text
    page.wait_for_selector(f"#fix-version option[value='{version}']", state="attached")
    if page.input_value("#fix-version") != version:
        page.select_option("#fix-version", version)
    page.wait_for_selector(f"#fix-cluster option[value='{source}']", state="attached")
    with page.expect_response(lambda r: f"/api/clusters/{version}?" in r.url and f"cluster={source}" in r.url):
        page.select_option("#fix-cluster", str(source))
    page.wait_for_function(f"() => document.querySelectorAll('#fix-members .pick').length === {sizes[source]}")
    alts = page.eval_on_selector_all("#fix-members .pick img", "imgs => imgs.map(i => i.alt)")
    assert all(re.match(r"KM\d{5} colourway \d, ", alt) for alt in alts)
    assert page.is_disabled("#fix-move")
    # select two designs: one by mouse, one from the keyboard (Tab to its checkbox, Space)
    tiles = page.locator("#fix-members .pick")
    tiles.nth(0).click()
    tiles.nth(0).locator("input").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    chosen = {int(tiles.nth(i).get_attribute("data-id")) for i in (0, 1)}
    assert page.text_content("#fix-count") == "2 designs selected."
    assert page.locator("#fix-members .pick.on").count() == 2
    page.select_option("#fix-target", str(target))
    # no token, then a wrong one: clear messages and nothing written
    use_token(page, "")
    assert move_attempt(page, version) == 401
    assert "needs the admin token" in page.text_content("#fix-result")
    use_token(page, "not-the-token")
    assert move_attempt(page, version) == 403
    assert "refused" in page.text_content("#fix-result")
    assert db.connect().execute("SELECT COUNT(*) FROM cluster_moves WHERE version = ?", (version,)).fetchone()[0] == 0
    # with the token the move is made, recorded with who and when, and the page refreshes
    use_token(page, ADMIN_TOKEN)
    page.fill("#fix-by", "Mia")
    assert move_attempt(page, version) == 200
    assert page.get_attribute("#fix-result", "data-kind") == "ok"
    assert page.text_content("#fix-result").startswith(f"Moved 2 designs from cluster {source} to cluster {target}")
    rows = db.connect().execute(
        "SELECT image_id, from_cluster, to_cluster, moved_by, moved_at FROM cluster_moves WHERE version = ?",
        (version,)).fetchall()
    assert {r[0] for r in rows} == chosen and len(rows) == 2
    assert all(r[1:4] == (source, target, "Mia") and r[4] for r in rows)
    after = effective_clusters(db, version)
    assert all(after[i] == target for i in chosen)
    assert {i: c for i, c in after.items() if i not in chosen} == {i: c for i, c in before.items() if i not in chosen}
    page.wait_for_function(f"() => document.querySelectorAll('#fix-members .pick').length === {sizes[source] - 2}")
    left = {int(x) for x in page.eval_on_selector_all("#fix-members .pick", "els => els.map(e => e.dataset.id)")}
    assert not left & chosen
    option = page.text_content(f"#fix-cluster option[value='{source}']")
    assert option.startswith(f"Cluster {source} · {sizes[source] - 2} designs")
    export_row = f"#cluster-table tr:has(a[href='/api/clusters/{version}/export.csv'])"
    page.wait_for_selector(f"{export_row} td:nth-child(5):text-is('2')")
    page.wait_for_function("() => document.querySelectorAll('#moves-table tbody tr[data-id]').length === 2")
    history = page.eval_on_selector_all("#moves-table tbody tr", "rs => rs.map(r => [Number(r.dataset.id), "
                                        "[...r.cells].slice(2).map(c => c.textContent)])")
    assert {i for i, _ in history} == chosen
    assert all(cells == [f"cluster {source}", f"cluster {target}", "Mia"] for _, cells in history)
    page.wait_for_selector("#toast.show", state="detached")  # the screenshot shows the page, not the toast
    shot("14-cluster-moves", show="#moves-table")
    # the moved designs now show in the target cluster, marked as moved by hand
    page.select_option("#fix-cluster", str(target))
    page.wait_for_function(f"() => document.querySelectorAll('#fix-members .pick').length === {sizes[target] + 2}")
    marked = page.eval_on_selector_all("#fix-members .pick:has(.tag)", "els => els.map(e => Number(e.dataset.id))")
    assert set(marked) == chosen
