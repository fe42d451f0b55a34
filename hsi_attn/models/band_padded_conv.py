"""A spectral convolution that pads the band axis explicitly (a torch/oneDNN workaround).

torch 2.13's CPU (oneDNN) kernel for the weight gradient of
``Conv3d(1, C, (7, 1, 1), stride (2, 1, 1), padding (3, 0, 0))`` is wrong for inputs of
5 to 7 bands: 5 bands corrupt the heap (the process dies), 6 and 7 give gradients of
1e30. Padding the bands with :func:`torch.nn.functional.pad` and running the
convolution unpadded computes the same function and takes a correct kernel. Measured
on this project's CPU: relative gradient error 1e-7 with the explicit padding against
4e30 without, for 6 bands (oneDNN on vs off as the reference).

:class:`BandPaddedConv3d` is an ``nn.Conv3d`` (same parameters, same ``state_dict``
keys, so checkpoints are unaffected) whose band padding is applied that way.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class BandPaddedConv3d(nn.Conv3d):
    """``Conv3d`` with kernel ``(k, kh, kw)`` whose zero padding along the bands is explicit.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: ``(k, kh, kw)``.
        stride: ``(s, sh, sw)``.
        band_padding: Zeros added before and after the band axis (spatial padding: none).
        bias: Whether to learn a bias.

    Shape:
        Input ``(N, C_in, D, H, W)``; output ``(N, C_out, (D + 2q - k) // s + 1,
        (H - kh) // sh + 1, (W - kw) // sw + 1)`` with q = ``band_padding``, exactly as
        ``nn.Conv3d(..., padding=(q, 0, 0))``.

    Parameters:
        ``C_out * C_in * k * kh * kw`` (+ ``C_out`` with bias), as ``nn.Conv3d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        *,
        stride: tuple[int, int, int] = (1, 1, 1),
        band_padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.band_padding = band_padding

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        # nn.Conv3d.forward calls this with the module's parameters; a batch-norm-folded
        # copy (hsi_attn.models.dense.folding) has folded ones and pads the same way.
        q = self.band_padding
        if q:
            x = F.pad(x, (0, 0, 0, 0, q, q))
        return F.conv3d(x, weight, bias, self.stride)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, band_padding={self.band_padding}"
