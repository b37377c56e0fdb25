"""One typed settings object read from SWATCH_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    """Everything configurable, with defaults; `Settings.from_env()` reads SWATCH_<FIELD> overrides."""

    data_dir: Path = PROJECT_ROOT
    admin_token: str = ""
    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 32
    decode_threads: int = 2
    torch_threads: int = 0  # 0: leave torch's default
    thumb_size: int = 256
    max_image_pixels: int = 40_000_000  # decompression-bomb guard (20000x20000 = 400M is refused)
    max_upload_bytes: int = 20 * 1024 * 1024
    default_top_n: int = 100
    max_top_n: int = 1000
    exact_index_max_rows: int = 100_000  # above this an approximate (HNSW) index is built
    extra: dict[str, str] = field(default_factory=dict)

    # -- derived locations (DESIGN.md, Data) --
    @property
    def db_path(self) -> Path:
        return self.data_dir / "catalog.db"

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
        """Defaults, then SWATCH_* environment variables, then explicit keyword overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = os.environ.get(f"SWATCH_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls(), f.name)
            if isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ValueError(f"SWATCH_{f.name.upper()} must be an integer, got {raw!r}") from exc
            elif isinstance(default, Path):
                values[f.name] = Path(raw).expanduser().resolve()
            else:
                values[f.name] = raw
        values.update(overrides)
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"])).expanduser().resolve()
        return cls(**values)  # type: ignore[arg-type]
