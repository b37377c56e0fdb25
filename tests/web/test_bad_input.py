"""Bad input gets a clear 4xx JSON error, never a 500, a traceback or a server path, and changes nothing.

Each case of issue 10 ("26 kinds of bad input give 500") is a named regression test here; the uploads' PNG
chunk bombs are tested with the image decoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from swatch.bounds import (
    JSON_MAX_DEPTH,
    MAX_INT64,
    ParamError,
    integer,
    json_depth,
    loads_json,
    number,
)
from swatch.catalog.db import Catalog
from swatch.clustering.versions import ClusterRequest, run_clustering
from swatch.config import PROJECT_ROOT

DEEP_ARRAY = "[" * 3000 + "]" * 3000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
BEYOND = str(MAX_INT64 + 1)
DIGITS_5000 = "9" * 5000
COUNTED = ("feedback", "cluster_moves", "cluster_versions", "jobs", "model_versions", "images")


@dataclass(frozen=True)
class Case:
    """One bad request: `body` is sent as JSON text (already encoded, so it may be anything), `admin` adds the token."""

    method: str
    url: str
    status: int
    words: str
    body: str | None = None
    admin: bool = False
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _rating(**change: Any) -> str:
    """A rating body of two real catalogue images ({query} and {result} are filled in by the test)."""
    body: dict[str, Any] = {"query": "{query}", "result": "{result}", "model": "pattern", "version": "v1",
                            "rating": 4, "rater": "ana"}
    body.update(change)
    return json.dumps(body)


CASES = {
    # ids in query strings and bodies: ASCII digits only, bounded, within SQLite's signed 64-bit range
    "id-superscript-two": Case("GET", "/find-similar?id=²", 400, "id must be an integer"),
    "id-arabic-indic-three": Case("GET", "/find-similar?id=٣", 400, "id must be an integer"),
    "id-5000-digits": Case("GET", f"/find-similar?id={DIGITS_5000}", 400, "id must be an integer"),
    "id-beyond-int64": Case("GET", f"/find-similar?id={BEYOND}", 400, "id must be at most"),
    "body-id-superscript-two": Case("POST", "/find-similar", 400, "id must be an integer", body='{"id": "²"}'),
    "body-id-5000-digits": Case("POST", "/find-similar", 400, "id must be an integer",
                                body=json.dumps({"id": DIGITS_5000})),
    "body-id-beyond-int64": Case("POST", "/find-similar", 400, "64-bit range", body=f'{{"id": {BEYOND}}}'),
    "body-id-float": Case("POST", "/find-similar", 400, "id must be an integer", body='{"id": 1.0}'),
    "topn-5000-digits": Case("GET", f"/find-similar?id=1&topN={DIGITS_5000}", 400, "topN"),
    "topn-superscript-two": Case("GET", "/find-similar?id=1&topN=²", 400, "topN"),
    "page-beyond-int64": Case("GET", f"/find-similar?id=1&page={BEYOND}", 400, "page"),
    "page-int64-max-too-deep": Case("GET", f"/find-similar?id=1&page={MAX_INT64}", 400, "too deep"),
    "per-page-5000-digits": Case("GET", f"/api/images?per_page={DIGITS_5000}", 400, "per_page"),
    "weight-1e999": Case("GET", "/find-similar?id=1&model=color%2Bpattern&weight=1e999", 400, "weight"),
    "weight-nan": Case("GET", "/find-similar?id=1&model=color%2Bpattern&weight=nan", 400, "weight"),
    "body-weight-400-digits": Case("POST", "/find-similar", 400, "64-bit range",
                                   body='{"id": 1, "model": "color+pattern", "weight": ' + "9" * 400 + "}"),
    # path ids: Flask's <int:...> accepted any size, and SQLite raised OverflowError
    "file-id-beyond-int64": Case("GET", f"/images/{BEYOND}/file", 404, "not found"),
    "thumbnail-id-beyond-int64": Case("GET", f"/images/{BEYOND}/thumbnail", 404, "not found"),
    "palette-id-beyond-int64": Case("GET", f"/api/images/{BEYOND}/palette", 404, "not found"),
    "image-id-beyond-int64": Case("GET", f"/api/images/{BEYOND}", 404, "not found"),
    "thumbnail-id-5000-digits": Case("GET", f"/images/{DIGITS_5000}/thumbnail", 404, "not found"),
    "palette-k-superscript-two": Case("GET", "/api/images/1/palette?k=²", 400, "k must be an integer"),
    # JSON nested 3,000 deep: RecursionError was not caught, in bodies and in query-string filters
    "body-nested-3000": Case("POST", "/find-similar", 400, "nested too deeply", body=DEEP_ARRAY),
    "body-object-nested-3000": Case("POST", "/find-similar", 400, "nested too deeply", body=DEEP_OBJECT),
    "feedback-body-nested-3000": Case("POST", "/api/feedback", 400, "nested too deeply", body=DEEP_OBJECT),
    "clusters-body-nested-3000": Case("POST", "/api/clusters", 400, "nested too deeply", body=DEEP_ARRAY,
                                      admin=True),
    "move-body-nested-3000": Case("POST", "/api/clusters/v1/move", 400, "nested too deeply", body=DEEP_OBJECT,
                                  admin=True),
    "models-body-nested-3000": Case("POST", "/api/models", 400, "nested too deeply", body=DEEP_ARRAY, admin=True),
    "train-body-nested-3000": Case("POST", "/api/train", 400, "", body=DEEP_OBJECT, admin=True),
    "filter-query-nested-3000": Case("GET", f"/find-similar?id=1&composition={DEEP_ARRAY}", 400,
                                     "nested too deeply"),
    "filter-query-object-nested-3000": Case("GET", f"/api/images?cluster={DEEP_OBJECT}", 400, "nested too deeply"),
    "filter-body-nested-3000": Case("POST", "/find-similar", 400, "nested too deeply",
                                    body='{"id": 1, "season": ' + DEEP_ARRAY + "}"),
    # cluster ids: integers only (not floats, bools, infinities)
    "cluster-1e999": Case("GET", "/find-similar?id=1&cluster_version=v1&cluster=[1e999]", 400, "finite"),
    "cluster-1e27": Case("GET", "/find-similar?id=1&cluster_version=v1&cluster=[1e27]", 400, "cluster ids"),
    "cluster-true": Case("GET", '/api/images?cluster={"version":"v1","ids":[true]}', 400, "cluster ids"),
    "cluster-body-1e27": Case("POST", "/find-similar", 400, "cluster ids",
                              body='{"id": 1, "cluster": {"version": "v1", "ids": [1e27]}}'),
    "cluster-beyond-int64": Case("GET", f"/api/images?cluster_version=v1&cluster={BEYOND}", 400, "cluster ids"),
    "cluster-detail-superscript-two": Case("GET", "/api/clusters/v1?cluster=²", 400, "cluster must be"),
    "moves-limit-5000-digits": Case("GET", f"/api/clusters/v1/moves?limit={DIGITS_5000}", 400, "limit"),
    "composition-min-1e999": Case("GET", "/api/images?fiber=WV&min=1e999", 400, "composition min"),
    "json-nan-constant": Case("GET", '/api/images?composition={"fiber":"WV","min":NaN}', 400, "NaN is not JSON"),
    # cluster moves: ids and target beyond SQLite's integer range
    "move-id-beyond-int64": Case("POST", "/api/clusters/v1/move", 400, "64-bit range",
                                 body=f'{{"ids": [{BEYOND}], "to": 0}}', admin=True),
    "move-id-negative": Case("POST", "/api/clusters/v1/move", 400, "ids must be an integer of at least 1",
                             body='{"ids": [-5], "to": 0}', admin=True),
    "move-to-beyond-int64": Case("POST", "/api/clusters/v1/move", 400, "64-bit range",
                                 body=f'{{"ids": [1], "to": {BEYOND}}}', admin=True),
    "move-by-object": Case("POST", "/api/clusters/v1/move", 400, "'by' must be a text",
                           body='{"ids": [1], "to": 0, "by": {"a": 1}}', admin=True),
    # clustering and training parameters
    "cluster-k-superscript-two": Case("POST", "/api/clusters", 400, "k must be an integer",
                                      body='{"model": "pattern", "k": "²"}', admin=True),
    "cluster-k-5000-digits": Case("POST", "/api/clusters", 400, "k must be an integer",
                                  body=json.dumps({"model": "pattern", "k": DIGITS_5000}), admin=True),
    "train-epochs-1e999": Case("POST", "/api/train", 400, "", body='{"epochs": 1e999}', admin=True),
    "train-lr-beyond-int64": Case("POST", "/api/train", 400, "", body=f'{{"lr": {BEYOND}}}', admin=True),
    # ratings: stars an integer 1..5, rater a short printable text
    "rater-object": Case("POST", "/api/feedback", 400, "rater must be a text", body=_rating(rater={"a": 1})),
    "rater-number": Case("POST", "/api/feedback", 400, "rater must be a text", body=_rating(rater=12)),
    "rater-101-chars": Case("POST", "/api/feedback", 400, "rater must be a text", body=_rating(rater="r" * 101)),
    "rater-control-characters": Case("POST", "/api/feedback", 400, "rater must be a text",
                                     body=_rating(rater="ana\x00\x1b[2J")),
    "rater-3-mb": Case("POST", "/api/feedback", 413, "too large", body=_rating(rater="r" * 3_000_000)),
    "stars-bool": Case("POST", "/api/feedback", 400, "rating must be", body=_rating(rating=True)),
    "stars-text-3.0": Case("POST", "/api/feedback", 400, "rating must be", body=_rating(rating="3.0")),
    "stars-float-3.0": Case("POST", "/api/feedback", 400, "rating must be", body=_rating(rating=3.0)),
    "stars-zero": Case("POST", "/api/feedback", 400, "rating must be", body=_rating(rating=0)),
    "feedback-query-5000-chars": Case("POST", "/api/feedback", 400, "query must be",
                                      body=_rating(query="q" * 5000)),
    "feedback-model-object": Case("POST", "/api/feedback", 400, "unknown model", body=_rating(model={"a": 1})),
    "feedback-not-utf8": Case("POST", "/api/feedback", 400, "not UTF-8", body="\udcff\udcfe{"),
    "feedback-as-form-text": Case("POST", "/api/feedback", 415, "Content-Type: application/json",
                                  body=_rating(), content_type="text/plain"),
}


@pytest.fixture
def catalogue(app, settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A cluster version v1 (so moves reach their checks) and the names of two live images."""
    run_clustering(settings, ClusterRequest("pattern", k=3), catalog=app.extensions["swatch.catalog"])
    images = Catalog(settings.database).live_images()
    return {"query": images[0].path, "result": images[1].path}


