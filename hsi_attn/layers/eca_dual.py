"""Dual ECA: a band-wise gate times a per-channel ECA gate.

Reference: Wang et al., "ECA-Net", CVPR 2020, https://arxiv.org/abs/1910.03151, for the
channel gate; the band-wise gate is :class:`~hsi_attn.layers.eca_band_conv.BandConvECA3d`.
"""

from __future__ import annotations

from torch import Tensor

from hsi_attn.layers.eca import channel_conv
from hsi_attn.layers.eca_band_conv import band_conv, conv_along_bands
from hsi_attn.layers.feature_maps import conv_across_channels
from hsi_attn.layers.gating import ChannelGate


class DualECA3d(ChannelGate):
    """Product of a band-wise gate and a global channel gate (registry name ``eca_dual``).

    * band gate: squeeze over H, W, Conv1d(C, C, k) along the bands, gate
      (as ``eca_band_conv``);
    * channel gate: average over D, H, W, ECA's size-k convolution across channels,
      gate (as ``eca`` on the global descriptor).

    Both use the same k.

    Args:
        channels: Number of channels C.
        kernel_size: Odd int k, or "adaptive" (ECA's rule from C).
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, D, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``C^2 * k + k``.

    Reference:
        Wang et al., CVPR 2020, https://arxiv.org/abs/1910.03151
    """

    def __init__(
        self, channels: int, *, kernel_size: int | str = "adaptive", gate: str = "sigmoid"
    ) -> None:
        super().__init__(channels, gate=gate)
        self.band_conv = band_conv(channels, kernel_size)
        self.channel_conv = channel_conv(channels, kernel_size)
        self.kernel_size = self.band_conv.kernel_size[0]

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        band_gate = self.activation(conv_along_bands(self.band_conv, avg))
        global_avg = avg.mean(dim=2, keepdim=True)
        channel_gate = self.activation(conv_across_channels(self.channel_conv, global_avg))
        return band_gate * channel_gate
