"""Checks that an array is a usable cube or label map, with messages that say how to fix it.

Every way a cube or label map enters the package (files, benchmark scenes, arrays
passed to :class:`~hsi_attn.data.scene.Scene`, user masks) goes through these two
functions, so a shape or dtype rule is written once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_cube", "check_label_map", "check_labels"]


def check_cube(cube: np.ndarray, *, source: str = "cube") -> np.ndarray:
    """Validate a hyperspectral cube: numeric, 3-D ``(H, W, B)``, non-empty.

    Raises:
        ValueError: On another number of dimensions, an empty axis or a non-numeric dtype.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(
            f"{source} has {cube.ndim} dims with shape {cube.shape}; a hyperspectral cube "
            "must be 3-D (H, W, B) with bands last. Reshape a flat (H*W, B) matrix to "
            "(H, W, B), or add a band axis with cube[..., None] for a single band."
        )
    if min(cube.shape) < 1:
        raise ValueError(f"{source} has an empty axis: shape {cube.shape}")
    if cube.dtype.kind not in "biuf":
        raise ValueError(f"{source} has non-numeric dtype {cube.dtype}; expected ints or floats")
    return cube


def check_label_map(labels: np.ndarray, *, source: str = "labels") -> np.ndarray:
    """A label map's shape and dtype: ``(H, W)`` (a trailing single band is dropped, as
    in ENVI classification files and single-band rasters) of integers or floats.

    The values are the caller's to check (:func:`check_labels` wants ``0..K``; the
    user's class codes may hold a nodata value first).

    Raises:
        ValueError: On a map that is not 2-D, or a bool or non-numeric dtype.
    """
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[2] == 1:
        labels = labels[:, :, 0]
    if labels.ndim != 2:
        raise ValueError(
            f"{source} has shape {labels.shape}; ground truth must be a 2-D (H, W) map of "
            "integer class labels (or a single-band raster)"
        )
    if labels.dtype.kind not in "iuf":
        raise ValueError(f"{source} has dtype {labels.dtype}; expected integer class labels")
    return labels


def check_labels(labels: np.ndarray, *, source: str = "labels") -> np.ndarray:
    """Validate a label map and return it as ``(H, W)`` int64.

    Float labels are accepted when every value is a whole number (MATLAB stores
    labels as double). A trailing singleton axis (ENVI classification files) is dropped.

    Raises:
        ValueError: On a non-2-D map, non-integer values, NaN, or negative labels.
    """
    labels = check_label_map(labels, source=source)
    if labels.dtype.kind == "f" and (
        not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels))
    ):
        raise ValueError(
            f"{source} holds non-integer or non-finite values; labels must be whole "
            "numbers (0 = unlabelled, 1..K = classes)"
        )
    if labels.size and labels.min() < 0:
        negative = np.unique(labels[labels < 0])[:5].tolist()
        raise ValueError(
            f"{source} holds negative labels {negative}; labels must be 0 (unlabelled) or "
            "1..K. If -1 marks unlabelled pixels, map it to 0 first (labels[labels < 0] = 0)."
        )
    return labels.astype(np.int64, copy=False)
