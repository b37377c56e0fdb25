"""HTTP load the benchmarks share: a keep-alive client, percentiles, N concurrent clients over a list of paths."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from swatch.testing.server import HOST


def pct(values: list[float], q: float) -> float:
    """The q-th percentile of `values`, rounded to microseconds (NaN when there are none)."""
    return round(float(np.percentile(values, q)), 3) if values else float("nan")


class Client:
    """One keep-alive HTTP connection to 127.0.0.1."""

    def __init__(self, port: int, timeout: float = 120.0):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes, float]:
        """Status, lower-cased headers, body and round-trip milliseconds."""
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, (time.perf_counter() - started) * 1e3

    def close(self) -> None:
        self.conn.close()


Keep = Callable[[str, dict[str, str], bytes], None]


def run_load(port: int, paths: list[str], clients: int, keep: Keep | None = None) -> dict[str, Any]:
    """GET `paths` from `clients` threads (one connection each); p50/p99 of server-side (X-Elapsed-Ms) and
    round-trip milliseconds, requests/s. `keep(path, headers, body)` sees each 200 answer (under a lock)."""
    server: list[float] = []
    trip: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    chunks = [paths[i::clients] for i in range(clients)]

    def worker(chunk: list[str]) -> None:
        client = Client(port)
        try:
            for path in chunk:
                status, headers, data, ms = client.request("GET", path)
                with lock:
                    if status != 200:
                        errors.append(f"{status} {data[:200]!r}")
                        continue
                    server.append(float(headers["x-elapsed-ms"]))
                    trip.append(ms)
                    if keep is not None:
                        keep(path, headers, data)
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(server), "errors": len(errors), "first_error": errors[:1],
            "server_p50_ms": pct(server, 50), "server_p99_ms": pct(server, 99),
            "roundtrip_p50_ms": pct(trip, 50), "roundtrip_p99_ms": pct(trip, 99),
            "throughput_rps": round(len(server) / wall, 1)}
