"""Server memory under concurrent near-limit uploads: peak RSS and RSS after, through the real waitress server.

Draws a small demo catalogue and ingests it (pattern model) with the code under test, starts
`python -m swatch.serve` on 127.0.0.1 from that code, warms it up with one small upload, then sends `--uploads`
concurrent POST /api/search uploads of one highly compressible `--side` x `--side` PNG (about 116 KB for
6300 x 6300: a 39.7-megapixel picture, just under the default 40,000,000-pixel limit). Peak RSS is the kernel's
VmHWM of the server process (reset after warm-up) and the highest VmRSS sampled every 10 ms; RSS after is VmRSS
`--settle` seconds after the last answer. `--root` runs another copy of the code (e.g. `git archive HEAD | tar -x
-C /tmp/before`) with this interpreter, to measure before and after a change. Prints one JSON object.

    .venv/bin/python bench/upload_memory.py [--root DIR] [--uploads 16] [--side 6300] [--threads 16]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from swatch.testing.probes import memory_mb, multipart
from swatch.testing.server import start_server

ROOT = Path(__file__).resolve().parent.parent


def striped_png(side: int) -> bytes:
    """A side x side RGB PNG of woven-looking vertical stripes: every row alike, so zlib shrinks it ~1000x."""
    x = np.arange(side)
    row = np.stack([(x * 7) % 256, (x // 13 * 40) % 256, 255 - (x // 29 * 50) % 256], axis=1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.broadcast_to(row, (side, side, 3)).copy(), "RGB").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def small_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray((rng.random((256, 256, 3)) * 255).astype(np.uint8), "RGB").save(buf, "JPEG")
    return buf.getvalue()


def post(port: int, body: bytes, ctype: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("POST", "/api/search", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, resp.read(), (time.perf_counter() - started) * 1e3
    finally:
        conn.close()


def run(root: Path, uploads: int, side: int, threads: int, settle: float, work: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root), SWATCH_DATA_DIR=str(work / "data"))
    images = work / "images"
    subprocess.run([sys.executable, "-m", "swatch.demo", "--out", str(images), "--designs", "4", "--colourways",
                    "2", "--size", "128", "--no-progress"], cwd=root, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "extract_features.py", "--images", str(images), "--models", "pattern"],
                   cwd=root, env=env, check=True, capture_output=True)
    png = striped_png(side)
    big, big_type = multipart({"model": "pattern"}, png, "near-limit.png", "application/octet-stream")
    small, small_type = multipart({"model": "pattern"}, small_jpeg(), "warm.jpg", "application/octet-stream")
    server = start_server(work / "data", threads=threads, log=work / "server.log", root=root, ready_timeout=600)
    with server:  # stopped (SIGTERM, then SIGKILL) on the way out
        port, proc = server.port, server.proc
        warm = post(port, small, small_type)
        if warm[0] != 200:
            raise RuntimeError(f"warm-up upload answered {warm[0]}: {warm[1][:200]!r}")
        time.sleep(1.0)
        idle = memory_mb(proc.pid)["VmRSS"]
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        peak_sampled = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    peak_sampled[0] = max(peak_sampled[0], memory_mb(proc.pid)["VmRSS"])
                except OSError:
                    return
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        answers: list[tuple[int, bytes, float]] = []
        lock = threading.Lock()
        gate = threading.Barrier(uploads)

        def one() -> None:
            gate.wait()
            got = post(port, big, big_type)
            with lock:
                answers.append(got)

        started = time.perf_counter()
        workers = [threading.Thread(target=one) for _ in range(uploads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - started
        time.sleep(settle)
        stop.set()
        sampler.join()
        after = memory_mb(proc.pid)
    statuses = collections.Counter(str(a[0]) for a in answers)
    errors = sorted({a[1][:160].decode("utf-8", "replace") for a in answers if a[0] != 200})
    times = sorted(a[2] for a in answers)
    peak = max(after["VmHWM"], peak_sampled[0])
    return {
        "png_bytes": len(png), "png_pixels": side * side, "uploads": uploads, "server_threads": threads,
        "statuses": dict(statuses), "errors": errors[:3], "wall_s": round(wall, 1),
        "latency_p50_ms": round(float(np.percentile(times, 50)), 1), "latency_max_ms": round(times[-1], 1),
        "rss_idle_mb": idle, "rss_peak_mb": peak, "rss_after_mb": after["VmRSS"],
        "peak_over_idle_mb": round(peak - idle, 1), "after_over_idle_mb": round(after["VmRSS"] - idle, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the code to run (default: this checkout)")
    parser.add_argument("--uploads", type=int, default=16, help="concurrent uploads")
    parser.add_argument("--side", type=int, default=6300, help="PNG side in pixels")
    parser.add_argument("--threads", type=int, default=16, help="waitress threads (all uploads at once)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before reading RSS after")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    work = Path(tempfile.mkdtemp(prefix="swatch-upload-mem-"))
    try:
        out = {"benchmark": "upload_memory", "code": str(root), "cpus": os.cpu_count(),
               "load_avg_before": os.getloadavg(),
               **run(root, args.uploads, args.side, args.threads, args.settle, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
