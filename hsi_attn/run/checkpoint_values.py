"""Converting a run's extra checkpoint state to and from what ``weights_only`` loads.

:func:`hsi_attn.engine.load_checkpoint` loads with ``weights_only=True``, which accepts
tensors and plain containers but not NumPy arrays; :func:`to_checkpoint` turns arrays
into tensors before saving and :func:`from_checkpoint` turns them back after loading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["from_checkpoint", "to_checkpoint"]


def to_checkpoint(value: Any) -> Any:
    # numpy -> torch so the checkpoint loads with weights_only=True.
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True, order="C"))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_checkpoint(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_checkpoint(v) for v in value)
    return value


def from_checkpoint(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.numpy().copy()
    if isinstance(value, dict):
        return {k: from_checkpoint(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(from_checkpoint(v) for v in value)
    return value
