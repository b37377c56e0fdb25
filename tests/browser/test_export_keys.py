"""Export (CSV downloaded and parsed, the contact sheet in print), the keyboard, and the newcomer's admin link."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_designer_page import open_first_design, open_main

from swatch.catalog.db import Catalog, copy_data_dir
from swatch.testing.server import ROOT, free_port

pytestmark = pytest.mark.browser

TRICKY = [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+2", "'+1+2"), ("-3", "'-3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tTAB", "'\tTAB"),
    ("a, b", "a, b"), ('say "hi"', 'say "hi"'), ("two\nlines", "two\nlines"), ("plain", "plain"), ("", ""),
]


def test_results_download_as_csv(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert re.fullmatch(r"swatch-KM\d{5}-\d-pattern\.csv", download.suggested_filename), download.suggested_filename
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [int(r["id"]) for r in rows] == [r["id"] for r in found]
    assert [int(r["rank"]) for r in rows] == list(range(1, len(found) + 1))
    assert [f"{round(float(r['similarity']) * 100)} %" for r in rows] == [r["sim"] for r in found]
    assert {r["model"] for r in rows} == {"pattern"} and {r["version"] for r in rows} == {"v1"}
    query = page.evaluate(f"fetch('/api/images/{query_id}').then(r => r.json())")
    assert {r["query"] for r in rows} == {query["filename"]}
    first = page.evaluate(f"fetch('/api/images/{rows[0]['id']}').then(r => r.json())")
    assert (rows[0]["design"], rows[0]["colourway"], rows[0]["season"], rows[0]["quality"], rows[0]["filename"]) == (
        first["design"], first["colourway"], first["season"], first["quality"], first["filename"])
    assert rows[0]["composition"] == " · ".join(f"{f} {round(s)} %" for f, s in first["features"])


def test_csv_cells_are_quoted_and_safe_against_formulas(page) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    names = [value for value, _ in TRICKY]
    text = page.evaluate("""(names) => import('/static/js/designer/export.js').then(m => m.resultsCsv({
        results: names.map((n, k) => ({id: k + 1, design: n, filename: n + '.jpg', similarity: 0.5})),
        query: {type: 'image', image: {id: 99, filename: '=cmd|calc.jpg'}}, model: 'color', version: 'v1'}))""", names)
    assert text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["design"] for r in rows] == [safe for _, safe in TRICKY]
    assert {r["query"] for r in rows} == {"'=cmd|calc.jpg"}
    assert all(not r[k] or r[k][0] not in "=+-@\t" for r in rows for k in r)


def test_contact_sheet_prints_thumbnails_and_codes(page, shot) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    _, found = open_first_design(page)
    page.click("#contact-sheet-open")
    sheet = page.locator("#contact-sheet")
    assert sheet.is_visible() and sheet.locator(".sheet-item").count() == len(found)
    assert [int(i) for i in sheet.locator(".sheet-item").evaluate_all("els => els.map(e => e.dataset.id)")] == [
        r["id"] for r in found]
    page.wait_for_function(
        "() => [...document.querySelectorAll('#contact-sheet img')].every(i => i.complete && i.naturalWidth)")
    shot("30-contact-sheet")
    page.emulate_media(media="print")
    shown = page.evaluate("""() => ({topbar: getComputedStyle(document.querySelector('.topbar')).display,
        main: getComputedStyle(document.querySelector('#main')).display,
        tools: getComputedStyle(document.querySelector('.sheet-tools')).display,
        position: getComputedStyle(document.querySelector('#contact-sheet')).position})""")
    assert shown == {"topbar": "none", "main": "none", "tools": "none", "position": "static"}
    shot("31-contact-sheet-print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.emulate_media(media="screen")
    page.keyboard.press("Escape")
    assert sheet.is_hidden()


def test_keyboard_search_rate_and_help(page, shot, live_server) -> None:  # type: ignore[no-untyped-def]
    open_main(page)
    query_id, found = open_first_design(page)
    page.click("#res-title")  # focus nowhere in particular
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "cat-q"
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.url.endswith("/api/feedback") else None)
    page.keyboard.type("3?/")  # typing in a field: no shortcut fires
    assert page.input_value("#cat-q") == "3?/" and page.locator("#keys-help[open]").count() == 0
    page.keyboard.press("Escape")  # in a field, Esc leaves the text to the field
    page.fill("#cat-q", "")
    page.wait_for_timeout(300)
    assert posted == []
    # 3 on the focused result rates it with three stars
    page.focus("#results .result-thumb >> nth=0")
    page.keyboard.press("ArrowRight")
    target = int(page.evaluate("document.activeElement.closest('.result').dataset.id"))
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as info:
        page.keyboard.press("3")
    assert info.value.status == 201
    card = page.locator(f"#results .result[data-id='{target}']")
    card.locator(".stars[data-saved='3']").wait_for()
    assert card.locator(".star.on").count() == 3
    stored = Catalog(live_server.data_dir / "catalog.db").connect().execute(
        "SELECT query_id, result_id, rating FROM feedback WHERE id = ?", (info.value.json()["id"],)).fetchall()
    assert stored == [(query_id, target, 3)]
    # ? shows the keys; Esc closes it
    page.keyboard.press("?")
    page.wait_for_selector("#keys-help[open]")
    assert "Rate the focused result" in page.inner_text("#keys-help")
    shot("32-keys-help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#keys-help", state="hidden")
    assert not posted[1:]


def _serve_like_make_run(data: Path, out: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m swatch.serve --port P`, as `make run` starts it: no SWATCH_ADMIN_TOKEN in the environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SWATCH_ADMIN_TOKEN"}
    env.update(SWATCH_DATA_DIR=str(data), PYTHONPATH=str(ROOT))
    with out.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "swatch.serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    return proc, port


def _printed_link(proc: subprocess.Popen[bytes], out: Path, port: int) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, out.read_text()
        found = re.search(rf"http://127\.0\.0\.1:{port}/training\?login=[\w-]+", out.read_text())
        if found:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as res:
                    if res.status == 200:
                        return found.group(0)
            except OSError:
                pass
        time.sleep(0.3)
    pytest.fail(f"no admin link printed:\n{out.read_text()[-2000:]}")


def test_make_run_prints_an_admin_link_that_logs_the_browser_in(browser, ingested_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    copy_data_dir(ingested_dir, data)
    out = tmp_path / "serve.log"
    proc, port = _serve_like_make_run(data, out)
    try:
        link = _printed_link(proc, out, port)
        assert "Admin link" in out.read_text()
        context = browser.new_context(viewport={"width": 1366, "height": 800})
        tab = context.new_page()
        with tab.expect_response(lambda r: r.url.endswith("/api/admin/login")) as info:
            tab.goto(link)
        assert info.value.status == 200
        tab.wait_for_function("() => document.querySelector('#token-state').textContent.includes('token is set')")
        assert "login=" not in tab.url and tab.url.endswith("/training")  # the code left the address
        # the training page works at once: a clustering job starts with the token the link gave
        tab.select_option("#cluster-form select[name=model]", "pattern")
        tab.fill("#cluster-form input[name=k]", "3")
        with tab.expect_response(lambda r: r.url.endswith("/api/clusters") and r.request.method == "POST") as job:
            tab.click("#cluster-form button[type=submit]")
        assert job.value.status == 202, job.value.text()
        tab.screenshot(path=str(ROOT / "test-artifacts" / "screenshots" / "33-admin-link-logged-in.png"))
        context.close()
        # the link works once: a second browser gets no token
        context = browser.new_context()
        tab = context.new_page()
        with tab.expect_response(lambda r: r.url.endswith("/api/admin/login")) as again:
            tab.goto(link)
        assert again.value.status == 403
        tab.wait_for_function("() => document.querySelector('#token-state').textContent.includes('No token')")
        assert "login=" not in tab.url
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_server_with_a_token_setting_prints_no_link(ingested_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from swatch.testing.server import start_server

    data = tmp_path / "data"
    copy_data_dir(ingested_dir, data)
    server = start_server(data, admin_token="a-token-set-by-the-operator")
    try:
        assert "Admin link" not in server.output() and "login=" not in server.output()
        req = urllib.request.Request(server.url + "/api/admin/login", data=b'{"code": "x"}',
                                     headers={"Content-Type": "application/json"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        refused.value.close()
        assert refused.value.code == 404
    finally:
        server.stop()
