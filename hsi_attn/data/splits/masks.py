"""A split from label masks the user already has (e.g. the GRSS DFC masks)."""

from __future__ import annotations

import numpy as np

from hsi_attn.data.readers import check_labels
from hsi_attn.data.splits.split import Split

__all__ = ["split_from_masks"]


def split_from_masks(
    train_gt: np.ndarray,
    test_gt: np.ndarray,
    *,
    val_gt: np.ndarray | None = None,
) -> Split:
    """A split from label masks the user already has (e.g. the GRSS DFC masks).

    Args:
        train_gt: ``(H, W)`` labels of the training pixels, 0 elsewhere.
        test_gt: ``(H, W)`` labels of the test pixels, 0 elsewhere.
        val_gt: Optional ``(H, W)`` labels of validation pixels.

    Raises:
        ValueError: On differing shapes, negative labels, an empty training set, or a
            pixel in two sets.
    """
    maps = {"train": check_labels(train_gt, source="train_gt"),
            "test": check_labels(test_gt, source="test_gt")}
    maps["val"] = (np.zeros_like(maps["train"]) if val_gt is None
                   else check_labels(val_gt, source="val_gt"))
    shape = maps["train"].shape
    for name, labels in maps.items():
        if labels.shape != shape:
            raise ValueError(
                f"{name}_gt has shape {labels.shape} but train_gt has {shape}; all masks must "
                "cover the same scene"
            )
    if not (maps["train"] > 0).any():
        raise ValueError("train_gt has no labelled pixel; nothing to train on")
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        overlap = (maps[a] > 0) & (maps[b] > 0)
        if overlap.any():
            r, c = np.argwhere(overlap)[0]
            raise ValueError(
                f"{int(overlap.sum())} pixels are in both {a}_gt and {b}_gt (first at row {r}, "
                f"col {c}); a pixel may belong to one set only"
            )
    return Split(
        train=np.argwhere(maps["train"] > 0), val=np.argwhere(maps["val"] > 0),
        test=np.argwhere(maps["test"] > 0), shape=shape, method="masks",
    )
