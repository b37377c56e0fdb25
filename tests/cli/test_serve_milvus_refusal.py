"""`swatch serve` with SWATCH_MILVUS_URI pointing at no Milvus: one `error:` line naming the variable, exit 2,
nothing from pymilvus itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from swatch.testing.milvus import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_an_unreachable_milvus_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    nobody = free_port()  # bound and released: nothing listens there
    env = {**os.environ, "SWATCH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT),
           "SWATCH_MILVUS_URI": f"http://127.0.0.1:{nobody}", "SWATCH_MILVUS_TIMEOUT_S": "1"}
    env.pop("SWATCH_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "swatch", "serve", "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: SWATCH_MILVUS_URI: cannot reach Milvus at http://127.0.0.1:")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
