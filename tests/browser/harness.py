"""A real Swatch server in a subprocess and Debian's headless Chromium: shared by the browser tests and bench/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

import swatch

ROOT = Path(swatch.__file__).resolve().parent.parent  # the server runs the same code tree the caller imports
ADMIN_TOKEN = "browser-admin-token"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: each started server's output goes to a temporary file, never to a pipe: nobody reads a pipe while the tests
#: run, so the access log would fill it and stall the server
_OUTPUT: dict[int, IO[bytes]] = {}


def server_output(proc: subprocess.Popen[bytes]) -> str:
    """What a server started here (or a process with a piped stdout) has written so far."""
    log = _OUTPUT.get(proc.pid)
    if log is None:
        return proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    log.seek(0)
    return log.read().decode(errors="replace")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Poll /readyz until it answers 200 (indexes warmed; 503 before); raise with the server's output if it dies
    or never gets ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server_output(proc)[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as res:
                if res.status == 200 and json.loads(res.read())["ready"] is True:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {timeout:.0f} s")


def start_server(data_dir: Path, admin_token: str = "", threads: int = 8) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m swatch.serve` (waitress) over `data_dir` on a free port; returns (process, base URL)."""
    port = free_port()
    env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "SWATCH_ADMIN_TOKEN": admin_token}
    log = tempfile.TemporaryFile()  # noqa: SIM115 (stop_server closes it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "swatch.serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    _OUTPUT[proc.pid] = log
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
    except BaseException:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()
    log = _OUTPUT.pop(proc.pid, None)
    if log is not None:
        log.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, never a downloaded browser; FileNotFoundError when it is not installed."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does it as root)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
