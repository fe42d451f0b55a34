"""Dense (fully-convolutional) twins: one pass over a scene equals one pass per patch.

A patch classifier f maps the p x p window around a pixel to logits. Run naively over a
scene it recomputes every interior feature up to p^2 times, once for each window that
contains it. The dense-capable families here are built so that f is a *sliding-window
function* with an exact one-pass form:

1. a **spatial stage** of convolutions that are "valid" spatially (no spatial padding)
   and otherwise position-wise (BN, ReLU, spectral convolutions, centre-cropped
   shortcuts). Applied to the padded scene it yields, at every position, exactly the
   features each overlapping patch would compute: this is where the p^2-fold work is
   shared;
2. an **average over the remaining r x r window**, which over a scene is a stride-1 box
   filter (:func:`box_filter`, separable);
3. a **head** that only ever sees a 1 x 1 spatial map: spectral blocks (spatial kernel
   1), attention, the classifier. Whatever the head does at one position depends on
   that position alone, so the twin runs the same modules, with the same parameters,
   on every position at once (:meth:`PositionwiseHead.positionwise`): a gating layer as
   ``x * layer.gate_from_pooled(x, x)`` (its spatial squeeze over one position is the
   position itself), the classifier as a per-position linear map, and the spectral
   convolutions either as matrix products over one column per position, batch norm
   folded (:mod:`hsi_attn.models.spectral_matrices`, in eval mode where the band axis is
   short enough), or as they are on positions packed into small 4 x 4 spatial blocks,
   the layout CPU convolution kernels run fastest on; the arrangement of positions is
   irrelevant because nothing mixes them.

Any attention works in the head, including ``danet3d``: there its Gram matrix is taken
over the bands of one position, not over a spatial window, and a layer that is not a
:class:`~hsi_attn.layers.ChannelGate` runs on every position folded into the batch
axis. What is *not* exact is attention inside the spatial stage: a gate computed from a
whole p x p window and then followed by further spatial convolutions differs between
overlapping patches, so the families keep attention out of the spatial stage (see each
family's docstring).

In evaluation mode every batch norm that follows a convolution of the spatial stage is
folded into it (:mod:`hsi_attn.models.batch_norm_folding`), in the patch model and the
twin alike.

A model declares the capability by subclassing :class:`DenseCapable` and returning its
twin from :meth:`DenseCapable.dense_twin`; callers test ``isinstance(model,
DenseCapable)``, never model names.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hsi_attn.layers import BasicBlock3d, ChannelGate
from hsi_attn.models.batch_norm_folding import run_folded
from hsi_attn.models.checks import check_padded_cube, check_patch_batch
from hsi_attn.models.reference_form import in_reference_form

BLOCK = 4
"""Side of the spatial blocks positions are packed into for the dense head."""

STRIP_POSITIONS = 1024
"""Positions per CPU thread in each strip the dense twin's head runs on (see
:meth:`DenseTwin._head`)."""


class DenseCapable(abc.ABC):
    """Interface of a patch classifier that has an exact fully-convolutional twin.

    The twin shares the model's parameters (it holds the model's own submodules) and
    maps a cube padded by ``patch_size // 2`` on each side, ``(N, 1, B, H + p - 1,
    W + p - 1)``, to logits ``(N, K, H, W)``; the logits at (i, j) equal the model's
    logits for the p x p patch centred on pixel (i, j).
    """

    patch_size: int
    n_bands: int
    n_classes: int

    @abc.abstractmethod
    def dense_twin(self) -> nn.Module:
        """Return the fully-convolutional twin, sharing this model's parameters."""


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


SEPARABLE_BOX_FROM = 10
"""Window side from which :func:`box_filter` runs as two 1-D passes instead of one 2-D."""


def box_filter(x: Tensor, r: int) -> Tensor:
    """Stride-1 ``r x r`` spatial mean of ``(N, C, D, H, W)``: ``(N, C, D, H - r + 1, W - r + 1)``.

    This is the per-patch window average of every overlapping patch at once, run as a
    depthwise 2-D convolution with weights ``1 / r^2`` over the ``C * D`` planes (oneDNN
    does this 8x faster than ``avg_pool3d`` on these shapes). It is memory-bound for small
    windows, where one pass beats two; from :data:`SEPARABLE_BOX_FROM` on, the separable
    form (a mean over r rows, then over r columns: 2r reads per output instead of r^2)
    is faster. Measured on this project's CPU, default flagship (r = 7): 2.0 ms in one
    pass against 2.8 ms in two. Inside
    :func:`~hsi_attn.models.reference_form.reference_form` it is the average pooling it
    stands for (uncounted by FLOP counters, like the patch model's ``mean``).
    """
    if r == 1:
        return x
    if in_reference_form():
        return F.avg_pool3d(x, (1, r, r), stride=1)
    n, c, d, h, w = x.shape
    planes = x.reshape(n, c * d, h, w)
    if r < SEPARABLE_BOX_FROM:
        square = torch.full((c * d, 1, r, r), 1.0 / (r * r), dtype=x.dtype, device=x.device)
        planes = F.conv2d(planes, square, groups=c * d)
    else:
        rows = torch.full((c * d, 1, r, 1), 1.0 / r, dtype=x.dtype, device=x.device)
        planes = F.conv2d(planes, rows, groups=c * d)
        planes = F.conv2d(planes, rows.reshape(c * d, 1, 1, r), groups=c * d)
    return planes.reshape(n, c, d, h - r + 1, w - r + 1)


