"""Cross-band recalibration: a C-to-C convolution along the band axis of the descriptor.

This is the layer some reference notebooks call "3D ECA". It is a legitimate attention
layer, but not ECA (it has C^2 k parameters and mixes channels fully), so it lives under
its own honest name, ``eca_band_conv``. Related reference: Wang et al., "ECA-Net",
CVPR 2020, https://arxiv.org/abs/1910.03151 (for the pooled-descriptor convolution).
"""

from __future__ import annotations

from torch import Tensor, nn

from hsi_attn.layers.gating import ChannelGate
from hsi_attn.layers.options import resolve_kernel_size


def band_conv(channels: int, kernel_size: int | str) -> nn.Conv1d:
    """Bias-free ``Conv1d(C, C, k, padding=k // 2)`` sliding along the band axis."""
    k = resolve_kernel_size(kernel_size, channels)
    return nn.Conv1d(channels, channels, k, padding=k // 2, bias=False)


def conv_along_bands(conv: nn.Conv1d, avg: Tensor) -> Tensor:
    """Apply ``conv`` along D for every spatial position of ``avg`` (N, C, D, h, w)."""
    n, c, d, h, w = avg.shape
    seq = avg.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d)
    return conv(seq).reshape(n, h, w, c, d).permute(0, 3, 4, 1, 2)


class BandConvECA3d(ChannelGate):
    """Cross-band recalibration (registry name ``eca_band_conv``).

    Squeeze over H, W to (N, C, D); a Conv1d with C input and C output channels and
    kernel k slides along the band axis; gate.

    Args:
        channels: Number of channels C.
        kernel_size: Odd int k along the bands, or "adaptive" (ECA's rule from C).
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, D, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``C^2 * k``.

    Reference:
        Wang et al., CVPR 2020, https://arxiv.org/abs/1910.03151 (descriptor convolution;
        here across bands with full channel mixing).
    """

    def __init__(
        self, channels: int, *, kernel_size: int | str = "adaptive", gate: str = "sigmoid"
    ) -> None:
        super().__init__(channels, gate=gate)
        self.conv = band_conv(channels, kernel_size)
        self.kernel_size = self.conv.kernel_size[0]

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        return self.activation(conv_along_bands(self.conv, avg))
