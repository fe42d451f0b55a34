"""Test-time augmentation over the dihedral group: a map averaged over the 8 symmetries.

Training augments every patch with a random element of the dihedral group of the
square (flips and quarter turns, :func:`hsi_attn.data.batches.dihedral`), so the
network learns to give the same class to a window and its mirror images, but only
approximately. Averaging its probabilities over all 8 symmetries at prediction makes
the map exactly invariant and usually a little more accurate.

On a whole scene this is cheap and exact: a symmetry of the cube maps every pixel's
padded window to the same symmetry of that window (reflect and symmetric padding
commute with flips and transposes), so predicting the transformed scene and
transforming the map back gives each pixel the prediction on its transformed window.
Eight full-scene passes cost eight times one (about 0.4 s for Indian Pines on the
dense path on 2 CPU cores).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DIHEDRAL_ORDER", "dihedral_average", "dihedral_inverse", "dihedral_patch_average",
           "dihedral_transform"]

DIHEDRAL_ORDER = 8
"""Elements of the dihedral group of the square: 4 rotations, each with or without a transpose."""


def dihedral_transform(cube: np.ndarray, k: int) -> np.ndarray:
    """Element ``k`` of the group applied to the spatial axes of ``(H, W, ...)``: transpose
    when ``k >= 4``, then rotate by ``k % 4`` quarter turns (as training's ``dihedral``)."""
    view = np.swapaxes(cube, 0, 1) if k >= 4 else cube
    return np.rot90(view, k % 4, axes=(0, 1))


def dihedral_inverse(values: np.ndarray, k: int) -> np.ndarray:
    """Undo :func:`dihedral_transform` ``k`` on a map ``(H', W', ...)``."""
    view = np.rot90(values, -(k % 4), axes=(0, 1))
    return np.swapaxes(view, 0, 1) if k >= 4 else view


def dihedral_average(
    predict: Callable[[np.ndarray], np.ndarray],
    cube: np.ndarray,
    *,
    elements: int = DIHEDRAL_ORDER,
) -> np.ndarray:
    """Average ``predict`` over the symmetries of ``cube``.

    Args:
        predict: Maps a cube ``(H, W, B)`` to per-pixel values ``(H, W, K)`` (e.g.
            class probabilities from :func:`hsi_attn.inference.predict_scene`).
        cube: The scene ``(H, W, B)``.
        elements: How many group elements to average, the first ``elements`` of
            identity, 3 rotations, then the transposed four; 8 for the whole group, 1
            for plain prediction.

    Returns:
        The average ``(H, W, K)`` in ``predict``'s dtype.

    Raises:
        ValueError: If ``elements`` is not in 1..8.
    """
    if isinstance(elements, bool) or not isinstance(elements, int) or not (
            1 <= elements <= DIHEDRAL_ORDER):
        raise ValueError(f"elements must be an int in 1..8, got {elements!r}")
    def predicted(k: int) -> np.ndarray:
        return dihedral_inverse(predict(np.ascontiguousarray(dihedral_transform(cube, k))), k)

    total = np.array(predicted(0), copy=True)
    for k in range(1, elements):
        total += predicted(k)
    return total / elements


def dihedral_patch_average(predict: Callable[[np.ndarray], np.ndarray],
                           patches: np.ndarray) -> np.ndarray:
    """Average ``predict`` over the 8 symmetries of each patch's window.

    The patch version of :func:`dihedral_average`: a patch's class belongs to its centre
    pixel, which every symmetry keeps in place, so the outputs need no inverse.

    Args:
        predict: Maps patches ``(n, B, p, p)`` to per-patch values ``(n, K)`` (e.g.
            class probabilities).
        patches: ``(n, B, p, p)``, the window in the last two axes.

    Returns:
        The average ``(n, K)`` as float64.
    """
    spatial_first = np.moveaxis(patches, (2, 3), (0, 1))
    total = None
    for k in range(DIHEDRAL_ORDER):
        turned = np.moveaxis(dihedral_transform(spatial_first, k), (0, 1), (2, 3))
        values = np.asarray(predict(np.ascontiguousarray(turned)), dtype=np.float64)
        total = values if total is None else total + values
    return total / DIHEDRAL_ORDER
