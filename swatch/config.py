"""One typed settings object read from SWATCH_* environment variables, validated, with secrets masked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MASK = "***"
LOG_FORMATS = ("plain", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEVICES = ("auto", "cpu", "cuda")
JOB_MODES = ("thread", "worker")  # jobs run in a thread of the web process, or queued for `swatch worker`
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MILVUS_URI_RE = re.compile(r"^(https?|tcp|grpc)://[^/\s]+/?$|^unix:/\S+$|^[^:\s][^\s]*\.db$")
SECRET_KEY_RE = re.compile(r"token|secret|password|passwd|key", re.IGNORECASE)
#: integer settings where 0 means "the default" (or "off"); every other one is positive
NON_NEGATIVE = ("torch_threads", "watch_interval_s", "ingest_pause_ms")


def default_data_dir() -> Path:
    """The project root in a checkout (or an editable install); the current directory for an installed package,
    so that data never lands inside site-packages."""
    in_checkout = (PROJECT_ROOT / "pyproject.toml").is_file() and PROJECT_ROOT.name != "site-packages"
    return PROJECT_ROOT if in_checkout else Path.cwd().resolve()


def secret(default: str = "") -> Any:
    """A settings field whose value never appears in a repr, an error message or a log line."""
    return field(default=default, metadata={"secret": True})


class SettingsError(ValueError):
    """Bad settings: `problems` holds one line per bad value, e.g. "SWATCH_BATCH_SIZE: must be ..."."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(repr=False)
