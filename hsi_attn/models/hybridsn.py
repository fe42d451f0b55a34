"""``hybridsn``: 3-D convolutions, then 2-D, then fully connected (patch-only).

Reference: S. K. Roy, G. Krishna, S. R. Dubey, B. B. Chaudhuri, "HybridSN: Exploring
3-D-2-D CNN Feature Hierarchy for Hyperspectral Image Classification", IEEE GRSL 17(2),
2020, https://arxiv.org/abs/1902.06701

Layout (input ``(N, 1, B, p, p)``; all convolutions valid, each followed by ReLU):

* three 3-D convolutions, 8 ``(7, 3, 3)``, 16 ``(5, 3, 3)`` and 32 ``(3, 3, 3)`` kernels
  (band x height x width);
* the chosen attention on that 3-D map (per channel, or per channel and band);
* the bands folded into the channels, one 2-D convolution with 64 ``3 x 3`` kernels;
* flattened; FC 256, dropout 0.4, FC 128, dropout 0.4, FC K.

The paper reduces the cube to 30 (Indian Pines) or 15 principal components and uses
25 x 25 patches; any B >= 16 and odd p >= 9 work here.

Not dense-capable, by design of the original: the attention gate squeezes a whole
window that later layers convolve and flatten further, and the first fully connected
layer weighs every remaining position differently, so no feature map is shared between
overlapping patches after the gate. Full-scene maps use the per-patch method.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from hsi_attn.layers import create_attention
from hsi_attn.models.checks import (
    check_3d_attention,
    check_patch_batch,
    check_patch_size,
    check_positive_int,
)

MIN_PATCH = 9
"""Four valid 3 x 3 convolutions shrink the window by 8."""
MIN_BANDS = 16
"""Spectral kernels 7, 5 and 3 shrink the band axis by 12; keep at least 4 bands."""


class HybridSN(nn.Module):
    """HybridSN with attention after the 3-D stage (``hybridsn``, patch-only).

    Args:
        n_bands: Number of input bands B (>= 16; the paper uses 30 PCA components).
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p >= 9 (the paper uses 25).
        attention: Registered 3-D attention name, applied after the third 3-D conv.
        attention_kwargs: Options for the attention (reduction, kernel_size, gate).

    Shape:
        Input ``(N, 1, B, p, p)``; output logits ``(N, K)``.
    """

    def __init__(
        self,
        n_bands: int,
        n_classes: int,
        *,
        patch_size: int,
        attention: str = "none",
        attention_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        name = "hybridsn"
        self.n_bands = check_positive_int(n_bands, name="n_bands", minimum=MIN_BANDS, model=name)
        self.n_classes = check_positive_int(n_classes, name="n_classes")
        self.patch_size = check_patch_size(patch_size, model=name, minimum=MIN_PATCH)
        self.family = name
        attention = check_3d_attention(attention, model=name)
        self.conv3d = nn.Sequential(
            nn.Conv3d(1, 8, (7, 3, 3)), nn.ReLU(inplace=True),
            nn.Conv3d(8, 16, (5, 3, 3)), nn.ReLU(inplace=True),
            nn.Conv3d(16, 32, (3, 3, 3)), nn.ReLU(inplace=True),
        )
        self.attention = create_attention(attention, 32, **(attention_kwargs or {}))
        depth = n_bands - 12
        self.conv2d = nn.Sequential(nn.Conv2d(32 * depth, 64, 3), nn.ReLU(inplace=True))
        side = patch_size - 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * side * side, 256), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, K)`` for patches ``(N, 1, B, p, p)``."""
        check_patch_batch(x, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        x = self.attention(self.conv3d(x))
        return self.classifier(self.conv2d(x.flatten(1, 2)))