def _counts(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    conn = Catalog(settings.database).connect()
    return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in COUNTED}


def _send(client, case: Case, names: dict[str, str], admin_headers: dict[str, str]):  # type: ignore[no-untyped-def]
    headers = {**case.headers, **(admin_headers if case.admin else {})}
    if case.method == "GET":
        return client.get(case.url, headers=headers)
    body = case.body or ""
    for key, value in names.items():
        body = body.replace("{" + key + "}", value)
    data = body.encode("utf-8", "surrogateescape")
    return client.post(case.url, data=data, content_type=case.content_type, headers=headers)


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
def test_bad_input_is_a_clear_4xx_and_changes_nothing(client, settings, catalogue, admin_headers, case: Case):
    before = _counts(settings)
    resp = _send(client, case, catalogue, admin_headers)
    text = resp.get_data(as_text=True)
    assert resp.status_code == case.status, text[:300]
    assert resp.is_json, text[:300]
    error = resp.get_json()["error"]
    assert isinstance(error, str) and error and "\n" not in error
    assert case.words.casefold() in error.casefold(), error
    assert len(text) < 1000  # the bad value is not echoed back in full
    for leak in ("Traceback", "File \"", str(settings.data_dir), str(PROJECT_ROOT), "Error:"):
        assert leak not in text
    assert _counts(settings) == before


