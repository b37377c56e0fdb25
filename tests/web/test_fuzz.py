"""Property-based fuzz of every documented operation (schemathesis strategies, hypothesis) on the real app over a
small real catalogue: 0 server errors and answers as documented. Bounded: a few examples per operation and mode,
no shrinking, no example database, nothing written outside the test's tmp dirs."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

#: examples per operation and generation mode (schema-valid data, then data that breaks the schema)
MAX_EXAMPLES = 20
ADMIN_TOKEN = "test-admin-token"  # the conftest settings' token
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "ignored_auth")
CONFIG = {
    "generation": {"no-shrink": True, "database": "none"},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "auth": {"openapi": {"bearerAuth": {"bearer": ADMIN_TOKEN}}},
    "cache": {"enabled": False},
}


@pytest.fixture
def hypothesis_home(tmp_path: Path) -> Iterator[Path]:
    """Hypothesis keeps caches (constants, unicode data) in its home: a tmp dir here, not the working tree."""
    home = tmp_path / "hypothesis"
    set_hypothesis_home_dir(home)
    yield home
    set_hypothesis_home_dir(None)


def stop_jobs(app: Any) -> None:
    """Cancel and wait for the jobs the fuzz started (clustering, training) before the data dir goes."""
    runner = app.extensions["swatch.jobs"]
    for job in runner.list(limit=1000):
        if job["state"] in ("queued", "running"):
            runner.cancel(job["id"])
            runner.wait(job["id"], timeout=120)


def anchors(app: Any) -> dict[str, dict[str, Any]]:
    """Real values to hold fixed in a second pass over some operations, so that the fuzzed parameters reach
    a real search, a real image and a real cluster version instead of stopping at a 404."""
    client = app.test_client()
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    job = client.post("/api/clusters", json={"model": "pattern", "k": 4},
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()["job"]
    app.extensions["swatch.jobs"].wait(job, timeout=120)
    version = {"path_parameters": {"version": "v1"}}
    return {
        "GET /find-similar": {"query": {"id": str(image["id"])}},
        "GET /api/images/{image_id}/palette": {"path_parameters": {"image_id": image["id"]}},
        "GET /api/clusters/{version}": version,
        "GET /api/clusters/{model}/{version}": {"path_parameters": {"model": "pattern", "version": "v1"}},
        "GET /api/clusters/{version}/moves": version,
        "POST /api/clusters/{version}/move": version,
    }


def fuzz_operation(operation: Any, mode: GenerationMode, fixed: dict[str, Any]) -> int:
    """Run one operation's examples in one mode (with some parameters `fixed`); the number of examples run."""
    ran = 0

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        nonlocal ran
        ran += 1
        case.call_and_validate()

    run()
    return ran


def test_every_operation_survives_the_fuzz(app: Any, hypothesis_home: Path) -> None:
    statuses: collections.Counter[int] = collections.Counter()

    @app.after_request  # every answer the app gives, 500s from unhandled errors included
    def _count(response: Any) -> Any:
        statuses[response.status_code] += 1
        return response

    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    started = time.perf_counter()
    examples: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    timings: collections.Counter[str] = collections.Counter()
    anchored = anchors(app)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            passes = [{}, anchored[operation.label]] if operation.label in anchored else [{}]
            for mode, fixed in ((m, f) for f in passes for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):
                t0 = time.perf_counter()
                try:
                    examples[operation.label] += fuzz_operation(operation, mode, fixed)
                except Unsatisfiable:  # nothing breaks this operation's schema (no parameters, or free text)
                    examples[operation.label] += 0
                except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, reported together
                    failures.append(f"{operation.label} ({mode.value}, {fixed}): {str(exc)[:1500]}")
                timings[f"{operation.label} {mode.value}"] += time.perf_counter() - t0
    finally:
        stop_jobs(app)
    summary = {"operations": len(examples), "examples": sum(examples.values()), "requests": sum(statuses.values()),
               "statuses": {str(k): v for k, v in sorted(statuses.items())},
               "server_errors": sum(v for k, v in statuses.items() if k >= 500),
               "seconds": round(time.perf_counter() - started, 1)}
    print("\nfuzz:", json.dumps(summary))
    print("slowest:", [(k, round(v, 1)) for k, v in timings.most_common(10)])
    assert not failures, "\n\n".join(failures)
    spec = app.test_client().get("/openapi.json").get_json()
    documented = {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item
                  if m in ("get", "post", "put", "patch", "delete")}
    documented.discard("GET /openapi.json")  # schemathesis leaves out the document it loaded from
    assert set(examples) == documented and all(examples.values()), "every operation ran examples"
    assert summary["server_errors"] == 0
