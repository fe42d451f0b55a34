"""hsi_attn: hyperspectral image classification with band-preserving channel attention.

The configuration objects are imported eagerly (they are plain dataclasses); the
scikit-learn face (:class:`HSIClassifier`, :class:`PatchExtractor`) is imported on first
use, because it pulls in torch and scikit-learn and ``import hsi_attn`` should stay cheap
for the command line.
"""

from __future__ import annotations

import importlib
import logging

from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "HSIClassifier": "hsi_attn.sklearn.estimator",
    "PatchExtractor": "hsi_attn.sklearn.patch_extractor",
    "create_attention": "hsi_attn.layers",
    "list_attention": "hsi_attn.layers",
    "create_model": "hsi_attn.models",
    "list_models": "hsi_attn.models",
    "load_scene": "hsi_attn.data",
    "list_scenes": "hsi_attn.data",
    "predict_scene": "hsi_attn.inference",
    "train_run": "hsi_attn.run",
    "run_study": "hsi_attn.tuning",
}


def __getattr__(name: str) -> object:
    """Import the public entry points on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hsi_attn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DataConfig",
    "HSIClassifier",
    "ModelConfig",
    "PatchExtractor",
    "RunConfig",
    "TrainConfig",
    "__version__",
    "create_attention",
    "create_model",
    "list_attention",
    "list_models",
    "list_scenes",
    "load_scene",
    "predict_scene",
    "run_study",
    "train_run",
]
