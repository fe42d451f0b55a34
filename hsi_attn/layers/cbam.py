"""CBAM's channel attention, in 2-D and band-preserving 3-D forms.

Reference: S. Woo, J. Park, J.-Y. Lee, I. S. Kweon, "CBAM: Convolutional Block Attention
Module", ECCV 2018, https://arxiv.org/abs/1807.06521

Only the channel-attention half of CBAM is implemented: the average- and max-pooled
descriptors pass through one shared bias-free MLP (1x1 convolutions C -> C/r -> C), are
summed, and gated.
"""

from __future__ import annotations

from torch import Tensor

from hsi_attn.layers.feature_maps import over_channels
from hsi_attn.layers.gating import ChannelGate
from hsi_attn.layers.squeeze_excite import excitation_mlp


class _SharedMLPGate(ChannelGate):
    uses_max = True

    def __init__(self, channels: int, *, reduction: int = 16, gate: str = "sigmoid") -> None:
        super().__init__(channels, gate=gate)
        self.reduction = reduction
        self.mlp = excitation_mlp(channels, reduction)

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        if mx is None:
            raise ValueError(f"{type(self).__name__} needs the spatial maximum as well as the average")
        return self.activation(over_channels(self.mlp, avg) + over_channels(self.mlp, mx))


class CBAMChannel2d(_SharedMLPGate):
    """CBAM channel attention for 2-D maps (registry name ``cbam``).

    Args:
        channels: Number of channels C.
        reduction: Reduction ratio r; hidden width ``max(1, C // r)``.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, H, W)``; gate ``(N, C, 1, 1)``; output ``(N, C, H, W)``.

    Parameters:
        ``2 * C * max(1, C // r)``.

    Reference:
        Woo et al., ECCV 2018, https://arxiv.org/abs/1807.06521
    """

    feature_ndim = 4


class BandCBAM3d(_SharedMLPGate):
    """Band-preserving CBAM channel attention (registry name ``cbam_band``).

    Average and maximum over H, W only, per band; the shared MLP on each band's channel
    vector; summed; gate of shape (N, C, D, 1, 1).

    Args:
        channels: Number of channels C.
        reduction: Reduction ratio r; hidden width ``max(1, C // r)``.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, D, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``2 * C * max(1, C // r)``.

    Reference:
        Woo et al., ECCV 2018, https://arxiv.org/abs/1807.06521
    """