def test_good_values_next_to_the_bad_ones_still_work(client, settings, catalogue, admin_headers) -> None:
    """The bounds do not refuse what is valid: the largest id is a 404, int64 cluster ids and a rating store."""
    assert client.get(f"/images/{MAX_INT64}/file").status_code == 404
    assert client.get(f"/find-similar?id={MAX_INT64}").status_code == 404
    ok = client.get(f"/find-similar?id=1&topN=5&cluster_version=v1&cluster=[0,1,2,{MAX_INT64}]")
    assert ok.status_code == 200, ok.get_json()
    body = json.loads(_rating().replace("{query}", catalogue["query"]).replace("{result}", catalogue["result"]))
    stored = client.post("/api/feedback", json={**body, "rater": "  Ana María  "})
    assert stored.status_code == 201, stored.get_json()
    row = Catalog(settings.database).connect().execute("SELECT rater, rating FROM feedback").fetchall()
    assert row == [("Ana María", 4)]
    move = client.post("/api/clusters/v1/move", json={"ids": [catalogue["query"]], "to": 2, "by": "ana"},
                       headers=admin_headers)
    assert move.status_code == 200, move.get_json()


@pytest.mark.parametrize("value, expected", [("7", 7), (" 12 ", 12), (7, 7), (str(MAX_INT64), MAX_INT64)])
def test_integer_accepts_ascii_digits_and_ints(value: object, expected: int) -> None:
    assert integer(value, "n") == expected


@pytest.mark.parametrize("value", ["²", "٣", "1_000", "0x10", "1e3", "", DIGITS_5000, True, 1.0, [1], BEYOND, "0"])
def test_integer_refuses_everything_else(value: object) -> None:
    with pytest.raises(ParamError, match="n "):
        integer(value if value != "" else None, "n")


@pytest.mark.parametrize("value", ["1e999", "inf", "nan", "-Infinity", "1_0", "٣", 10**400, float("nan"), True])
def test_number_is_finite_ascii_and_bounded(value: object) -> None:
    with pytest.raises(ParamError):
        number(value, "x", low=0.0, high=100.0)
    assert number("2.5e1", "x", low=0.0, high=100.0) == 25.0


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}') == 3
    assert json_depth('["\\"[[[", {"x": []}]') == 3
    assert loads_json('{"s": "' + "[" * 5000 + '"}') == {"s": "[" * 5000}
    deepest = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH
    assert loads_json(deepest) == json.loads(deepest)
    with pytest.raises(ParamError, match="nested too deeply"):
        loads_json("[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1))
