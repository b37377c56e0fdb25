"""The wheel: built from the checkout, installed in a fresh virtual environment outside it, `swatch serve` works."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """The wheel of a copy of the checkout's sources (so no build/ or egg-info lands in the checkout)."""
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "swatch", src / "swatch", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", tmp / "dist", src], tmp, env)
    (wheel,) = (tmp / "dist").glob("swatch-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path, env: dict[str, str]) -> Path:
    """A venv that sees this environment's dependencies through a .pth file and has only the wheel installed."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp, env)
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env).strip())
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         tmp, env)
    return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def _wait_live(base: str, proc: subprocess.Popen[str], deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if _get(base + "/livez")[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail("swatch serve did not come up")


def test_installed_wheel_serves_the_page_and_a_thumbnail(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWATCH_") and k != "PYTHONPATH"}
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path, env), env)
    work = tmp_path / "work"  # the cwd: an installed Swatch keeps its data here, not in site-packages
    work.mkdir()
    probe = ("import json, sys, swatch, swatch.web; from pathlib import Path; "
             "web = Path(swatch.web.__file__).parent; "
             "print(json.dumps({'path': sys.path, 'file': swatch.__file__, "
             "'data': all((web / p).is_file() for p in ('templates/index.html', 'static/app.css', 'openapi.json')), "
             "'centre': any((Path(swatch.__file__).parent / 'features' / 'centres').glob('*.npy'))}))")
    seen = json.loads(_run([venv / "bin" / "python", "-c", probe], work, env))
    assert not any(p and Path(p).resolve() in (ROOT, ROOT / "swatch") for p in seen["path"]), seen["path"]
    assert Path(seen["file"]).resolve().is_relative_to(venv.resolve()), seen["file"]
    assert seen["data"] and seen["centre"]
    swatch = venv / "bin" / "swatch"
    _run([swatch, "demo", "--out", work / "images", "--designs", "2", "--colourways", "2", "--size", "64",
          "--no-progress"], work, env)
    _run([swatch, "ingest", "--images", work / "images", "--models", "color", "--quiet"], work, env)
    assert (work / "catalog.db").is_file()
    port = _free_port()
    proc = subprocess.Popen([str(swatch), "serve", "--port", str(port), "--threads", "2"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(base, proc)
        status, kind, body = _get(base + "/")
        assert status == 200 and kind.startswith("text/html") and b"<html" in body.lower()
        images = json.loads(_get(base + "/api/images")[2])["images"]
        assert len(images) == 4
        status, kind, body = _get(f"{base}/images/{images[0]['id']}/thumbnail")
        assert status == 200 and kind.startswith("image/") and len(body) > 100
        assert _get(base + "/static/app.css")[0] == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
