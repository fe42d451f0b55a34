"""Squeeze-and-Excitation, in 2-D, global 3-D and band-preserving 3-D forms.

Reference: J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
https://arxiv.org/abs/1709.01507

The excitation is FC(C -> C/r), ReLU, FC(C/r -> C), gate. The FC layers carry no bias,
so a layer has exactly ``2 * C * max(1, C // r)`` parameters (``2 C^2 / r`` when r
divides C), the count the paper uses.
"""

from __future__ import annotations

from torch import Tensor, nn

from hsi_attn.layers.feature_maps import over_channels
from hsi_attn.layers.gating import ChannelGate
from hsi_attn.layers.options import hidden_width


def excitation_mlp(channels: int, reduction: int) -> nn.Sequential:
    """The bias-free bottleneck ``Linear(C, h) -> ReLU -> Linear(h, C)``, h = max(1, C // r)."""
    hidden = hidden_width(channels, reduction)
    return nn.Sequential(
        nn.Linear(channels, hidden, bias=False),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, channels, bias=False),
    )


class SqueezeExcite2d(ChannelGate):
    """Squeeze-and-Excitation for 2-D maps (registry name ``se``).

    Global average over H, W; the excitation MLP on the channel vector; sigmoid gate.

    Args:
        channels: Number of channels C.
        reduction: Reduction ratio r; hidden width ``max(1, C // r)``.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, H, W)``; gate ``(N, C, 1, 1)``; output ``(N, C, H, W)``.

    Parameters:
        ``2 * C * max(1, C // r)``.

    Reference:
        Hu et al., CVPR 2018, https://arxiv.org/abs/1709.01507
    """

    feature_ndim = 4

    def __init__(self, channels: int, *, reduction: int = 16, gate: str = "sigmoid") -> None:
        super().__init__(channels, gate=gate)
        self.reduction = reduction
        self.fc = excitation_mlp(channels, reduction)

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        return self.activation(over_channels(self.fc, avg))


class SqueezeExcite3d(ChannelGate):
    """SE for 3-D maps with the squeeze over D, H, W together (registry name ``se3d``).

    One weight per channel, shared by every band: the usual "global" channel attention
    that band-preserving variants are compared against.

    Args:
        channels: Number of channels C.
        reduction: Reduction ratio r; hidden width ``max(1, C // r)``.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, 1, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``2 * C * max(1, C // r)``.

    Reference:
        Hu et al., CVPR 2018, https://arxiv.org/abs/1709.01507
    """

    def __init__(self, channels: int, *, reduction: int = 16, gate: str = "sigmoid") -> None:
        super().__init__(channels, gate=gate)
        self.reduction = reduction
        self.fc = excitation_mlp(channels, reduction)

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        # The mean over bands of per-band spatial means is the mean over D, H, W.
        return self.activation(over_channels(self.fc, avg.mean(dim=2, keepdim=True)))


class BandSE3d(ChannelGate):
    """Band-preserving SE (registry name ``se_band``): one weight per channel and band.

    The squeeze averages over H, W only, giving a descriptor z of shape (N, C, D); the
    same excitation MLP (C -> C/r -> C) is applied to the channel vector of every band d
    independently. The FC layers act on the channel axis, so any C and D work together.

    Args:
        channels: Number of channels C.
        reduction: Reduction ratio r; hidden width ``max(1, C // r)``.
        gate: "sigmoid" or "hard_sigmoid".

    Shape:
        Input ``(N, C, D, H, W)``; gate ``(N, C, D, 1, 1)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``2 * C * max(1, C // r)`` (shared across bands, independent of D).

    Reference:
        Hu et al., CVPR 2018, https://arxiv.org/abs/1709.01507 (squeeze restricted to the
        spatial axes so the spectral axis keeps its resolution).
    """

    def __init__(self, channels: int, *, reduction: int = 16, gate: str = "sigmoid") -> None:
        super().__init__(channels, gate=gate)
        self.reduction = reduction
        self.fc = excitation_mlp(channels, reduction)

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        return self.activation(over_channels(self.fc, avg))
