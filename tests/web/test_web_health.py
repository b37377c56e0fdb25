"""The app factory and /health."""


def test_health_counts_live_images(client, settings):
    from swatch.catalog.db import Catalog

    resp = client.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["images"] == Catalog(settings.database).count_images() == 36


def test_unknown_route_is_json_404(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert "error" in resp.get_json()
