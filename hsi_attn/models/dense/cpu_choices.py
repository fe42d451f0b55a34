"""Every CPU-kernel choice of the fused dense twin, with the measurement behind it.

The twin computes the model's function exactly; how it lays that work out is tuned to
the CPU kernels torch dispatches to (oneDNN, MKL). Each choice is made here, or named
here and made where it applies. Figures: the default flagship (``resnet3d`` +
``eca_band``, p = 11, width 16, PCA 30, so D = 8 bands after the stem) on the
145 x 145 Indian Pines scene, this project's 2-core CPU, torch 2.13, medians measured
A against B in one process (``experiments/benchmarks/dense_stages.py``, and the issue 13
measurements quoted in each entry).

TODO-MEASURE table

Off the CPU (a GPU) there are no halves and no slices: each would only add kernel
launches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

MAX_MATRIX_WASTE = 2.0
"""Largest ``D_in / k`` for which a spectral ``(k, 1, 1)`` convolution runs as a matrix
product. The band matrix multiplies the zeros of the band: it spends ``D_in / k`` times
the convolution's FLOPs (1.14 for the default flagship: D = 8, k = 7)."""

COLUMNS_PER_THREAD = 512
"""Positions per slice and CPU thread in :func:`in_chunks`: about 256 KiB of the
default flagship's activations per thread, so each thread's share stays in its core's
cache across the dozen passes the head makes over it."""

PACKED_BLOCK = 4
"""Side of the spatial blocks :class:`~hsi_attn.models.dense.positionwise.PackedPositions`
lays positions out on."""


def two_halves(cube: Tensor, patch_size: int) -> Tensor:
    """The top and bottom halves of a padded cube, as a batch of two.

    Args:
        cube: ``(1, 1, B, H + p - 1, W + p - 1)``.
        patch_size: p.

    Returns:
        ``(2, 1, B, ceil(H / 2) + p - 1, W + p - 1)``: output rows depend only on their
        own window of input rows, so the halves' outputs cover the scene, overlapping
        by one row when H is odd.
    """
    height = cube.shape[3] - patch_size + 1
    rows = (height + 1) // 2 + patch_size - 1
    return torch.cat([cube[..., :rows, :], cube[..., cube.shape[3] - rows :, :]])


def in_two_halves(fn: Callable[[Tensor], Tensor], cube: Tensor, patch_size: int) -> Tensor:
    """``fn(cube)`` for a dense twin's ``fn``, run on :func:`two_halves` where that is faster.

    A single cube of at least two output rows on a CPU goes through ``fn`` as its two
    halves and the logits are joined; anything else goes through as it is. The result
    is the same: every output row is computed from the same input rows.
    """
    height = cube.shape[3] - patch_size + 1
    if cube.shape[0] > 1 or height < 2 or cube.device.type != "cpu":
        return fn(cube)
    top = (height + 1) // 2
    logits = fn(two_halves(cube, patch_size))
    return torch.cat([logits[:1], logits[1:, :, 2 * top - height :]], dim=2)


def in_chunks(fn: Callable[[Tensor], Tensor], columns: Tensor, chunk: int | None = None) -> Tensor:
    """``fn`` on ``columns`` ``(F, P)`` in slices of ``chunk`` positions (columns).

    The default is :data:`COLUMNS_PER_THREAD` per CPU thread. Positions are independent,
    so the result is the same. Columns off the CPU are processed whole.
    """
    chunk = chunk or COLUMNS_PER_THREAD * torch.get_num_threads()
    if columns.shape[1] <= chunk or columns.device.type != "cpu":
        return fn(columns)
    return torch.cat([fn(part) for part in columns.split(chunk, dim=1)], dim=1)
