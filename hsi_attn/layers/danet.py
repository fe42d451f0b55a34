"""DANet's channel attention module (CAM), in 2-D and 3-D forms.

Reference: J. Fu, J. Liu, H. Tian, Y. Li, Y. Bao, Z. Fang, H. Lu, "Dual Attention
Network for Scene Segmentation", CVPR 2019, https://arxiv.org/abs/1809.02983

With X the map flattened to (N, C, L): energy E = X X^T (C x C), attention
A = softmax(rowmax(E) - E) over the last axis, and out = gamma * (A X) + X with gamma a
learnable scalar initialised to 0, so the module starts as the identity. Subtracting
from the row maximum is DANet's own formulation (it favours dissimilar channels and keeps
the softmax arguments non-negative).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hsi_attn.layers.feature_maps import check_feature_map
from hsi_attn.layers.options import check_channels


class _ChannelAttentionModule(nn.Module):
    feature_ndim: int = 4

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_channels(channels)
        self.gamma = nn.Parameter(torch.zeros(1))

    def attention(self, x: Tensor) -> Tensor:
        """The (N, C, C) channel affinity A, rows summing to 1."""
        check_feature_map(x, channels=self.channels, ndim=self.feature_ndim, layer=type(self).__name__)
        flat = x.flatten(2)
        energy = torch.bmm(flat, flat.transpose(1, 2))
        energy = energy.amax(dim=-1, keepdim=True) - energy
        return torch.softmax(energy, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``gamma * (A X) + X``; the output has the input's shape."""
        mixed = torch.bmm(self.attention(x), x.flatten(2)).view_as(x)
        return self.gamma * mixed + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class DANetChannel2d(_ChannelAttentionModule):
    """DANet channel attention for 2-D maps (registry name ``danet``).

    Args:
        channels: Number of channels C.

    Shape:
        Input ``(N, C, H, W)``; affinity ``(N, C, C)`` over the H*W positions; output
        ``(N, C, H, W)``.

    Parameters:
        ``1`` (gamma).

    Reference:
        Fu et al., CVPR 2019, https://arxiv.org/abs/1809.02983
    """

    feature_ndim = 4


class DANetChannel3d(_ChannelAttentionModule):
    """DANet channel attention over the flattened D*H*W positions (registry name ``danet3d``).

    The Gram matrix is taken over every position it is given. Placed inside a spatial
    window it has no cheap sliding form (a box filter over C^2 outer-product maps per
    pixel, and A X mixes the window again); the dense-capable model families therefore
    apply attention only after the window average, where it sees one position's bands.

    Args:
        channels: Number of channels C.

    Shape:
        Input ``(N, C, D, H, W)``; affinity ``(N, C, C)``; output ``(N, C, D, H, W)``.

    Parameters:
        ``1`` (gamma).

    Reference:
        Fu et al., CVPR 2019, https://arxiv.org/abs/1809.02983
    """

    feature_ndim = 5
