"""Ratings are validated, stored durably and summarised per model version; many raters at once lose nothing."""

from __future__ import annotations

import threading

from swatch.catalog.db import Catalog


def _two_names(settings):
    imgs = Catalog(settings.database).live_images()
    return imgs[0].path, imgs[1].path


def test_rating_is_stored_and_summarised(client, settings):
    q, r = _two_names(settings)
    resp = client.post("/api/feedback", json={"query": q, "result": r, "model": "pattern", "version": "v1",
                                              "rating": 4})
    assert resp.status_code == 201
    conn = Catalog(settings.database).connect()
    rows = conn.execute("SELECT query_name, result_name, rating FROM feedback").fetchall()
    assert rows == [(q, r, 4)]
    summ = client.get("/api/feedback/summary").get_json()["versions"]
    assert summ[0]["model"] == "pattern" and summ[0]["count"] == 1 and summ[0]["stars"]["4"] == 1


def test_bad_ratings_are_refused_and_change_nothing(client, settings):
    q, r = _two_names(settings)
    bad = [
        {"query": q, "result": r, "model": "pattern", "rating": 6},
        {"query": q, "result": r, "model": "pattern", "rating": "5"},
        {"query": q, "result": r, "model": "pattern", "rating": True},
        {"query": "nope.jpg", "result": r, "model": "pattern", "rating": 3},
        {"query": q, "result": r, "model": "texture", "rating": 3},
        {"query": q, "result": r, "model": "pattern", "version": "v9", "rating": 3},
        {"query": q, "model": "pattern", "rating": 3},
    ]
    for body in bad:
        resp = client.post("/api/feedback", json=body)
        assert resp.status_code == 400, body
        assert resp.get_json()["error"]
    resp = client.post("/api/feedback", data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert Catalog(settings.database).connect().execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_concurrent_raters_lose_nothing(app, settings):
    q, r = _two_names(settings)
    errors: list[int] = []

    def rate(n: int) -> None:
        c = app.test_client()
        for k in range(25):
            resp = c.post("/api/feedback", json={"query": q, "result": r, "model": "color", "rating": 1 + (n + k) % 5})
            if resp.status_code != 201:
                errors.append(resp.status_code)

    threads = [threading.Thread(target=rate, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Catalog(settings.database).connect().execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 200
