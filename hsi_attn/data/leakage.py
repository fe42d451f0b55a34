"""How much of a test set is seen by training patches.

A pixel at ``(r, c)`` is classified from the ``p x p`` patch centred on it. If that
patch contains a training pixel, the network has seen the test pixel's neighbourhood
(and often the test pixel itself) during training, and the accuracy is optimistic.
With ``g = p // 2``, the patch of test pixel ``s`` contains training pixel ``t`` exactly
when their Chebyshev distance ``max(|dr|, |dc|)`` is at most ``g``. Reflect or
symmetric padding at the border only mirrors pixels that are also within ``g``, so the
same test covers border patches.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hsi_attn.data.patches_geometry import check_patch_size


def as_mask(pixels: np.ndarray, shape: tuple[int, int] | None, *, name: str) -> np.ndarray:
    """Turn coordinates or a mask into a boolean ``(H, W)`` mask.

    Accepted forms: a boolean ``(H, W)`` mask; an integer ``(n, 2)`` array of
    ``(row, col)`` coordinates (needs ``shape``); any other 2-D integer array is a label
    mask whose non-zero pixels count. Use boolean masks when ``W == 2``.
    """
    array = np.asarray(pixels)
    if array.ndim == 2 and array.dtype == bool:
        if shape is not None and array.shape != tuple(shape):
            raise ValueError(f"{name} mask has shape {array.shape}, expected {tuple(shape)}")
        return array
    if (array.ndim == 2 and array.shape[1] == 2 and array.dtype.kind in "iu") or array.size == 0:
        if shape is None:
            raise ValueError(f"{name} is given as coordinates; pass shape=(H, W) as well")
        coords = array.reshape(-1, 2).astype(np.int64)
        if coords.size and (
            coords.min() < 0 or coords[:, 0].max() >= shape[0] or coords[:, 1].max() >= shape[1]
        ):
            raise ValueError(f"{name} has coordinates outside the {shape[0]}x{shape[1]} scene")
        mask = np.zeros(shape, dtype=bool)
        mask[coords[:, 0], coords[:, 1]] = True
        return mask
    if array.ndim == 2 and array.dtype.kind in "iu":
        if shape is not None and array.shape != tuple(shape):
            raise ValueError(f"{name} mask has shape {array.shape}, expected {tuple(shape)}")
        return array != 0
    raise ValueError(
        f"{name} must be a boolean (H, W) mask, a label mask or (n, 2) integer (row, col) "
        f"coordinates; got dtype {array.dtype} with shape {array.shape}"
    )


def _shape_of(*arrays: np.ndarray) -> tuple[int, int] | None:
    for array in arrays:
        array = np.asarray(array)
        if array.ndim == 2 and (array.dtype == bool or array.shape[1] != 2):
            return (int(array.shape[0]), int(array.shape[1]))
    extents = [np.asarray(a).reshape(-1, 2).max(axis=0) + 1 for a in arrays if np.asarray(a).size]
    if not extents:
        return (1, 1)
    top = np.max(np.stack(extents), axis=0)
    return (int(top[0]), int(top[1]))


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within Chebyshev distance ``radius`` of a True pixel of ``mask``."""
    if radius == 0:
        return mask.copy()
    from scipy.ndimage import maximum_filter

    size = 2 * radius + 1
    return maximum_filter(mask.astype(np.uint8), size=size, mode="constant", cval=0).astype(bool)


def leakage(
    train: np.ndarray,
    test: np.ndarray,
    patch_size: int,
    *,
    shape: tuple[int, int] | None = None,
) -> float:
    """Fraction of test pixels whose ``patch_size`` patch contains a training pixel.

    Args:
        train: Training pixels as ``(n, 2)`` ``(row, col)`` coordinates or an ``(H, W)``
            mask (boolean, or labels where non-zero counts).
        test: Test pixels, same forms.
        patch_size: Odd patch side ``p``.
        shape: ``(H, W)`` of the scene; inferred from masks, or from the largest
            coordinates when both are given as coordinates.

    Returns:
        A value in [0, 1]; 0.0 when there are no test pixels. A spatially disjoint split
        gives exactly 0.
    """
    radius = check_patch_size(patch_size) // 2
    shape = shape or _shape_of(train, test)
    train_mask = as_mask(train, shape, name="train")
    test_mask = as_mask(test, shape, name="test")
    n_test = int(test_mask.sum())
    if n_test == 0:
        return 0.0
    seen = dilate(train_mask, radius)
    return float((seen & test_mask).sum()) / n_test


def leakage_report(split: object, patch_size: int) -> Mapping[str, float]:
    """Leakage between every ordered pair of a split's sets.

    Args:
        split: A :class:`hsi_attn.data.splits.Split`.
        patch_size: Odd patch side.

    Returns:
        ``{"train->test", "train->val", "val->test"}`` fractions (see :func:`leakage`).
    """
    shape = split.shape  # type: ignore[attr-defined]
    pairs = {"train->test": ("train", "test"), "train->val": ("train", "val"),
             "val->test": ("val", "test")}
    return {
        key: leakage(getattr(split, a), getattr(split, b), patch_size, shape=shape)
        for key, (a, b) in pairs.items()
    }
