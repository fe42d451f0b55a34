"""Every CPU-kernel choice of the fused dense twin, with the measurement behind it.

The twin computes the model's function exactly; how it lays that work out is tuned to
the CPU kernels torch dispatches to (oneDNN, MKL). Each choice is made here, or named
here and made where it applies. Figures are for the default flagship (``resnet3d`` +
``eca_band``, p = 11, width 16, PCA 30, so D = 8 bands after the stem) on the
145 x 145 Indian Pines scene, this project's 2-core CPU, torch 2.13, each choice
against its alternative in the same process: "quiet" figures are two threads on a quiet
machine (``experiments/benchmarks/RESULTS.md``); "A/B" figures are medians of 15
alternating passes of ``experiments/benchmarks/dense_stages.py --threads 1`` on a
loaded machine (2026-11-30, issue 13), where everything ran about 4x slower than quiet,
so only their ratios carry over.

1. **A single cube runs as a batch of its two overlapping halves**
   (:func:`in_two_halves`): torch runs a batch-1 3-D convolution with few bands on a
   slow reference kernel and picks oneDNN for a batch of 2. A/B: whole twin 309 ms
   against 1004 ms as one cube (3.2x). Costs 3.8 % more FLOPs (the shared row and the
   halves' halos; quiet: 165.2 against 171.5 GFLOP/s counted both ways).
2. **The window average is one depthwise r x r convolution** (:mod:`.box_filter`),
   not ``avg_pool3d``. A/B: 18.4 ms against 160 ms (8.7x). Quiet: 2.0 ms in one pass
   against 2.8 ms as two 1-D passes at r = 7. The separable form (two 1-D passes)
   wins from r = 11 on (A/B: 30 against 35 ms at r = 11, 33 against 44 ms at r = 13,
   1.5 % and 3.2 % of the twin) but never at the default r = 7: removed in issue 13.
3. **The spectral head runs as matrix products** (:mod:`.spectral_matrices`) where
   ``D_in / k <= MAX_MATRIX_WASTE``. A/B: head 122 ms against 237 ms as convolutions
   on 4 x 4 blocks and 417 ms on 1 x 1 positions. Larger D, head alone: at D = 15
   (ratio 2.1) 316 against 481 ms still, at D = 30 (4.3) 1027 against 957 ms, at
   D = 50 (7.1, all 200 bands) 2500 against 1614 ms.
4. **The matrix head works on slices of COLUMNS_PER_THREAD positions per thread**
   (:func:`in_chunks`). A/B: head 122 ms against 134 ms on all positions at once
   (-9 %); quiet: flat for slices from 512 to 4096 positions.
5. **Other heads run on PACKED_BLOCK x PACKED_BLOCK blocks of positions**
   (:class:`.positionwise.PackedPositions`). A/B, head alone: the flagship on all 200
   bands (D = 50) 1581 ms on 4 x 4 blocks against 2670 ms on 1 x 1 maps (-41 %);
   ``hamida3d`` 403 against 406 ms (even).
6. **Batch norm is folded into the spatial stage's convolutions**
   (:mod:`.folding`). A/B: spatial stage 157 ms against 180 ms (-13 %); the patch
   model's forward on 512 patches, as ``predict_scene``'s patch method runs it, 289
   against 315 ms (-8 %).

Off the CPU (a GPU) there are no halves and no slices: each would only add kernel
launches (on an H200 the dense map went from 6.9 ms to 3.9 ms when the halves were
dropped there and the head moved to columns, together).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

MAX_MATRIX_WASTE = 2.0
"""Largest ``D_in / k`` for which a spectral ``(k, 1, 1)`` convolution runs as a matrix
product. The band matrix multiplies the zeros of the band: it spends ``D_in / k`` times
the convolution's FLOPs (1.14 for the default flagship: D = 8, k = 7). Entry 3 above
suggests a limit near 4; it stays at 2 so that what any configuration computes does not
change."""

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