class Settings:
    """Everything configurable, with defaults; `Settings.from_env()` reads SWATCH_<FIELD> overrides."""

    data_dir: Path = field(default_factory=default_data_dir)  # SWATCH_DATA_DIR wins
    admin_token: str = secret()
    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 32
    decode_threads: int = 2
    ingest_pause_ms: int = 0  # an ingest rests this long after each batch: leaves the CPU to searches on a small box
    torch_threads: int = 0  # 0: leave torch's default
    thumb_size: int = 256
    max_image_pixels: int = 40_000_000  # decompression-bomb guard (20000x20000 = 400M is refused)
    decode_slots: int = 2  # full-size image decodes at once per process (each up to max_image_pixels x 4 bytes)
    max_upload_bytes: int = 20 * 1024 * 1024
    default_top_n: int = 100
    max_top_n: int = 1000
    exact_index_max_rows: int = 100_000  # above this an approximate (HNSW) index is built
    log_format: str = "plain"  # plain | json (one JSON object a line)
    log_level: str = "INFO"
    job_heartbeat_s: int = 5  # a running job's owner records that it is alive this often
    job_stale_s: int = 60  # a queued or running job silent this long belongs to a dead process: failed at start
    jobs: str = "thread"  # thread | worker: the web process runs jobs itself, or queues them for `swatch worker`
    watch_interval_s: int = 300  # the server checks the catalogue's folders for changes this often; 0: never
    model_cache_dir: str = ""  # exported networks (ONNX); empty: models/onnx/ of the data directory
    milvus_uri: str = ""  # a Milvus address (http://host:19530) or a milvus-lite .db file: the vector back end
    milvus_timeout_s: int = 5  # one Milvus call gives up after this long (then searches answer 503)
    database_url: str = ""  # postgresql://user:password@host:port/db: the catalogue on PostgreSQL (else SQLite)
    extra: dict[str, str] = field(default_factory=dict)

    # -- derived locations (docs/architecture.md, "Where things live") --
    @property
    def db_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def database(self) -> Path | str:
        """Where the catalogue lives: SWATCH_DATABASE_URL (PostgreSQL) when set, else catalog.db (SQLite)."""
        return self.database_url or self.db_path

    @property
    def has_catalog(self) -> bool:
        """Whether there may be a catalogue to read: with a database URL always (connecting tells), else when
        catalog.db is a file."""
        return bool(self.database_url) or self.db_path.is_file()

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "image_features"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def clusters_dir(self) -> Path:
        return self.data_dir / "clusters"

    @property
    def metadata_map_path(self) -> Path:
        return self.data_dir / "image_metadata_map.json"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then SWATCH_* environment variables, then explicit keyword overrides, validated:
        SettingsError with one line per bad value."""
        values: dict[str, object] = {}
        problems: list[str] = []
        defaults = cls()
        for f in fields(cls):
            raw = os.environ.get(env_name(f.name))
            if f.name == "extra" or raw is None:
                continue
            try:
                values[f.name] = _parse(f.name, raw, getattr(defaults, f.name))
            except ValueError as exc:
                problems.append(_problem(f.name, str(exc), raw, bool(f.metadata.get("secret"))))
        values.update(overrides)
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"])).expanduser().resolve()
        for name, choices in (("log_level", LOG_LEVELS), ("log_format", LOG_FORMATS), ("device", DEVICES),
                              ("jobs", JOB_MODES)):
            value = values.get(name)
            if isinstance(value, str) and value.strip().casefold() in {c.casefold() for c in choices}:
                values[name] = next(c for c in choices if c.casefold() == value.strip().casefold())
        settings = cls(**values)  # type: ignore[arg-type]
        bad = {p.split(":", 1)[0] for p in problems}
        problems += [p for p in settings.problems() if p.split(":", 1)[0] not in bad]
        if problems:
            order = {env_name(f.name): i for i, f in enumerate(fields(cls))}
            raise SettingsError(sorted(problems, key=lambda p: order.get(p.split(":", 1)[0], len(order))))
        return settings

    def problems(self) -> list[str]:
        """One line per value that is out of range or not one of its choices (empty when all are good)."""
        out: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("extra", "data_dir") or isinstance(value, bool) or not isinstance(value, int):
                continue
            if value < (0 if f.name in NON_NEGATIVE else 1):
                out.append(_problem(f.name, f"must be {_integer(f.name)}", str(value)))
        for name, choices in (("device", DEVICES), ("log_format", LOG_FORMATS), ("log_level", LOG_LEVELS),
                              ("jobs", JOB_MODES)):
            if getattr(self, name) not in choices:
                out.append(_problem(name, f"must be one of {', '.join(choices)}", str(getattr(self, name))))
        if 0 < self.max_top_n < self.default_top_n:
            out.append(_problem("default_top_n", f"must be at most SWATCH_MAX_TOP_N ({self.max_top_n})",
                                str(self.default_top_n)))
        if self.milvus_uri and not MILVUS_URI_RE.match(self.milvus_uri):
            out.append(_problem("milvus_uri", "must be a Milvus address (http://host:19530) or a path to a "
                                "milvus-lite file ending in .db", _mask_url(self.milvus_uri)))
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            out.append(_problem("database_url", "must be a postgresql://user:password@host:port/database URL",
                                _mask_url(self.database_url)))
        if self.data_dir.exists() and not self.data_dir.is_dir():
            out.append(f"{env_name('data_dir')}: must be a directory, got a file")
        return out

    def secrets(self) -> list[str]:
        """The secret values in use (tokens, URL passwords) that a log line must never show."""
        found: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and value:
                if f.metadata.get("secret"):
                    found.append(value)
                elif (password := _url_password(value)) is not None:
                    found.append(password)
        for key, value in self.extra.items():
            if value and (SECRET_KEY_RE.search(key) or _url_password(value) is not None):
                found.append(_url_password(value) or value)
        return found

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret"):
                shown: object = MASK if value else ""
            elif f.name == "extra":
                shown = {k: MASK if SECRET_KEY_RE.search(k) else _mask_url(v) for k, v in value.items()}
            else:
                shown = _mask_url(value) if isinstance(value, str) else value
            parts.append(f"{f.name}={shown!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__


def env_name(name: str) -> str:
    return f"SWATCH_{name.upper()}"


def _integer(name: str) -> str:
    return "a non-negative integer" if name in NON_NEGATIVE else "a positive integer"


def _parse(name: str, raw: str, default: object) -> object:
    """An environment string as the type of the field's default; ValueError naming what was expected."""
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ValueError("must be one of 1, 0, true, false, yes, no, on, off")
    if isinstance(default, int):
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            raise ValueError(f"must be {_integer(name)}")
        return int(text)
    if isinstance(default, Path):
        if not text:
            raise ValueError("must be a directory path")
        return Path(text).expanduser().resolve()
    return raw


def _problem(name: str, message: str, raw: str, is_secret: bool = False) -> str:
    shown = "" if is_secret else f", got {raw[:40]!r}{'...' if len(raw) > 40 else ''}"
    return f"{env_name(name)}: {message}{shown}"


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value).password or None
    except ValueError:
        return None


def _mask_url(value: str) -> str:
    """A URL with its password (if any) replaced by the mask; any other string unchanged."""
    password = _url_password(value)
    if password is None:
        return value
    parts = urlsplit(value)
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{user}:{MASK}@{host}").geturl()
