"""Spatial tiles for dense inference: the grid, and the tile side a memory budget allows.

The dense method runs its twin over output tiles of the scene, each read with a halo of
p // 2 pixels. :func:`dense_tile_size` finds the largest tile whose activations fit a
memory budget with a probe forward pass; :func:`probed_tile_size` remembers the answer
per model, so repeated predictions do not probe again.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from hsi_attn.models.dense import DenseCapable

__all__ = ["dense_tile_size", "probed_tile_size", "tile_grid"]

_PROBE_TILE = 8
_WORKING_COPIES = 3  # a layer's input, its output and one temporary


def tile_grid(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """Output tiles ``(top, left, h, w)`` of side at most ``tile`` covering the scene once.

    Tiles of equal size (up to one pixel) keep the last row and column from being slivers.
    """
    rows = math.ceil(height / tile)
    cols = math.ceil(width / tile)
    row_edges = np.linspace(0, height, rows + 1).round().astype(int)
    col_edges = np.linspace(0, width, cols + 1).round().astype(int)
    for top, bottom in zip(row_edges[:-1], row_edges[1:]):
        for left, right in zip(col_edges[:-1], col_edges[1:]):
            yield int(top), int(left), int(bottom - top), int(right - left)


_TILE_SIDES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[object, ...], int]] = (
    weakref.WeakKeyDictionary()
)
"""Tile sides already probed, per model (held weakly). The probe is a forward pass
(2.4 ms for the flagship on this project's CPU, 5 % of a whole Indian Pines map), and a
model's activation sizes are fixed by its architecture, so it runs once per model,
band count, budget, dtype and device."""


def probed_tile_size(
    model: DenseCapable,
    twin: nn.Module,
    *,
    n_bands: int,
    max_memory: int,
    device: torch.device,
    dtype: torch.dtype,
) -> int:
    """:func:`dense_tile_size` of ``model``'s ``twin``, probed once and then remembered.

    Args:
        model: The dense-capable patch model (the cache key, held weakly).
        twin: Its twin, as inference runs it.
        n_bands: Bands B of the cube.
        max_memory: The budget in bytes.
        device: Where the twin runs.
        dtype: The twin's dtype.
    """
    key = (n_bands, model.patch_size, max_memory, str(device), dtype)
    sides = _TILE_SIDES.setdefault(model, {})  # type: ignore[arg-type]
    if key not in sides:
        sides[key] = dense_tile_size(
            twin, n_bands=n_bands, patch_size=model.patch_size, max_memory=max_memory,
            device=device,
        )
    return sides[key]


def dense_tile_size(
    twin: nn.Module,
    *,
    n_bands: int,
    patch_size: int,
    max_memory: int,
    device: torch.device | str = "cpu",
) -> int:
    """Largest output tile side whose activations fit in about ``max_memory`` bytes.

    A probe forward pass on a small tile records the largest output of any layer; the
    peak is taken as a few such tensors and scaled with the tile's padded area, which
    bounds every layer (spatial maps only shrink through the network).

    Returns:
        The tile side, at least 1.
    """
    reference = next(twin.parameters(), None)
    dtype = reference.dtype if reference is not None else torch.float32
    side = _PROBE_TILE + patch_size - 1
    probe = torch.zeros((1, 1, n_bands, side, side), dtype=dtype, device=device)
    largest = 0

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal largest
        if isinstance(output, Tensor):
            largest = max(largest, output.numel() * output.element_size())

    # Every module, containers too: a container may compute more than its children
    # (the matrix head runs its lowered blocks itself).
    hooks = [m.register_forward_hook(record) for m in twin.modules()]
    try:
        with torch.inference_mode():
            twin(probe)
    finally:
        for hook in hooks:
            hook.remove()
    bytes_per_input_pixel = _WORKING_COPIES * largest / side**2
    fitting_side = math.isqrt(max(1, int(max_memory / max(bytes_per_input_pixel, 1e-9))))
    return max(1, fitting_side - (patch_size - 1))
