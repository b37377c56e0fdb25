"""POST /api/harmony and POST /api/search/colors on the real demo catalogue: rules, matched swatches, filters,
the colour model's index, and bad input as a clear 4xx that changes nothing."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from swatch.catalog.db import Catalog
from swatch.config import PROJECT_ROOT
from swatch.features.colourspace import hue_distance
from swatch.search.harmony import HUE_TOLERANCE, MIN_SHARE

COUNTED = ("images", "palettes", "feedback", "model_versions", "jobs", "cluster_versions")
TWO = [{"hex": "#1f2a44", "share": 0.6}, {"hex": "#f0e8d8", "share": 0.4}]


def chromatic_design(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A catalogue design whose main colour is clearly chromatic, and that colour."""
    for image in client.get("/api/images?per_page=100").get_json()["images"]:
        palette = client.get(f"/api/images/{image['id']}/palette").get_json()["palette"]
        main = max(palette, key=lambda c: c["share"])
        if np.hypot(main["lab"][1], main["lab"][2]) > 30:
            return image, main
    pytest.fail("the demo catalogue has no design with a strongly coloured main colour")


def test_harmony_of_a_design_says_the_rule_and_which_colours_matched(client) -> None:
    image, _ = chromatic_design(client)
    for rule in ("complementary", "analogous", "triadic", "split-complementary", "monochromatic"):
        resp = client.post("/api/harmony", json={"id": image["id"], "rule": rule, "topN": 50})
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body["rule"] == rule and body["query"] and not body["base"]["achromatic"]
        assert int(resp.headers["X-Total-Count"]) == body["total"] >= len(body["results"])
        assert image["id"] not in {r["id"] for r in body["results"]}
        targets = np.array(body["targets"])
        assert len(targets) == {"complementary": 1, "monochromatic": 1}.get(rule, 2)
        for hit in body["results"]:
            assert hit["share"] >= MIN_SHARE - 1e-6 and hit["matched"] and hit["thumbnail"]
            for sw in hit["matched"]:  # every matched colour is chromatic and near a target hue
                assert not sw["achromatic"]
                assert hue_distance(sw["lch"][2], targets).min() <= HUE_TOLERANCE + 0.2
            assert sum(sw["share"] for sw in hit["matched"]) == pytest.approx(hit["share"], abs=0.01)
        scores = [r["score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)


def test_a_picked_colour_finds_the_designs_made_of_it_and_filters_apply(client) -> None:
    image, main = chromatic_design(client)
    body = client.post("/api/harmony", json={"color": main["hex"], "rule": "monochromatic", "topN": 100}).get_json()
    ids = [r["id"] for r in body["results"]]
    assert image["id"] in ids and body["base"]["hex"] == main["hex"] and body["base"]["share"] == 1.0
    season = image["season"]
    narrowed = client.post("/api/harmony", json={"color": main["hex"], "rule": "monochromatic", "topN": 100,
                                                 "season": season}).get_json()
    assert narrowed["results"] and {r["season"] for r in narrowed["results"]} == {season}
    assert {r["id"] for r in narrowed["results"]} <= set(ids) and image["id"] in {r["id"] for r in narrowed["results"]}
    other = client.post("/api/harmony", json={"color": main["hex"], "rule": "monochromatic", "season": "1999-AW"})
    assert other.status_code == 200 and other.get_json()["results"] == []


def test_a_grey_is_neutral_and_has_no_hue_rule(client) -> None:
    neutral = client.post("/api/harmony", json={"color": "#808080", "rule": "monochromatic"}).get_json()
    for hit in neutral["results"]:
        assert hit["matched"] and all(sw["achromatic"] for sw in hit["matched"])
    resp = client.post("/api/harmony", json={"color": "#808080", "rule": "complementary"})
    assert resp.status_code == 400 and "grey has no hue" in resp.get_json()["error"]


def test_picked_colours_search_the_colour_index_and_find_the_design_they_came_from(client) -> None:
    image, _ = chromatic_design(client)
    palette = client.get(f"/api/images/{image['id']}/palette").get_json()["palette"]
    picked = [{"hex": c["hex"], "share": c["share"]} for c in palette]
    resp = client.post("/api/search/colors", json={"colors": picked, "normalise": True, "topN": 5})
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["X-Model"] == "color" and resp.headers["X-Model-Version"] == "v1"
    hits = resp.get_json()
    assert image["id"] in [h["id"] for h in hits[:3]], [h["id"] for h in hits]
    source = next(h for h in hits if h["id"] == image["id"])
    assert len(source["matched"]) == len(source["palette"]) == len(palette)  # its own colours all match
    for hit in hits:
        assert {sw["hex"] for sw in hit["matched"]} <= {sw["hex"] for sw in hit["palette"]}
    sims = [h["similarity"] for h in hits]
    assert sims == sorted(sims, reverse=True) and 0 < sims[-1] <= sims[0] <= 1
    same = client.post("/find-similar", json={"id": image["id"], "model": "color", "topN": 5}).get_json()
    assert {h["id"] for h in hits} & {h["id"] for h in same}  # the same space as a click on the design
    season = image["season"]
    narrowed = client.post("/api/search/colors", json={"colors": picked, "normalise": True, "season": season})
    assert narrowed.status_code == 200 and {h["season"] for h in narrowed.get_json()} == {season}
    one = client.post("/api/search/colors", json={"colors": [{"hex": palette[0]["hex"]}], "topN": 3})
    assert one.status_code == 200 and len(one.get_json()) == 3


def test_the_palette_arrays_are_built_once_per_catalogue_state(app, client) -> None:
    client.post("/api/harmony", json={"color": "#b03a2e", "rule": "analogous"})
    harmony = app.extensions["swatch.search"].harmony
    first = harmony._arrays
    client.post("/api/harmony", json={"color": "#2e6fb0", "rule": "triadic"})
    assert harmony._arrays is first and first is not None
    assert int((first.share.sum(axis=1) > 0.99).sum()) == len(client.get("/api/images?per_page=100").get_json()
                                                              ["images"])


def test_a_palette_stored_later_reaches_the_arrays(app, client, settings) -> None:
    """The arrays follow the stored palettes: one taken away is gone, stored again on request it is back."""
    image, main = chromatic_design(client)
    harmony = app.extensions["swatch.search"].harmony
    sha = Catalog(settings.db_path).image(image["id"]).sha256
    with Catalog(settings.db_path).transaction() as tx:
        tx.execute("DELETE FROM palettes WHERE sha256 = ? AND k = 5", (sha,))
    mono = {"color": main["hex"], "rule": "monochromatic", "topN": 100}
    assert image["id"] not in {r["id"] for r in client.post("/api/harmony", json=mono).get_json()["results"]}
    assert client.post("/api/harmony", json={"id": image["id"], "rule": "triadic"}).status_code == 409
    client.get(f"/api/images/{image['id']}/palette")  # computed from the thumbnail and stored
    assert image["id"] in {r["id"] for r in client.post("/api/harmony", json=mono).get_json()["results"]}
    assert harmony._arrays is not None and harmony._arrays.key[1] == Catalog(settings.db_path).connect().execute(
        "SELECT COUNT(*) FROM palettes WHERE k = 5").fetchone()[0]


BAD = {
    "hex-not-hex": ("/api/harmony", {"color": "#12zz34", "rule": "complementary"}, 400, "#rrggbb"),
    "hex-short": ("/api/harmony", {"color": "#123", "rule": "complementary"}, 400, "#rrggbb"),
    "hex-no-hash": ("/api/search/colors", {"colors": [{"hex": "1f2a44", "share": 1}]}, 400, "#rrggbb"),
    "hex-number": ("/api/search/colors", {"colors": [{"hex": 123456, "share": 1}]}, 400, "#rrggbb"),
    "zero-colours": ("/api/search/colors", {"colors": []}, 400, "1 to 5"),
    "six-colours": ("/api/search/colors", {"colors": [{"hex": "#101010", "share": 1 / 6}] * 6}, 400, "1 to 5"),
    "colours-missing": ("/api/search/colors", {"topN": 5}, 400, "colors must be a list"),
    "colours-not-a-list": ("/api/search/colors", {"colors": "#1f2a44"}, 400, "colors must be a list"),
    "shares-not-summing": ("/api/search/colors", {"colors": [{"hex": "#1f2a44", "share": 0.5},
                                                             {"hex": "#f0e8d8", "share": 0.3}]}, 400, "sum to 1"),
    "shares-over-one": ("/api/search/colors", {"colors": [{"hex": "#1f2a44", "share": 0.7},
                                                          {"hex": "#f0e8d8", "share": 0.4}]}, 400, "sum to 1"),
    "share-zero": ("/api/search/colors", {"colors": [{"hex": "#1f2a44", "share": 0}, {"hex": "#f0e8d8", "share": 1}]},
                   400, "above 0"),
    "share-text": ("/api/search/colors", {"colors": [{"hex": "#1f2a44", "share": "half"}]}, 400, "share"),
    "share-missing-of-two": ("/api/search/colors", {"colors": [{"hex": "#1f2a44"}, {"hex": "#f0e8d8"}]}, 400,
                             "share is required"),
    "normalise-text": ("/api/search/colors", {"colors": TWO, "normalise": "yes"}, 400, "normalise"),
    "colour-extra-key": ("/api/search/colors", {"colors": [{"hex": "#1f2a44", "share": 1, "x": 1}]}, 400,
                         "unknown key"),
    "colours-unknown-version": ("/api/search/colors", {"colors": TWO, "version": "v9"}, 400, "unknown version"),
    "colours-top-n-zero": ("/api/search/colors", {"colors": TWO, "topN": 0}, 400, "topN"),
    "colours-bad-filter": ("/api/search/colors", {"colors": TWO, "cluster": {"version": "v9", "ids": [1]}}, 400,
                           "unknown cluster version"),
    "unknown-rule": ("/api/harmony", {"color": "#1f2a44", "rule": "pentadic"}, 400, "unknown rule"),
    "rule-missing": ("/api/harmony", {"color": "#1f2a44"}, 400, "unknown rule"),
    "unknown-design": ("/api/harmony", {"id": 987654, "rule": "triadic"}, 404, "unknown image id"),
    "id-and-colour": ("/api/harmony", {"id": 1, "color": "#1f2a44", "rule": "triadic"}, 400, "one of them"),
    "no-query": ("/api/harmony", {"rule": "triadic"}, 400, "one of them"),
    "id-text": ("/api/harmony", {"id": "one", "rule": "triadic"}, 400, "id must be an integer"),
    "harmony-top-n-huge": ("/api/harmony", {"color": "#1f2a44", "rule": "triadic", "topN": 10**6}, 400, "topN"),
    "harmony-body-list": ("/api/harmony", [1, 2], 400, "must be an object"),
}


def _counts(settings: Any) -> dict[str, int]:
    conn = Catalog(settings.database).connect()
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED}


@pytest.mark.parametrize("url, body, status, words", [pytest.param(*v, id=k) for k, v in BAD.items()])
def test_bad_colour_input_is_a_clear_4xx_and_changes_nothing(client, settings, url, body, status, words) -> None:
    before = _counts(settings)
    resp = client.post(url, data=json.dumps(body), content_type="application/json")
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text[:300]
    error = resp.get_json()["error"]
    assert isinstance(error, str) and "\n" not in error and words.casefold() in error.casefold(), error
    for leak in ("Traceback", 'File "', str(settings.data_dir), str(PROJECT_ROOT)):
        assert leak not in text
    assert _counts(settings) == before


def test_no_json_body_is_refused(client) -> None:
    assert client.post("/api/harmony").status_code == 400
    assert client.post("/api/search/colors", data="x", content_type="text/plain").status_code == 415
