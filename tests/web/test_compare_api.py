"""POST /api/compare: exact pairwise similarities per model from the stored rows, differences, clear refusals."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from swatch.web.admin_link import is_loopback, link


def stored_rows(data_dir, model: str, version: str) -> dict[int, np.ndarray]:  # type: ignore[no-untyped-def]
    """The stored unit rows of a feature version, read straight from its files (not through the index)."""
    folder = data_dir / "image_features" / model / version
    rows = np.load(folder / "features.npy")
    ids = json.loads((folder / "ids.json").read_text())
    return {int(i): rows[k].astype(np.float64) for k, i in enumerate(ids)}


def some_ids(client, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [img["id"] for img in client.get("/api/images?per_page=40").get_json()["images"][:n]]


@pytest.mark.parametrize("n", [2, 4])
def test_every_pair_has_its_exact_similarity_under_each_model(client, data_dir, n: int) -> None:  # type: ignore[no-untyped-def]
    ids = some_ids(client, n)
    res = client.post("/api/compare", json={"ids": ids})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert [d["id"] for d in body["designs"]] == ids
    assert [m["model"] for m in body["models"]] == ["color", "pattern", "color+pattern"]
    for m in body["models"]:
        rows = stored_rows(data_dir, m["model"], m["version"])
        assert [(p["a"], p["b"]) for p in m["pairs"]] == list(combinations(ids, 2))
        for p in m["pairs"]:
            exact = float(rows[p["a"]] @ rows[p["b"]])
            assert p["score"] == pytest.approx(exact, abs=2e-6)
            assert p["similarity"] == pytest.approx(min(max(exact, 0.0), 1.0), abs=2e-6)


def test_differences_name_the_fields_that_differ(client) -> None:  # type: ignore[no-untyped-def]
    images = client.get("/api/images?per_page=100").get_json()["images"]
    a = images[0]
    same_design = next(i for i in images if i["id"] != a["id"] and i["design"] == a["design"])
    other = next(i for i in images if i["design"] != a["design"] and i["season"] != a["season"])
    diff = client.post("/api/compare", json={"ids": [a["id"], same_design["id"]]}).get_json()["differences"]
    assert "design" not in diff and "colourway" in diff
    diff = client.post("/api/compare", json={"ids": [a["id"], other["id"]]}).get_json()["differences"]
    assert {"design", "season"} <= set(diff)


def test_a_colourway_of_the_same_design_is_closer_in_pattern_than_in_colour(client) -> None:  # type: ignore[no-untyped-def]
    images = client.get("/api/images?per_page=100").get_json()["images"]
    a = images[0]
    b = next(i for i in images if i["id"] != a["id"] and i["design"] == a["design"])
    models = {m["model"]: m["pairs"][0]["similarity"]
              for m in client.post("/api/compare", json={"ids": [a["id"], b["id"]]}).get_json()["models"]}
    assert models["pattern"] > models["color"]
    assert min(models["pattern"], models["color"]) <= models["color+pattern"] <= max(models["pattern"], models["color"])


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"ids": "1"}, 400, "list"),
    ({}, 400, "list"),
    ({"ids": []}, 400, "compare 2 to 4"),
    ("ONE", 400, "compare 2 to 4"),
    ("FIVE", 400, "compare 2 to 4"),
    ("DUPLICATE", 400, "distinct"),
    ({"ids": [1, "x"]}, 400, "integer"),
    ({"ids": [1, 2.5]}, 400, "integer"),
    ({"ids": [1, True]}, 400, "integer"),
    ({"ids": [1, 0]}, 400, "at least 1"),
    ({"ids": [1, 99999999999999999999]}, 400, ""),
    ("UNKNOWN", 404, "unknown image id 987654"),
    ([1, 2], 400, "object"),
])
def test_bad_compare_requests_are_clear_4xx(client, body, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    ids = some_ids(client, 5)
    body = {"ONE": {"ids": ids[:1]}, "FIVE": {"ids": ids[:5]}, "DUPLICATE": {"ids": [ids[0], ids[0]]},
            "UNKNOWN": {"ids": [ids[0], 987654]}}.get(body, body) if isinstance(body, str) else body
    res = client.post("/api/compare", json=body)
    assert res.status_code == status, res.get_data(as_text=True)
    error = res.get_json()["error"]
    assert words in error and "\n" not in error and "Traceback" not in error and "/" not in error.replace("2 to 4", "")


def test_a_non_json_body_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/api/compare", data="ids=1,2", content_type="application/x-www-form-urlencoded")
    assert res.status_code == 415 and "JSON" in res.get_json()["error"]


def test_the_original_served_for_zoom_is_the_catalogued_file_itself(client, settings) -> None:  # type: ignore[no-untyped-def]
    from swatch.catalog.db import Catalog

    first = some_ids(client, 1)[0]
    res = client.get(f"/images/{first}/file")
    body = res.get_data()
    res.close()
    row = Catalog(settings.database).image(first)
    assert row is not None
    assert res.status_code == 200 and body == row.full_path.read_bytes()  # the file itself, not a thumbnail


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False), ("", False),
])
def test_only_a_loopback_bind_gets_an_admin_link(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_link_names_the_training_page_and_the_code() -> None:
    assert link("127.0.0.1", 8000, "abc") == "http://127.0.0.1:8000/training?login=abc"
    assert link("::1", 8000, "abc") == "http://[::1]:8000/training?login=abc"
