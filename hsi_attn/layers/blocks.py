"""Residual basic blocks that carry any registered attention.

Reference: K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
Recognition", CVPR 2016, https://arxiv.org/abs/1512.03385 (BasicBlock); the attention
sits after the second BN and before the residual addition, as in SE-ResNet (Hu et al.,
CVPR 2018) and ECA-ResNet (Wang et al., CVPR 2020).

``conv-BN-ReLU-conv-BN-attention`` plus a shortcut (identity, or a 1x1 convolution and
BN when the channel count or stride changes), then ReLU.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from hsi_attn.layers.factory import create_attention


class _BasicBlock(nn.Module):
    conv: type[nn.Module]
    norm: type[nn.Module]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | tuple[int, ...],
        padding: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        attention: str = "none",
        attention_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = self.conv(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn1 = self.norm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = self.conv(out_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.bn2 = self.norm(out_channels)
        self.attention = create_attention(attention, out_channels, **(attention_kwargs or {}))
        needs_projection = in_channels != out_channels or stride not in (1, (1, 1), (1, 1, 1))
        self.shortcut: nn.Module = (
            nn.Sequential(
                self.conv(in_channels, out_channels, 1, stride=stride, bias=False),
                self.norm(out_channels),
            )
            if needs_projection
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.attention(self.bn2(self.conv2(out)))
        shortcut = self.shortcut(x)
        if shortcut.shape[2:] != out.shape[2:]:
            raise ValueError(
                f"{type(self).__name__}: the residual branch gives {tuple(out.shape)} but "
                f"the shortcut {tuple(shortcut.shape)}; use 'same' padding (kernel_size // 2)"
            )
        return self.relu(out + shortcut)


class BasicBlock2d(_BasicBlock):
    """2-D residual block with attention (SE-/ECA-/CBAM-BasicBlock by name).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Convolution kernel (default 3).
        padding: Convolution padding (default 1, i.e. "same" for k=3).
        stride: Stride of the first convolution and the projection shortcut.
        attention: Registered attention name applied before the residual addition.
        attention_kwargs: Options for the attention (reduction, kernel_size, gate).

    Shape:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H / stride, W / stride)``.
    """

    conv = nn.Conv2d
    norm = nn.BatchNorm2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | tuple[int, int] = 3,
        padding: int | tuple[int, int] = 1,
        stride: int | tuple[int, int] = 1,
        attention: str = "none",
        attention_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size=kernel_size, padding=padding,
            stride=stride, attention=attention, attention_kwargs=attention_kwargs,
        )


class BasicBlock3d(_BasicBlock):
    """3-D residual block with attention; the same layout with 3-D convolutions.

    A spectral block uses e.g. ``kernel_size=(7, 1, 1), padding=(3, 0, 0)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Convolution kernel over (D, H, W) (default 3).
        padding: Convolution padding (default 1).
        stride: Stride of the first convolution and the projection shortcut.
        attention: Registered attention name applied before the residual addition.
        attention_kwargs: Options for the attention (reduction, kernel_size, gate).

    Shape:
        Input ``(N, C_in, D, H, W)``; output ``(N, C_out, D', H', W')`` with the sizes
        divided by the stride.
    """

    conv = nn.Conv3d
    norm = nn.BatchNorm3d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | tuple[int, int, int] = 3,
        padding: int | tuple[int, int, int] = 1,
        stride: int | tuple[int, int, int] = 1,
        attention: str = "none",
        attention_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size=kernel_size, padding=padding,
            stride=stride, attention=attention, attention_kwargs=attention_kwargs,
        )
