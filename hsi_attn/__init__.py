"""hsi_attn: hyperspectral image classification with band-preserving channel attention."""

from __future__ import annotations

import logging

from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "__version__",
]
