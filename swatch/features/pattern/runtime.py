"""The pattern network under ONNX Runtime: exported once from the offline PyTorch backbone into models/onnx/."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from swatch.features.backbone_spec import Layer, weights_sha256
from swatch.fsutil import atomic_write, fsync_dir

log = logging.getLogger(__name__)

#: bump when the exported graph changes (its inputs, outputs or what it computes): old files are then left unused
EXPORT_FORMAT = 1
#: the folder below the data directory's models/ that holds the exported networks (a cache: safe to delete)
FOLDER = "onnx"
_EXPORT_LOCK = threading.Lock()


def export_key(backbone: str, layers: tuple[Layer, ...], gem_p: float) -> str:
    """Names an exported network by everything that shapes its outputs."""
    spec = {"backbone": backbone, "weights": weights_sha256(backbone), "layers": [str(x) for x in layers],
            "gem_p": gem_p, "format": EXPORT_FORMAT}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def default_folder() -> Path:
    """SWATCH_MODEL_CACHE_DIR when set (one export shared by several data directories), else models/onnx/ of the
    data directory the settings name (SWATCH_DATA_DIR)."""
    from swatch.config import Settings

    settings = Settings.from_env()
    return Path(settings.model_cache_dir) if settings.model_cache_dir else settings.models_dir / FOLDER


def export_bytes(backbone: str, layers: tuple[Layer, ...], gem_p: float) -> bytes:
    """The ONNX graph of LayerPool (batch-norm-folded backbone, pooled and normalised layers): (N, 3, H, W)
    float32 in, one (N, C) output per layer; batch and side are free."""
    import torch

    from swatch.features.pattern.pooling import LayerPool

    pool = LayerPool(backbone, layers, gem_p)

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = pool.model

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(pool(x))

    names = [f"layer{i}" for i in range(len(layers))]
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter warns of its own deprecation and of tracing
        warnings.simplefilter("ignore")
        torch.onnx.export(_Graph().eval(), (torch.zeros(2, 3, 224, 224),), buf,  # type: ignore[arg-type]
                          dynamo=False, opset_version=17,
                          input_names=["x"], output_names=names,
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, **{n: {0: "n"} for n in names}})
    return buf.getvalue()


class OnnxPool:
    """LayerPool's outputs from ONNX Runtime: a float32 (N, 3, H, W) batch in, one (N, C) array per layer out.

    The graph is read from `folder`/pattern-<key>.onnx, or exported there first (atomically; an unwritable
    folder keeps it in memory). A file ONNX Runtime cannot read is exported again.
    """

    def __init__(self, backbone: str, layers: tuple[Layer, ...], gem_p: float, threads: int = 0,
                 folder: Path | None = None):
        import onnxruntime as ort

        self.path = (folder or default_folder()) / f"pattern-{export_key(backbone, layers, gem_p)}.onnx"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = int(threads)
        # a spinning thread pool takes a core from whatever else runs (decoding, colour, other processes)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = self._graph(backbone, layers, gem_p)
        try:
            self.session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged cache file: export it again
            log.warning("%s unreadable (%s): exporting it again", self.path.name, str(exc).splitlines()[0])
            graph = self._graph(backbone, layers, gem_p, fresh=True)
            self.session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _graph(self, backbone: str, layers: tuple[Layer, ...], gem_p: float, fresh: bool = False) -> bytes:
        with _EXPORT_LOCK:
            if not fresh and self.path.is_file():
                return self.path.read_bytes()
            data = export_bytes(backbone, layers, gem_p)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, lambda fh: fh.write(data))
                fsync_dir(self.path.parent)
            except OSError as exc:
                log.warning("cannot save %s (%s): kept in memory", self.path, exc)
            return data

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        out: list[Any] = self.session.run(self.output_names, {"x": np.ascontiguousarray(x, dtype=np.float32)})
        return [np.asarray(o, dtype=np.float32) for o in out]
