"""The usual stratified random pixel split.

Its training patches overlap test pixels; :func:`hsi_attn.data.leakage.leakage`
measures how much, and :func:`~hsi_attn.data.splits.split_disjoint` avoids it.
"""

from __future__ import annotations

import numpy as np

from hsi_attn.data.splits.split import (
    SUBSETS,
    Split,
    check_size,
    labelled_classes,
    pixels_per_class,
    row_major,
    too_few_pixels,
)

__all__ = ["split_random"]


def split_random(
    gt: np.ndarray,
    train_size: float | int,
    *,
    val_size: float | int = 0.0,
    seed: int,
) -> Split:
    """Stratified random pixel split.

    Args:
        gt: ``(H, W)`` labels, 0 = unlabelled.
        train_size: Float in (0, 1): fraction of each class (rounded, at least 1 pixel);
            int >= 1: pixels per class.
        val_size: Same forms, or 0 for no validation set.
        seed: Seed of the permutation; the same seed gives the same split.

    Returns:
        A :class:`Split` with ``method="random"``.

    Raises:
        ValueError: On a bad size, negative labels, or a class too small for the request.
    """
    train_size = check_size(train_size, name="train_size", allow_zero=False)
    val_size = check_size(val_size, name="val_size", allow_zero=True)
    gt, classes = labelled_classes(gt)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SUBSETS}
    for label in classes:
        coords = np.argwhere(gt == label)
        n = len(coords)
        n_train, n_val = pixels_per_class(train_size, n), pixels_per_class(val_size, n)
        if n_train + n_val >= n:
            raise too_few_pixels(int(label), n, n_train, n_val)
        order = rng.permutation(n)
        parts["train"].append(coords[order[:n_train]])
        parts["val"].append(coords[order[n_train:n_train + n_val]])
        parts["test"].append(coords[order[n_train + n_val:]])
    return Split(
        train=row_major(parts["train"]), val=row_major(parts["val"]), test=row_major(parts["test"]),
        shape=gt.shape, method="random",
        info={"seed": seed, "train_size": train_size, "val_size": val_size},
    )