class PositionwiseHead(nn.Module, abc.ABC):
    """A head on 1 x 1 maps that can also run on every position of a larger map.

    ``forward`` takes ``(N, C, D, 1, 1)`` and returns logits ``(N, K)``;
    :meth:`positionwise` takes ``(N, C, D, h, w)`` and returns ``(N, K, h, w)``, equal to
    ``forward`` applied to each position's 1 x 1 map (:func:`run_packed` helps lay the
    positions out).
    """

    @abc.abstractmethod
    def positionwise(self, x: Tensor) -> Tensor:
        """Logits ``(N, K, h, w)`` for every position of ``x`` ``(N, C, D, h, w)``."""


def pack_positions(x: Tensor, block: int = BLOCK) -> Tensor:
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


def run_packed(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Run a per-position ``fn`` on the positions of ``x`` packed into 4 x 4 blocks.

    Args:
        fn: Maps ``(M, C, D, b, b)`` to ``(M, K, b, b)`` treating every position alone.
        x: ``(N, C, D, h, w)``.

    Returns:
        ``(N, K, h, w)``.
    """
    n, _, _, h, w = x.shape
    return unpack_positions(fn(pack_positions(x)), n, h, w)


class WindowAveragedNet(nn.Module, DenseCapable):
    """Base of the dense-capable families: spatial stage, window average, head.

    Subclasses build ``self.spatial`` (patch ``(N, 1, B, p, p)`` to features
    ``(N, C, D, r, r)`` using only valid spatial convolutions and position-wise
    operations) and ``self.head``, a :class:`PositionwiseHead` (features
    ``(N, C, D, 1, 1)`` to logits ``(N, K)``), and set ``self.window`` to r.

    Args:
        n_bands: Number of input bands B.
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p.
        name: Registry name of the family, used in error messages.
    """

    spatial: nn.Module
    head: PositionwiseHead

    def __init__(self, n_bands: int, n_classes: int, *, patch_size: int, name: str) -> None:
        super().__init__()
        self.n_bands = n_bands
        self.n_classes = n_classes
        self.patch_size = patch_size
        self.family = name
        self.window = patch_size

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, K)`` for patches ``(N, 1, B, p, p)``."""
        check_patch_batch(x, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        features = run_folded(self.spatial, x)
        return self.head(features.mean(dim=(-2, -1), keepdim=True))

    def dense_twin(self) -> DenseTwin:
        return DenseTwin(self)


class DenseTwin(nn.Module):
    """The fully-convolutional twin of a :class:`WindowAveragedNet` (shared parameters).

    Args:
        net: The patch model; its ``spatial`` and ``head`` modules are reused as they are.

    Shape:
        Input ``(N, 1, B, H + p - 1, W + p - 1)`` (the cube padded by p // 2); output
        logits ``(N, K, H, W)``.
    """

    def __init__(self, net: WindowAveragedNet) -> None:
        super().__init__()
        self.spatial = net.spatial
        self.head = net.head
        self.window = net.window
        self.patch_size = net.patch_size
        self.n_bands = net.n_bands
        self.n_classes = net.n_classes
        self.family = net.family
        self.training = net.training  # a new module starts training; mirror the net

    def forward(self, cube: Tensor) -> Tensor:
        check_padded_cube(cube, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        height = cube.shape[3] - self.patch_size + 1
        if cube.shape[0] > 1 or height < 2 or cube.device.type != "cpu":
            return self._head(run_folded(self.spatial, cube))
        # PyTorch runs a 3-D convolution with batch size 1 and few bands on a slow CPU
        # reference kernel (up to 7x slower than oneDNN, which it picks for batches of
        # 2). Output rows depend only on their own window of input rows, so the cube
        # goes through the spatial stage as a batch of its top and bottom halves, which
        # overlap by at most one output row; each half then keeps its own rows.
        top = (height + 1) // 2
        rows = top + self.patch_size - 1
        halves = run_folded(
            self.spatial, torch.cat([cube[..., :rows, :], cube[..., cube.shape[3] - rows :, :]])
        )
        logits = self._head(halves)
        return torch.cat([logits[:1], logits[1:, :, 2 * top - height :]], dim=2)

    def _head(self, features: Tensor) -> Tensor:
        """Window average of the spatial-stage ``features``, then the head: ``(N, K, h, w)``."""
        return self.head.positionwise(box_filter(features, self.window))
