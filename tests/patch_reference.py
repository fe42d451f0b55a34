"""The patch model run on every window of a padded cube: the reference the dense paths must equal."""

from __future__ import annotations

import torch
from torch import nn


def patch_logits(model: nn.Module, cube: torch.Tensor) -> torch.Tensor:
    """The patch model's logits ``(1, K, H, W)`` for every window of a padded cube."""
    p, bands = model.patch_size, cube.shape[2]
    windows = cube.unfold(3, p, 1).unfold(4, p, 1)  # (1, 1, B, H, W, p, p)
    height, width = windows.shape[3:5]
    patches = windows.permute(0, 3, 4, 1, 2, 5, 6).reshape(height * width, 1, bands, p, p)
    return model(patches).reshape(1, height, width, -1).permute(0, 3, 1, 2)
