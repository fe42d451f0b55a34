"""Spectral layers of single positions as matrix products: the dense head's fast path.

After the window average, the head of a dense-capable family sees every position on its
own: a ``C x D`` feature vector (channels x bands) per pixel, transformed by
convolutions whose spatial kernel is 1 x 1. Such a convolution, ``Conv3d(C_in, C_out,
(k, 1, 1), stride (s, 1, 1), padding (q, 0, 0))``, is a linear map from the
``C_in * D_in`` numbers of one position to its ``C_out * D_out`` outputs: a banded
matrix ``M`` (:func:`band_matrix`). Over a scene, that convolution is one matrix
product for all positions at once, which runs at matrix-multiply speed, whereas
convolution kernels on 1 x 1 (or 4 x 4) maps are memory-bound. The head works on
*columns*, one per position: ``M.T @ X`` with ``X`` of shape ``(C * D, h * w)``, which
is how a feature map ``(1, C, D, h, w)`` already lies in memory, so the scene goes in
and the logits ``(K, h * w)`` come out without a transpose. Evaluation-mode batch norm
folds into the matrix and its bias (:func:`conv_bn_rows`).

The matrix multiplies the zeros of the band: it spends ``D_in / k`` times the FLOPs of
the convolution (counting all k taps). It is used only where that ratio is at most
:data:`~hsi_attn.models.dense.cpu_choices.MAX_MATRIX_WASTE` (the default flagship on 30
PCA components: D = 8, k = 7, ratio 1.14); on long band axes (all 200 of Indian Pines'
bands: D = 50) the head keeps its convolutions. FLOP counts are taken on the reference
twin (the convolution form), not on this one, so the extra zeros cannot inflate an
achieved-GFLOP/s figure.

:class:`MatrixHead` is built once, when the fused twin is (its matrices are a snapshot
of the parameters, batch norm folded); its results equal the convolution form up to
floating-point rounding (sums in another order, batch norm folded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hsi_attn.layers import BasicBlock3d, ChannelGate
from hsi_attn.models.band_padded_conv import BandPaddedConv3d
from hsi_attn.models.dense.cpu_choices import MAX_MATRIX_WASTE, in_chunks
from hsi_attn.models.dense.folding import foldable, scale_and_shift
from hsi_attn.models.dense.positionwise import fold_positions


def _is_spectral_conv(conv: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv3d)
        and not isinstance(conv.padding, str)
        and conv.kernel_size[1:] == (1, 1)
        and conv.stride[1:] == (1, 1)
        and conv.padding[1:] == (0, 0)
        and conv.dilation == (1, 1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def band_padding(conv: nn.Conv3d) -> int:
    """Zeros ``conv`` adds before and after the band axis, its own padding or explicit."""
    explicit = conv.band_padding if isinstance(conv, BandPaddedConv3d) else 0
    return conv.padding[0] + explicit


def conv_output_depth(conv: nn.Conv3d, depth: int) -> int:
    """Bands after ``conv`` for ``depth`` input bands."""
    return (depth + 2 * band_padding(conv) - conv.kernel_size[0]) // conv.stride[0] + 1


def lowerable(conv: nn.Module, depth: int, *, max_waste: float = MAX_MATRIX_WASTE) -> bool:
    """Whether ``conv`` is a spectral ``(k, 1, 1)`` convolution worth running as a matrix.

    Args:
        conv: Any module.
        depth: Its input band count D_in.
        max_waste: Largest accepted ``D_in / k``.
    """
    return _is_spectral_conv(conv) and depth <= max_waste * conv.kernel_size[0]


def band_matrix(conv: nn.Conv3d, depth: int) -> Tensor:
    """The matrix of a spectral ``(k, 1, 1)`` convolution acting on one position.

    Args:
        conv: ``Conv3d(C_in, C_out, (k, 1, 1))`` with any spectral stride and padding.
        depth: Input bands D_in.

    Returns:
        ``M`` of shape ``(C_in * D_in, C_out * D_out)`` with
        ``x.flatten(1) @ M == conv(x).flatten(1)`` (bias excluded) for every
        ``x`` of shape ``(P, C_in, D_in, 1, 1)``. Differentiable in ``conv.weight``.

    Raises:
        ValueError: If ``conv`` is not such a convolution.
    """
    if not _is_spectral_conv(conv):
        raise ValueError(
            f"band_matrix needs a Conv3d with kernel (k, 1, 1), no spatial stride or "
            f"padding, no groups or dilation; got {conv}. Run it as a convolution instead."
        )
    k = conv.kernel_size[0]
    stride, pad = conv.stride[0], band_padding(conv)
    out_depth = conv_output_depth(conv, depth)
    weight = conv.weight.reshape(conv.out_channels, conv.in_channels, k)
    # shift[t, i, o] = 1 where input band i feeds output band o through tap t.
    taps = torch.arange(k, device=weight.device).reshape(k, 1, 1)
    inputs = torch.arange(depth, device=weight.device).reshape(1, depth, 1)
    outputs = torch.arange(out_depth, device=weight.device).reshape(1, 1, out_depth)
    shift = (inputs == outputs * stride + taps - pad).to(weight.dtype)
    matrix = torch.einsum("oct,tiu->ciou", weight, shift)
    return matrix.reshape(conv.in_channels * depth, conv.out_channels * out_depth)


def conv_bn_rows(
    conv: nn.Conv3d, bn: nn.Module | None, depth: int
) -> tuple[Tensor, Tensor, int]:
    """Matrix and bias of ``bn(conv(x))`` on one position, batch norm folded.

    Args:
        conv: A spectral convolution (see :func:`band_matrix`).
        bn: An evaluation-mode ``BatchNorm3d`` with running statistics, or None.
        depth: Input bands D_in.

    Returns:
        ``(M, b, D_out)`` with ``rows @ M + b == bn(conv(x)).flatten(1)``.

    Raises:
        ValueError: If ``bn`` is in training mode or keeps no running statistics (its
            output then depends on the batch, not on the position alone).
    """
    matrix = band_matrix(conv, depth)
    out_depth = conv_output_depth(conv, depth)
    channels = conv.out_channels
    bias = (
        conv.bias if conv.bias is not None
        else torch.zeros(channels, dtype=matrix.dtype, device=matrix.device)
    )
    if bn is not None:
        scale, shift = scale_and_shift(bn)
        bias = bias * scale + shift
        matrix = (matrix.reshape(-1, channels, out_depth) * scale[:, None]).reshape(matrix.shape)
    return matrix, bias.repeat_interleave(out_depth), out_depth


def block_lowerable(block: BasicBlock3d, depth: int) -> bool:
    """Whether :func:`lower_block` can run ``block`` on ``depth`` bands, in evaluation mode."""
    convs = [block.conv1, block.conv2]
    norms = [block.bn1, block.bn2]
    if not isinstance(block.shortcut, nn.Identity):
        if not isinstance(block.shortcut, nn.Sequential) or len(block.shortcut) != 2:
            return False
        convs.append(block.shortcut[0])
        norms.append(block.shortcut[1])
    if not all(foldable(bn) for bn in norms) or not lowerable(block.conv1, depth):
        return False
    inner = conv_output_depth(block.conv1, depth)
    return lowerable(block.conv2, inner) and all(
        lowerable(conv, depth, max_waste=float("inf")) for conv in convs[2:]
    )


@dataclass(frozen=True)
class LoweredBlock:
    """A spectral :class:`~hsi_attn.layers.BasicBlock3d` in matrix form (see :func:`lower_block`).

    It works on *columns*, one per position: ``(C * D, P)``, the layout a feature map
    ``(1, C, D, h, w)`` already has in memory, so a scene goes in without a transpose.

    Attributes:
        conv1: ``(M.T, b)`` of ``bn1(conv1(.))``, the bias as a column.
        conv2: ``(M.T, b)`` of ``bn2(conv2(.))``.
        shortcut: ``(M.T, b)`` of a projection shortcut, or None for the identity.
        attention: The block's attention module, applied position by position.
        channels: Output channels.
        depth: Output bands.
    """

    conv1: tuple[Tensor, Tensor]
    conv2: tuple[Tensor, Tensor]
    shortcut: tuple[Tensor, Tensor] | None
    attention: nn.Module
    channels: int
    depth: int

    def __call__(self, columns: Tensor) -> Tensor:
        """The block on ``(C_in * D_in, P)`` columns; returns ``(C_out * D_out, P)``."""
        out = torch.addmm(self.conv1[1], self.conv1[0], columns).relu_()
        out = torch.addmm(self.conv2[1], self.conv2[0], out)
        # Positions lie along a spatial axis: (1, C, D, P, 1) is a feature map whose
        # every position is its own window, as gate_from_pooled expects.
        maps = out.view(1, self.channels, self.depth, -1, 1)
        layer = self.attention
        if isinstance(layer, ChannelGate):
            maps.mul_(layer.gate_from_pooled(maps, maps if layer.uses_max else None))
        elif not isinstance(layer, nn.Identity):
            out = fold_positions(layer, maps).reshape(out.shape)
        shortcut = columns if self.shortcut is None else torch.addmm(
            self.shortcut[1], self.shortcut[0], columns
        )
        return out.add_(shortcut).relu_()


def _transposed(matrix: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    return matrix.t().contiguous(), bias[:, None]


def lower_block(block: BasicBlock3d, depth: int) -> LoweredBlock:
    """Matrix form of a spectral block on ``depth`` input bands.

    Mirrors ``BasicBlock3d.forward`` on ``(P, C, D, 1, 1)`` inputs: both convolutions
    (and a projection shortcut) become matrix products with batch norm folded; the
    attention stays a module, applied position by position. Check
    :func:`block_lowerable` first.

    Args:
        block: The block, in evaluation mode.
        depth: Input bands D.

    Returns:
        The lowered block; it shares nothing mutable with ``block`` except the attention.
    """
    m1, b1, inner = conv_bn_rows(block.conv1, block.bn1, depth)
    m2, b2, out_depth = conv_bn_rows(block.conv2, block.bn2, inner)
    shortcut = None
    if not isinstance(block.shortcut, nn.Identity):
        shortcut = _transposed(*conv_bn_rows(block.shortcut[0], block.shortcut[1], depth)[:2])
    return LoweredBlock(
        conv1=_transposed(m1, b1), conv2=_transposed(m2, b2), shortcut=shortcut,
        attention=block.attention, channels=block.conv2.out_channels, depth=out_depth,
    )


class MatrixHead(nn.Module):
    """Spectral blocks and a linear classifier as matrix products on every position.

    Built from a head ``classifier(blocks(x).flatten(1))`` whose blocks are all
    :func:`block_lowerable`; the matrices are computed once, here, with batch norm
    folded. The attention modules and the classifier are shared with the head.

    Args:
        blocks: The spectral :class:`~hsi_attn.layers.BasicBlock3d` blocks, in order,
            in evaluation mode.
        classifier: The linear layer on the flattened channel x band features.
        depth: Bands D entering the first block.

    Shape:
        Input ``(N, C, D, h, w)``; output logits ``(N, K, h, w)``.
    """

    def __init__(self, blocks: Sequence[BasicBlock3d], classifier: nn.Linear, depth: int) -> None:
        super().__init__()
        lowered = []
        with torch.no_grad():
            for block in blocks:
                lowered.append(lower_block(block, depth))
                depth = lowered[-1].depth
        self.lowered = lowered
        self.attentions = nn.ModuleList(block.attention for block in blocks)
        self.classifier = classifier
        self.training = self.attentions.training = False  # an inference snapshot

    def forward(self, x: Tensor) -> Tensor:
        n, c, d, h, w = x.shape
        logits = [in_chunks(self._columns, sample.reshape(c * d, h * w)) for sample in x]
        return torch.stack(logits).reshape(n, -1, h, w)

    def _columns(self, columns: Tensor) -> Tensor:
        """Logits ``(K, P)`` of ``(C * D, P)`` columns, one per position."""
        for block in self.lowered:
            columns = block(columns)
        weight, bias = self.classifier.weight, self.classifier.bias
        if bias is None:
            return weight @ columns
        return torch.addmm(bias[:, None], weight, columns)
