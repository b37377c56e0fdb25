"""A real Swatch server (`python -m swatch.serve`, waitress) in a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import swatch

ROOT = Path(swatch.__file__).resolve().parent.parent  # the server runs the same code tree the caller imports
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A started server: its process, base URL and port, and the file its output goes to.

    Output goes to a file, never to a pipe: nobody reads a pipe while the caller works, so the access log
    would fill it and stall the server. A log file the caller did not name is deleted on stop."""

    proc: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path
    _log: IO[bytes] = field(repr=False)
    _own_log: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """What the server has written so far (stdout and stderr together)."""
        try:
            return self.log_path.read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (waitress shuts down cleanly); SIGKILL if it has not exited within `timeout`."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._close()

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing in the server gets to clean up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=timeout)
        self._close()

    def _close(self) -> None:
        if not self._log.closed:
            self._log.close()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_ready(server: Server, timeout: float = 120.0) -> None:
    """Poll /readyz until it answers 200 (indexes warmed; 503 before); raise with the server's output if it
    dies or never gets ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.output()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=2) as res:
                if res.status == 200 and json.loads(res.read())["ready"] is True:
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {server.url} not ready after {timeout:.0f} s:\n{server.output()[-3000:]}")


def start_server(
    data_dir: Path, admin_token: str = "", threads: int = 8, log: Path | None = None, root: Path = ROOT,
    env: dict[str, str] | None = None, ready_timeout: float = 120.0, workers: int = 1,
) -> Server:
    """`python -m swatch.serve` over `data_dir` on a free port, returned once /readyz says ready.

    `root` is the code tree to run (another checkout measures before and after a change); `log` keeps the
    output in that file (default: a temporary file, removed on stop); `env` adds or overrides variables;
    `workers` above 1 serves with that many processes (`--workers`)."""
    port = free_port()
    python_path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "SWATCH_ADMIN_TOKEN": admin_token,
                "PYTHONPATH": python_path, **(env or {})}
    if log is None:
        fd, name = tempfile.mkstemp(prefix="swatch-server-", suffix=".log")
        handle: IO[bytes] = os.fdopen(fd, "wb")
        log_path, own = Path(name), True
    else:
        handle, log_path, own = open(log, "wb"), Path(log), False  # noqa: SIM115 (Server.stop closes it)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "swatch.serve", "--host", HOST, "--port", str(port),
             "--threads", str(threads), *(["--workers", str(workers)] if workers > 1 else [])],
            cwd=root, env=full_env, stdout=handle, stderr=subprocess.STDOUT,
        )
    except BaseException:
        handle.close()
        raise
    server = Server(proc, f"http://{HOST}:{port}", port, log_path, handle, own)
    try:
        wait_ready(server, ready_timeout)
    except BaseException:
        server.stop()  # wait_ready's error already holds the tail of the output
        raise
    return server
