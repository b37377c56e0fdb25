"""The training page in real Chromium: a DBSCAN run with its suggested eps, the not grouped set, renaming a cluster,
a new cluster from a selection, comments on a cluster set and a model version."""

from __future__ import annotations

import csv
import io

from harness import ADMIN_TOKEN


def _wait_job(page, job: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(480):
        state = page.evaluate("async (job) => (await (await fetch(`/api/jobs/${job}`)).json())", job)
        if state["state"] not in ("queued", "running"):
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"job {job} did not finish")


def test_dbscan_from_the_page_not_grouped_rename_new_cluster_and_comments(page, shot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/training")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    page.select_option("#cluster-form select[name=model]", "pattern")
    assert page.is_hidden("#cluster-form input[name=eps]")
    with page.expect_response(lambda r: "/api/clusters/suggest-eps" in r.url) as info:
        page.select_option("#cluster-form select[name=method]", "dbscan")
    suggested = info.value.json()["eps"]
    page.wait_for_function("() => document.querySelector('#cluster-form input[name=eps]').value !== ''")
    assert float(page.input_value("#cluster-form input[name=eps]")) == suggested
    assert page.is_visible("#cluster-form input[name=min_samples]") and page.is_hidden("#cluster-form input[name=k]")
    assert "Suggested eps" in page.inner_text("#method-note")
    shot("h7-01-dbscan-form", show="#cluster-form")
    with page.expect_response(lambda r: r.url.endswith("/api/clusters") and r.request.method == "POST") as info:
        page.click("#cluster-form button[type=submit]")
    assert info.value.status == 202, info.value.text()
    assert info.value.json()["params"]["method"] == "dbscan" and info.value.json()["params"]["eps"] == suggested
    state = _wait_job(page, info.value.json()["job"])
    assert state["state"] == "done", state
    version, lone = state["result"]["version"], state["result"]["not_grouped"]
    assert lone > 0 and state["result"]["k"] >= 2
    row = page.locator(f"#cluster-table tr[data-version='{version}']")
    row.wait_for()
    assert "density" in row.locator(".method-cell").inner_text() and f"{lone} not grouped" in row.inner_text()

    # the not grouped set, shown as such
    page.select_option("#fix-version", version)
    page.wait_for_selector("#fix-cluster option[value='-1']", state="attached")
    assert page.locator("#fix-cluster option[value='-1']").inner_text().startswith("Not grouped")
    page.select_option("#fix-cluster", "-1")
    page.wait_for_function("(n) => document.querySelectorAll('#fix-members.not-grouped .pick').length === n", arg=lone)
    assert "not grouped set" in page.inner_text("#fix-legend")
    shot("h7-02-not-grouped", show="#fix")

    # rename cluster 0
    page.select_option("#fix-cluster", "0")
    page.wait_for_function("() => !document.querySelector('#fix-members').classList.contains('not-grouped')")
    page.fill("#fix-name", "Stripes and checks")
    with page.expect_response(lambda r: r.url.endswith(f"/api/clusters/{version}/rename")) as info:
        page.click("#fix-rename button[type=submit]")
    assert info.value.status == 200
    page.wait_for_function("() => document.querySelector('#fix-cluster option[value=\"0\"]').textContent"
                           ".includes('Stripes and checks')")

    # a new cluster from two ticked designs
    page.wait_for_function("() => document.querySelectorAll('#fix-members .pick').length >= 2")
    ids = [int(v) for v in page.eval_on_selector_all("#fix-members input", "els => els.slice(0, 2).map(e => e.value)")]
    for design in ids:
        page.check(f"#fix-members input[value='{design}']")
    page.fill("#fix-new-name", "Odd ones")
    with page.expect_response(lambda r: r.url.endswith(f"/api/clusters/{version}/clusters")) as info:
        page.click("#fix-new")
    assert info.value.status == 201, info.value.text()
    made = info.value.json()["cluster"]
    page.wait_for_function("(c) => (document.querySelector(`#fix-cluster option[value=\"${c}\"]`) || {}).textContent"
                           "?.includes('Odd ones')", arg=made)
    assert "New cluster" in page.inner_text("#fix-result")

    # comments on the set and on a model version, shown where the versions are listed
    page.fill("#set-note-form input[name=body]", "Density run: odd designs left out")
    with page.expect_response(lambda r: r.url.endswith("/api/comments") and r.request.method == "POST") as info:
        page.click("#set-note-form button[type=submit]")
    assert info.value.status == 201
    page.wait_for_selector("#set-notes .note:has-text('Density run: odd designs left out')")
    page.wait_for_selector(f"#cluster-table tr[data-version='{version}'] .note:has-text('odd designs left out')")
    page.select_option("#model-note-form select[name=subject]", "pattern/v1")
    page.fill("#model-note-form input[name=body]", "The baseline pattern model")
    page.click("#model-note-form button[type=submit]")
    page.wait_for_selector("#models-table tr[data-subject='pattern/v1'] .note:has-text('The baseline pattern model')")
    page.locator("#set-notes .note button:has-text('Edit')").first.click()
    page.fill("#set-notes .note input", "Density run: 2 odd designs made a cluster")
    page.click("#set-notes .note button:has-text('Save')")
    page.wait_for_selector("#set-notes .note:has-text('made a cluster')")
    shot("h7-03-renamed-new-cluster-comments", show="#fix-rename")

    # the CSV names the not grouped set
    text = page.evaluate("async (v) => (await fetch(`/api/clusters/${v}/export.csv`)).text()", version)
    rows = list(csv.reader(io.StringIO(text)))
    assert sum(r[2] == "not grouped" for r in rows[1:]) == lone  # the two moved came from cluster 0
    assert sum(r[2] == str(made) for r in rows[1:]) == 2
