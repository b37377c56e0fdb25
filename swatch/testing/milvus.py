"""A real Milvus for tests and benchmarks: milvus-lite's bundled server on a free local port (stop, kill, restart)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

with warnings.catch_warnings():  # milvus-lite imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from milvus_lite.server import BIN_PATH


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MilvusServer:
    """The milvus-lite server binary serving `folder/swatch.db` on 127.0.0.1:`port` (URI: `uri`), so several
    processes can share it; `kill()` and `start()` again simulate losing it and getting it back."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, wait_s: float = 60.0) -> MilvusServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = BIN_PATH + ":" + env.get("LD_LIBRARY_PATH", "")
        self.process = subprocess.Popen(
            [os.path.join(BIN_PATH, "milvus"), str(self.folder / "swatch.db"), f"127.0.0.1:{self.port}",
             os.environ.get("SWATCH_MILVUS_LOG_LEVEL", "ERROR")],
            cwd=self.folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with status {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"milvus-lite did not listen on port {self.port} within {wait_s:.0f} s")

    def kill(self) -> None:
        """SIGKILL the server (its data stays in the folder)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def rss_bytes(self) -> int:
        """The server process's resident memory (0 when not running)."""
        if self.pid is None:
            return 0
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
