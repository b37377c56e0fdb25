"""Operations: /metrics after real searches, the access log, request ids, /livez and /readyz, secrets in logs."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.testing.server import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN = "obs-admin-token-never-logged-5f1e2d3c4b"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(client) -> dict:  # type: ignore[no-untyped-def]
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return samples(resp.get_data(as_text=True))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the root logger of this (pytest's) process: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_metrics_count_one_search_by_route_model_and_mode(app, client) -> None:
    image_id = Catalog(app.extensions["swatch.settings"].database).live_images()[0].id
    before = scrape(client)
    resp = client.get(f"/find-similar?id={image_id}&model=pattern&topN=3")
    assert resp.status_code == 200 and resp.headers["X-Exact"] == "true"
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/find-similar", "method": "GET", "model": "pattern"}
    assert delta("swatch_http_request_duration_seconds_count", **route) == 1
    assert 0 < delta("swatch_http_request_duration_seconds_sum", **route) < 60
    assert delta("swatch_http_requests_total", route="/find-similar", method="GET", status="200") == 1
    assert delta("swatch_searches_total", model="pattern", mode="exact") == 1
    assert delta("swatch_searches_total", model="pattern", mode="approximate") == 0
    assert delta("swatch_index_build_seconds_count", model="pattern", kind="flat") == 1  # this app's first use
    assert value(after, "swatch_catalogue_images") == 36
    assert {s: value(after, "swatch_jobs", state=s) for s in ("queued", "running", "done", "failed",
                                                             "cancelled")} == dict.fromkeys(
        ("queued", "running", "done", "failed", "cancelled"), 0.0)


def test_route_label_is_the_url_rule_and_the_model_only_a_known_one(app, client) -> None:
    image_id = Catalog(app.extensions["swatch.settings"].database).live_images()[0].id
    rule = app.url_map.bind("localhost").match(f"/api/images/{image_id}", return_rule=True)[0].rule
    assert client.get(f"/api/images/{image_id}").status_code == 200
    assert client.get("/find-similar?id=1&model=%3Cscript%3E").status_code == 400
    assert client.get("/no/such/page/12345").status_code == 404
    found = scrape(client)
    routes = {dict(labels).get("route") for name, labels in found if name.startswith("swatch_http_")}
    assert rule in routes and "<unmatched>" in routes
    assert not any(str(image_id) in r or "12345" in r for r in routes if r)
    models = {dict(labels).get("model") for name, labels in found if name.startswith("swatch_http_request_dur")}
    assert models <= {"", "color", "pattern", "color+pattern"}


def test_approximate_searches_are_counted_apart_from_exact_ones(tmp_path: Path) -> None:
    """Above exact_index_max_rows an unfiltered search walks the HNSW graph; a selective filter scans exactly."""
    import faiss

    from swatch.testing.synthetic import RARE_SEASON, synthetic_catalogue
    from swatch.web import create_app

    settings = Settings.from_env(data_dir=tmp_path / "data", exact_index_max_rows=1000)
    made = synthetic_catalogue(settings, 3000, {"pattern": 1400}, seed=5, rare_fraction=0.02)
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    before = scrape(client)
    query = int(made["ids"][7])
    wide = client.get(f"/find-similar?id={query}&model=pattern&topN=10")
    narrow = client.get(f"/find-similar?id={query}&model=pattern&topN=10&season={RARE_SEASON}")
    assert wide.status_code == narrow.status_code == 200
    if faiss.get_num_gpus() == 0:  # with a GPU, unfiltered searches are exact brute force
        assert wide.headers["X-Exact"] == "false"
    assert narrow.headers["X-Exact"] == "true"
    after = scrape(client)
    modes = {mode: value(after, "swatch_searches_total", model="pattern", mode=mode)
             - value(before, "swatch_searches_total", model="pattern", mode=mode) for mode in ("exact", "approximate")}
    expected = {"exact": 1.0, "approximate": 1.0} if wide.headers["X-Exact"] == "false" else {"exact": 2.0,
                                                                                              "approximate": 0.0}
    assert modes == expected
    assert value(after, "swatch_index_build_seconds_count", model="pattern", kind="hnsw+int8") \
        - value(before, "swatch_index_build_seconds_count", model="pattern", kind="hnsw+int8") == 1


def test_request_id_is_echoed_when_sane_and_made_otherwise(client) -> None:
    assert client.get("/livez", headers={"X-Request-Id": "trace-42.a_b:c"}).headers["X-Request-Id"] == "trace-42.a_b:c"
    for bad in ("x" * 129, "two words", "semi;colon", "<script>"):
        made = client.get("/livez", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), (bad, made)
    first, second = (client.get("/livez").headers["X-Request-Id"] for _ in range(2))
    assert first != second
    resp = client.get("/no-such-page", headers={"X-Request-Id": "on-a-404"})
    assert resp.status_code == 404 and resp.headers["X-Request-Id"] == "on-a-404"


def test_access_log_line_plain(client, settings, restore_logging, capsys) -> None:  # type: ignore[no-untyped-def]
    from swatch.logs import configure_logging

    configure_logging(settings)  # plain, INFO
    capsys.readouterr()
    assert client.get("/livez", headers={"X-Request-Id": "plain-1"}).status_code == 200
    lines = [line for line in capsys.readouterr().err.splitlines() if "swatch.access" in line]
    assert len(lines) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO swatch\.access: GET /livez 200 \d+\.\d ms"
                        r" request_id=plain-1 route=/livez client=127\.0\.0\.1", lines[0]), lines[0]


def test_access_log_fields_and_control_characters(client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="swatch.access"):
        client.get("/no/such%0Aline", headers={"X-Request-Id": "cc-1"})
    (record,) = [r for r in caplog.records if r.name == "swatch.access"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["method"] == "GET" and fields["status"] == 404 and fields["request_id"] == "cc-1"
    assert fields["path"] == "/no/such\\nline" and "\n" not in record.getMessage()
    assert fields["route"] == "<unmatched>" and fields["duration_ms"] >= 0


def test_secrets_never_reach_a_log_line(tmp_path: Path, restore_logging, capsys) -> None:  # type: ignore[no-untyped-def]
    from swatch.logs import configure_logging

    settings = Settings.from_env(data_dir=tmp_path, admin_token=TOKEN, log_format="json",
                                 extra={"database_url": "postgresql://u:pa55word-xyz@h/db"})
    configure_logging(settings)
    log = logging.getLogger("swatch.test")
    log.warning("settings are %r; token %s; url %s", settings, TOKEN, settings.extra["database_url"])
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert TOKEN not in err and "pa55word-xyz" not in err
    first, second = (json.loads(line) for line in err.splitlines())
    assert first["level"] == "WARNING" and "token ***" in first["message"] and "u:***@h/db" in first["message"]
    assert second["message"] == "failed" and "RuntimeError: bad token ***" in second["exception"]


def test_livez_readyz_and_health_while_the_indexes_are_built(app, client) -> None:
    from swatch.web.search import engine

    with app.app_context():
        search = engine()
    lock = search.indexes._lock_for(("pattern", "v1"))  # hold the pattern index's first build
    lock.acquire()
    try:
        warming = search.warm_up_async()
        assert client.get("/livez").status_code == 200
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.get_json() == {"ready": False, "reason": "building the search indexes"}
        health = client.get("/health")
        assert health.status_code == 503
        assert health.get_json() == {"status": "ok", "images": 36, "ready": False,
                                     "reason": "building the search indexes"}
    finally:
        lock.release()
    warming.join(60)
    assert client.get("/readyz").status_code == 200 and client.get("/readyz").get_json() == {"ready": True}
    assert client.get("/health").status_code == 200 and client.get("/health").get_json()["ready"] is True


def test_multiprocess_mode_writes_shared_files(data_dir: Path, tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, a process's counts live in files there and a scrape reads them."""
    folder = tmp_path / "prom"
    folder.mkdir()
    script = (
        "from swatch.config import Settings\nfrom swatch.web import create_app\nfrom swatch.catalog.db import Catalog\n"
        f"s = Settings.from_env(data_dir={str(data_dir)!r})\n"
        "c = create_app({'TESTING': True, 'SETTINGS': s}).test_client()\n"
        "i = Catalog(s.database).live_images()[0].id\n"
        "assert c.get(f'/find-similar?id={i}&model=color&topN=2').status_code == 200\n"
        "print(c.get('/metrics').get_data(as_text=True))\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    found = samples(proc.stdout)
    assert value(found, "swatch_searches_total", model="color", mode="exact") == 1
    assert value(found, "swatch_http_request_duration_seconds_count", route="/find-similar", method="GET",
                 model="color") == 1
    assert value(found, "swatch_catalogue_images") == 36
    assert any(p.suffix == ".db" for p in folder.iterdir())  # the per-process files a scrape adds up


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_a_real_server_logs_json_access_lines_and_serves_metrics(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    err_path = tmp_path / "server.err"
    env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "SWATCH_ADMIN_TOKEN": TOKEN, "SWATCH_LOG_FORMAT": "json"}
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "swatch.serve", "--port", str(port), "--threads", "4"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 120
        status = 0
        while status != 200:
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text()
            try:
                status, _, body = request(port, "GET", "/readyz")
                assert status in (200, 503) and json.loads(body)["ready"] is (status == 200)
            except OSError:
                time.sleep(0.2)
        image_id = Catalog(data_dir / "catalog.db").live_images()[0].id
        status, headers, body = request(port, "GET", f"/find-similar?id={image_id}&model=pattern&topN=3",
                                        {"X-Request-Id": "real-search-1"})
        assert status == 200 and headers["X-Request-Id"] == "real-search-1" and len(json.loads(body)) == 3
        status, _, _ = request(port, "POST", "/api/models", {"Authorization": f"Bearer {TOKEN}",
                                                              "Content-Type": "application/json"},
                               json.dumps({"model": "pattern", "version": "v99"}).encode())
        assert status == 400
        status, headers, body = request(port, "GET", "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        found = samples(body.decode())
        assert value(found, "swatch_http_request_duration_seconds_count", route="/find-similar", method="GET",
                     model="pattern") == 1
        assert value(found, "swatch_searches_total", model="pattern", mode="exact") == 1
        assert value(found, "swatch_index_build_seconds_count", model="pattern", kind="flat") == 1
        assert value(found, "swatch_jobs", state="running") == 0 and value(found, "swatch_catalogue_images") == 36
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = err_path.read_text()
    assert TOKEN not in text and "Traceback" not in text
    records = [json.loads(line) for line in text.splitlines()]  # every line of the log is one JSON object
    access = [r for r in records if r["logger"] == "swatch.access"]
    (search,) = [r for r in access if r["path"] == "/find-similar"]
    assert search["method"] == "GET" and search["status"] == 200 and search["request_id"] == "real-search-1"
    assert search["route"] == "/find-similar" and search["model"] == "pattern" and search["duration_ms"] > 0
    assert search["message"].startswith("GET /find-similar 200 ")
    (refused,) = [r for r in access if r["path"] == "/api/models"]
    assert refused["status"] == 400 and re.fullmatch(r"[0-9a-f]{32}", refused["request_id"])
    assert {r["path"] for r in access} >= {"/readyz", "/metrics"}
