"""The window average of every overlapping patch at once: a stride-1 box filter.

A dense-capable model averages the r x r window its spatial stage leaves. Over a scene
that average, taken for every output pixel, is a stride-1 ``r x r`` mean: the reference
twin runs it as the average pooling it is (``nn.AvgPool3d``, which FLOP counters do not
count, like the patch model's ``mean``); the fused twin runs :class:`BoxFilter`, a
depthwise 2-D convolution with weights ``1 / r^2`` over the ``C * D`` planes, which
oneDNN runs much faster on these shapes (see
:data:`~hsi_attn.models.dense.cpu_choices.BOX_FILTER_AS_CONVOLUTION`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def box_filter(x: Tensor, r: int) -> Tensor:
    """Stride-1 ``r x r`` spatial mean of ``(N, C, D, H, W)``: ``(N, C, D, H - r + 1, W - r + 1)``.

    One depthwise ``r x r`` convolution over the ``C * D`` planes; equal to
    ``F.avg_pool3d(x, (1, r, r), stride=1)`` up to rounding.
    """
    if r == 1:
        return x
    n, c, d, h, w = x.shape
    square = torch.full((c * d, 1, r, r), 1.0 / (r * r), dtype=x.dtype, device=x.device)
    planes = F.conv2d(x.reshape(n, c * d, h, w), square, groups=c * d)
    return planes.reshape(n, c, d, h - r + 1, w - r + 1)


class BoxFilter(nn.Module):
    """:func:`box_filter` as a module, for the fused twin.

    Args:
        window: Window side r.

    Shape:
        Input ``(N, C, D, H, W)``; output ``(N, C, D, H - r + 1, W - r + 1)``.
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = window
        self.training = False  # it has nothing to train; an eval twin needs no switch

    def forward(self, x: Tensor) -> Tensor:
        return box_filter(x, self.window)

    def extra_repr(self) -> str:
        return f"window={self.window}"
