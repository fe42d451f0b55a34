"""Efficient Channel Attention (ECA), in 2-D and band-preserving 3-D forms.

Reference: Q. Wang, B. Wu, P. Zhu, P. Li, W. Zuo, Q. Hu, "ECA-Net: Efficient Channel
Attention for Deep Convolutional Neural Networks", CVPR 2020,
https://arxiv.org/abs/1910.03151

ECA replaces SE's bottleneck MLP by a single 1-D convolution of size k sliding along the
channel axis of the pooled descriptor (no dimensionality reduction, k parameters).
"""

from __future__ import annotations

from torch import Tensor, nn

from hsi_attn.layers.feature_maps import conv_across_channels
from hsi_attn.layers.gating import ChannelGate
from hsi_attn.layers.options import resolve_kernel_size


def channel_conv(channels: int, kernel_size: int | str) -> nn.Conv1d:
    """ECA's bias-free ``Conv1d(1, 1, k, padding=k // 2)``; k resolved from C if adaptive."""
    k = resolve_kernel_size(kernel_size, channels)
    return nn.Conv1d(1, 1, k, padding=k // 2, bias=False)


class EfficientChannelAttention2d(ChannelGate):
    """ECA for 2-D maps (registry name ``eca``).

    Global average over H, W, then a size-k 1-D convolution across the channel axis,
    then the gate.

    Args:
        channels: Number of channels C.
        kernel_size: Odd int k, or "adaptive" for ECA's rule
            ``t = int(|log2(C) + 1| / 2)``, made odd.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, H, W)``; gate ``(N, C, 1, 1)``; output ``(N, C, H, W)``.

    Parameters:
        ``k``.

    Reference:
        Wang et al., CVPR 2020, https://arxiv.org/abs/1910.03151
    """

    feature_ndim = 4

    def __init__(
        self, channels: int, *, kernel_size: int | str = "adaptive", gate: str = "sigmoid"
    ) -> None:
        super().__init__(channels, gate=gate)
        self.conv = channel_conv(channels, kernel_size)
        self.kernel_size = self.conv.kernel_size[0]

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        return self.activation(conv_across_channels(self.conv, avg))


class BandECA3d(ChannelGate):
    """Band-preserving ECA (registry name ``eca_band``).

    The squeeze averages over H, W only; at every band d, the same size-k 1-D
    convolution slides across the channel axis of that band's descriptor. This is true
    ECA per band: k parameters, no mixing between bands.

    Args:
        channels: Number of channels C.
        kernel_size: Odd int k, or "adaptive" (ECA's rule from C).
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, D, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``k``.

    Reference:
        Wang et al., CVPR 2020, https://arxiv.org/abs/1910.03151
    """

    def __init__(
        self, channels: int, *, kernel_size: int | str = "adaptive", gate: str = "sigmoid"
    ) -> None:
        super().__init__(channels, gate=gate)
        self.conv = channel_conv(channels, kernel_size)
        self.kernel_size = self.conv.kernel_size[0]

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        return self.activation(conv_across_channels(self.conv, avg))
