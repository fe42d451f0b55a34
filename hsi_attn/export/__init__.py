"""A trained model out of Python and PyTorch: ONNX graphs and a torch-free runtime.

* :func:`export_run` / :func:`export_onnx` (:mod:`.exporter`): a run to ``model.onnx``
  (patch graph) and, with a dense twin, ``model.dense.onnx`` (dense graph), both with the
  preprocessing folded in (:mod:`.preprocessing`, :mod:`.graphs`), exported by
  :mod:`.conversion` and checked against PyTorch (:mod:`.validation`) before writing;
* :func:`predict_scene_onnx` / :class:`OnnxSceneClassifier` (:mod:`.runtime`): a raw
  cube to probabilities with numpy and ONNX Runtime only;
* :class:`ExportMetadata` (:mod:`.metadata`): what the files say about themselves.

Importing this package imports neither torch nor onnx: the exporter is loaded on first
use, so a deployment can ``from hsi_attn.export import predict_scene_onnx`` without
PyTorch installed.
"""

from __future__ import annotations

import importlib

from hsi_attn.export.metadata import ExportMetadata
from hsi_attn.export.runtime import (
    OnnxSceneClassifier,
    inference_session,
    predict_scene_onnx,
    read_metadata,
)

_LAZY = {
    "EXPORT_GRAPHS": "hsi_attn.export.exporter",
    "ExportResult": "hsi_attn.export.exporter",
    "dense_graph_path": "hsi_attn.export.exporter",
    "export_onnx": "hsi_attn.export.exporter",
    "export_run": "hsi_attn.export.exporter",
    "ExportValidationError": "hsi_attn.export.validation",
}


def __getattr__(name: str) -> object:
    """Import the torch-dependent exporter on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hsi_attn.export' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "EXPORT_GRAPHS",
    "ExportMetadata",
    "ExportResult",
    "ExportValidationError",
    "OnnxSceneClassifier",
    "dense_graph_path",
    "export_onnx",
    "export_run",
    "inference_session",
    "predict_scene_onnx",
    "read_metadata",
]
