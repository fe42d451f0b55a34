"""A head on 1 x 1 maps, run on every position of a larger map.

After the window average, the head of a dense-capable family sees one position at a
time: features ``(N, C, D, 1, 1)`` to logits ``(N, K)``. Whatever it does at one
position depends on that position alone, so over a scene it runs on every position at
once, with the same modules and parameters:

* :class:`EveryPosition` (the reference twin) folds the positions into the batch axis
  and calls the head itself: exact by construction, and it counts exactly the head's
  FLOPs per position;
* :class:`PackedPositions` (the fused twin, for heads without a matrix form) packs the
  positions into small ``b x b`` spatial blocks and calls the head's
  :meth:`PositionwiseHead.per_position`, which runs its spectral convolutions as they
  are and every gate position by position: CPU convolution kernels run faster on
  such blocks than on 1 x 1 maps (see
  :data:`~hsi_attn.models.dense.cpu_choices.PACKED_BLOCK`). The arrangement of
  positions is irrelevant because nothing mixes them.

A gating layer (:class:`~hsi_attn.layers.ChannelGate`) runs on a block as
``x * layer.gate_from_pooled(x, x)``: its spatial squeeze over one position is the
position itself. Any other attention (``danet3d``: its Gram matrix is taken over the
bands of one position) runs on every position folded into the batch axis.
"""

from __future__ import annotations

import abc

import torch.nn.functional as F
from torch import Tensor, nn

from hsi_attn.layers import BasicBlock3d, ChannelGate
from hsi_attn.models.dense.cpu_choices import PACKED_BLOCK


class PositionwiseHead(nn.Module, abc.ABC):
    """A head on 1 x 1 maps that can also run on blocks of positions.

    ``forward`` takes ``(N, C, D, 1, 1)`` and returns logits ``(N, K)``;
    :meth:`per_position` takes ``(M, C, D, b, b)`` and returns ``(M, K, b, b)``, equal
    to ``forward`` applied to each position's 1 x 1 map.
    """

    @abc.abstractmethod
    def per_position(self, blocks: Tensor) -> Tensor:
        """Logits ``(M, K, b, b)`` for every position of ``blocks`` ``(M, C, D, b, b)``."""

    def inference_form(self) -> nn.Module:
        """The module a fused twin runs the head as: ``(N, C, D, h, w)`` to ``(N, K, h, w)``.

        :class:`PackedPositions` unless a family has something faster (the flagship's
        head as matrix products). Call it in evaluation mode.
        """
        return PackedPositions(self)


class EveryPosition(nn.Module):
    """``head`` on every position of a map, each as its own ``(1, C, D, 1, 1)`` sample.

    Args:
        head: Any module mapping ``(P, C, D, 1, 1)`` to logits ``(P, K)`` position by
            position (it is shared, not copied).

    Shape:
        Input ``(N, C, D, h, w)``; output ``(N, K, h, w)``.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.training = head.training  # a new module starts training; mirror the head

    def forward(self, x: Tensor) -> Tensor:
        n, c, d, h, w = x.shape
        logits = self.head(x.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d, 1, 1))
        return logits.reshape(n, h, w, -1).permute(0, 3, 1, 2)


class PackedPositions(nn.Module):
    """A :class:`PositionwiseHead` on every position, packed into ``b x b`` blocks.

    Args:
        head: The head (shared, not copied).
        block: Side b of the blocks.

    Shape:
        Input ``(N, C, D, h, w)``; output ``(N, K, h, w)``.
    """

    def __init__(self, head: PositionwiseHead, *, block: int = PACKED_BLOCK) -> None:
        super().__init__()
        self.head = head
        self.block = block
        self.training = head.training  # a new module starts training; mirror the head

    def forward(self, x: Tensor) -> Tensor:
        n, _, _, h, w = x.shape
        return unpack_positions(self.head.per_position(pack_positions(x, self.block)), n, h, w)


def pack_positions(x: Tensor, block: int) -> Tensor:
    """Pack the positions of ``(N, C, D, H, W)`` into ``(M, C, D, block, block)`` blocks.

    The last block is zero-padded; :func:`unpack_positions` drops the padding.
    """
    n, c, d, h, w = x.shape
    flat = x.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d)
    missing = (-flat.shape[0]) % (block * block)
    if missing:
        flat = F.pad(flat, (0, 0, 0, 0, 0, missing))
    return flat.reshape(-1, block, block, c, d).permute(0, 3, 4, 1, 2)


def unpack_positions(y: Tensor, n: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`pack_positions` for per-position outputs ``(M, K, block, block)``."""
    k = y.shape[1]
    flat = y.permute(0, 2, 3, 1).reshape(-1, k)[: n * h * w]
    return flat.reshape(n, h, w, k).permute(0, 3, 1, 2)


def fold_positions(module: nn.Module, x: Tensor) -> Tensor:
    """Run ``module`` on every spatial position of ``x`` as its own 1 x 1 sample.

    Exact for any module, whatever it does across its input's spatial axes.

    Shape:
        ``(N, C, D, h, w)`` to ``(N, C', D', h, w)``.
    """
    n, c, d, h, w = x.shape
    out = module(x.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d, 1, 1))
    return out.reshape(n, h, w, *out.shape[1:3]).permute(0, 3, 4, 1, 2)


def positionwise_attention(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply an attention layer to every position of ``x`` as if it were a 1 x 1 map."""
    if isinstance(layer, nn.Identity):
        return x
    if isinstance(layer, ChannelGate):
        return x * layer.gate_from_pooled(x, x if layer.uses_max else None)
    return fold_positions(layer, x)


def positionwise_block(block: BasicBlock3d, x: Tensor) -> Tensor:
    """A spectral :class:`~hsi_attn.layers.BasicBlock3d` (spatial kernel 1) at every position.

    Mirrors ``BasicBlock3d.forward`` with the attention applied position by position.
    """
    out = block.relu(block.bn1(block.conv1(x)))
    out = positionwise_attention(block.attention, block.bn2(block.conv2(out)))
    return block.relu(out + block.shortcut(x))


def positionwise_linear(linear: nn.Linear, x: Tensor) -> Tensor:
    """``linear`` on the flattened channel x band vector of every position.

    Shape:
        ``(N, C, D, h, w)`` to ``(N, K, h, w)``; the flattening order is that of
        ``x[..., i, j].flatten(1)``.
    """
    n, c, d, h, w = x.shape
    return linear(x.permute(0, 3, 4, 1, 2).reshape(n, h, w, c * d)).permute(0, 3, 1, 2)
