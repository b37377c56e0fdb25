"""Settings: every bad value named on its own line, exit 2 from the server and the CLIs, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from swatch.config import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-admin-token-do-not-print-0123456789"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("SWATCH_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_bad_value_is_one_line_in_field_order(clean_env: pytest.MonkeyPatch) -> None:
    bad = {"SWATCH_BATCH_SIZE": "abc", "SWATCH_DEVICE": "tpu", "SWATCH_THUMB_SIZE": "0",
           "SWATCH_TORCH_THREADS": "-1", "SWATCH_MAX_UPLOAD_BYTES": "9" * 5000, "SWATCH_DEFAULT_TOP_N": "5000",
           "SWATCH_LOG_FORMAT": "xml", "SWATCH_LOG_LEVEL": "loud", "SWATCH_DECODE_THREADS": "²"}
    for name, value in bad.items():
        clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert caught.value.problems == [
        "SWATCH_DEVICE: must be one of auto, cpu, cuda, got 'tpu'",
        "SWATCH_BATCH_SIZE: must be a positive integer, got 'abc'",
        "SWATCH_DECODE_THREADS: must be a positive integer, got '²'",
        "SWATCH_TORCH_THREADS: must be a non-negative integer, got '-1'",
        "SWATCH_THUMB_SIZE: must be a positive integer, got '0'",
        f"SWATCH_MAX_UPLOAD_BYTES: must be a positive integer, got '{'9' * 40}'...",
        "SWATCH_DEFAULT_TOP_N: must be at most SWATCH_MAX_TOP_N (1000), got '5000'",
        "SWATCH_LOG_FORMAT: must be one of plain, json, got 'xml'",
        "SWATCH_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_good_values_are_parsed_and_normalised(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("SWATCH_BATCH_SIZE", " 64 ")
    clean_env.setenv("SWATCH_TORCH_THREADS", "0")
    clean_env.setenv("SWATCH_LOG_FORMAT", "JSON")
    clean_env.setenv("SWATCH_LOG_LEVEL", "debug")
    clean_env.setenv("SWATCH_DATA_DIR", str(tmp_path / "not-yet"))
    s = Settings.from_env()
    assert (s.batch_size, s.torch_threads, s.log_format, s.log_level) == (64, 0, "json", "DEBUG")
    assert s.data_dir == (tmp_path / "not-yet").resolve()
    assert Settings.from_env(batch_size=8).batch_size == 8  # explicit overrides win over the environment


def test_overrides_and_the_data_dir_are_validated_too(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(data_dir=afile, max_top_n=0)
    assert caught.value.problems == ["SWATCH_DATA_DIR: must be a directory, got a file",
                                     "SWATCH_MAX_TOP_N: must be a positive integer, got '0'"]


def test_repr_and_str_mask_secrets(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SWATCH_ADMIN_TOKEN", TOKEN)
    s = Settings.from_env(extra={"database_url": "postgresql://swatch:hunter2-pw@db.local:5432/swatch",
                                 "api_key": "k-123456", "region": "eu"})
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert TOKEN not in text and "hunter2-pw" not in text and "k-123456" not in text
        assert "admin_token='***'" in text
        assert "postgresql://swatch:***@db.local:5432/swatch" in text and "'region': 'eu'" in text
    assert set(s.secrets()) == {TOKEN, "hunter2-pw", "k-123456"}
    assert "admin_token=''" in repr(Settings.from_env(admin_token=""))  # unset stays visibly unset


def test_run_cli_prints_each_bad_setting_and_exits_2(clean_env: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from swatch.cli import run_cli

    ran: list[object] = []
    clean_env.setenv("SWATCH_BATCH_SIZE", "lots")
    clean_env.setenv("SWATCH_LOG_LEVEL", "chatty")
    assert run_cli(lambda argv: ran.append(argv) or 0, ["--anything"]) == 2
    captured = capsys.readouterr()
    assert ran == [] and captured.out == ""
    assert captured.err.splitlines() == ["error: SWATCH_BATCH_SIZE: must be a positive integer, got 'lots'",
                                         "error: SWATCH_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR,"
                                         " CRITICAL, got 'chatty'"]


def test_serve_exits_2_with_one_line_per_bad_setting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "SWATCH_DATA_DIR": str(data), "SWATCH_ADMIN_TOKEN": TOKEN, "SWATCH_BATCH_SIZE": "abc",
           "SWATCH_LOG_FORMAT": "xml", "SWATCH_MAX_TOP_N": "-5", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "no")}
    proc = subprocess.run([sys.executable, "-m", "swatch.serve", "--port", "8", "--threads", "0"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: --threads must be between 1 and 1024",
        "error: PROMETHEUS_MULTIPROC_DIR: must be an existing directory",
        "error: SWATCH_BATCH_SIZE: must be a positive integer, got 'abc'",
        "error: SWATCH_MAX_TOP_N: must be a positive integer, got '-5'",
        "error: SWATCH_LOG_FORMAT: must be one of plain, json, got 'xml'",
    ]
    assert TOKEN not in proc.stderr
    assert not data.exists()  # nothing was created or changed
