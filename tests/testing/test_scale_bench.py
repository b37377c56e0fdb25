"""bench/scale.py answers --help and refuses bad flags with exit 2, without starting anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "scale.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_help_names_the_flags() -> None:
    out = run("--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--rows", "--dim", "--clients", "--quick"):
        assert flag in out.stdout


def test_bad_flags_exit_2_with_one_error_line() -> None:
    for args in (("--rows", "100"), ("--rows", "5000", "--clients", "1,x"), ("--dim", "256")):
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stdout == "" and out.stderr.strip().splitlines()[-1].startswith("scale.py: error: ")
