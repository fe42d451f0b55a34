"""A fixed split from the literature: its training and test maps, and validation carved
out of the training map spatially.

Published results on a fixed split (e.g. Hong et al.'s 695-pixel Indian Pines training
map) train on the pixels of its training map and test on every pixel of its test map.
Early stopping and model selection need validation pixels too; taking them from the
test map would leak, so they are carved out of the training map. The carve is spatial:
per class, whole training blocks (8-connected regions of the class in the training
map) or one compact end of a block, in a seeded order (:mod:`hsi_attn.data.splits.regions`),
so validation pixels lie together rather than scattered between training pixels.
Training plus validation is exactly the training map; no pixel is dropped.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from hsi_attn.data.readers import check_labels
from hsi_attn.data.patches_geometry import check_patch_size
from hsi_attn.data.splits.regions import components, take_regions
from hsi_attn.data.splits.split import Split, SplitWarning, check_size, pixels_per_class

logger = logging.getLogger(__name__)

__all__ = ["split_fixed"]


def split_fixed(
    train_gt: np.ndarray,
    test_gt: np.ndarray,
    *,
    val_size: float | int,
    seed: int,
    patch_size: int = 5,
    name: str = "fixed",
) -> Split:
    """Train on a fixed training map, test on a fixed test map, validate on a spatial
    carve of the training map.

    Args:
        train_gt: ``(H, W)`` labels of the protocol's training pixels, 0 elsewhere.
        test_gt: ``(H, W)`` labels of its test pixels, 0 elsewhere.
        val_size: Fraction in [0, 1) of each class's training pixels (at least one) or
            a count per class, carved out for validation; 0 for none.
        seed: Seed of the block order and cut directions.
        patch_size: Odd patch side; the carve prefers cuts that leave the remaining
            training pixels of the class more than ``patch_size // 2`` pixels away.
        name: The protocol's name, recorded in ``info["protocol"]``.

    Returns:
        A :class:`Split` with ``method="fixed"``; ``info`` records the protocol, the seed,
        ``val_size`` and the classes too small to give validation pixels.

    Raises:
        ValueError: On maps of different shapes, invalid labels, an empty training or
            test map, or a pixel in both maps.

    Warns:
        SplitWarning: When a class has a single training pixel and so no validation pixel.
    """
    train_gt = check_labels(train_gt, source=f"{name} training map")
    test_gt = check_labels(test_gt, source=f"{name} test map")
    val_size = check_size(val_size, name="val_size", allow_zero=True)
    radius = check_patch_size(patch_size) // 2
    if train_gt.shape != test_gt.shape:
        raise ValueError(
            f"{name}: the training map is {train_gt.shape} but the test map is "
            f"{test_gt.shape}; both maps must cover the same scene"
        )
    for what, labels in (("training", train_gt), ("test", test_gt)):
        if not (labels > 0).any():
            raise ValueError(f"{name}: the {what} map has no labelled pixel")
    both = (train_gt > 0) & (test_gt > 0)
    if both.any():
        row, col = np.argwhere(both)[0]
        raise ValueError(
            f"{name}: {int(both.sum())} pixels are in both the training and the test map "
            f"(first at row {row}, col {col}); the maps are not a split"
        )
    rng = np.random.default_rng(seed)
    val_mask = np.zeros(train_gt.shape, dtype=bool)
    no_val: list[int] = []
    if val_size:
        for label in np.unique(train_gt[train_gt > 0]).tolist():
            n = int((train_gt == label).sum())
            need = pixels_per_class(val_size, n)
            if need >= n:
                no_val.append(int(label))
                continue
            picked = take_regions(components(train_gt == label), need, rng, radius)
            val_mask[picked[:, 0], picked[:, 1]] = True
    if no_val:
        warnings.warn(
            f"{name}: classes {no_val} have too few training pixels to give validation "
            f"pixels (val_size={val_size!r}); they train on all of theirs and are not "
            "validated (split.info['classes_without_val'])",
            SplitWarning,
            stacklevel=2,
        )
    train_mask = (train_gt > 0) & ~val_mask
    info = {"protocol": name, "seed": seed, "val_size": val_size, "patch_size": patch_size,
            "classes_without_val": no_val}
    logger.info("fixed split %s: %d train, %d val, %d test pixels", name,
                int(train_mask.sum()), int(val_mask.sum()), int((test_gt > 0).sum()))
    return Split(train=np.argwhere(train_mask), val=np.argwhere(val_mask),
                 test=np.argwhere(test_gt > 0), shape=train_gt.shape, method="fixed",
                 info=info)
