"""Connected regions of a class and compact picks from them, for spatial splits.

A field of one crop is an 8-connected region of its class in the ground truth. Spatial
splits take whole regions, or one end of a region, so that the pixels of one set form
compact blocks rather than scattered pixels (:func:`hsi_attn.data.splits.split_disjoint`
for training/validation/test, :func:`hsi_attn.data.splits.split_fixed` for the
validation pixels carved out of a fixed training map).
"""

from __future__ import annotations

import numpy as np

from hsi_attn.data.leakage import dilate

__all__ = ["components", "cut_region", "take_regions"]


def components(mask: np.ndarray) -> list[np.ndarray]:
    """``(n, 2)`` coordinates of each 8-connected region of ``mask``."""
    from scipy.ndimage import label as label_regions

    labelled, count = label_regions(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    coords = np.argwhere(labelled > 0)
    ids = labelled[coords[:, 0], coords[:, 1]] - 1
    order = np.argsort(ids, kind="stable")
    bounds = np.cumsum(np.bincount(ids, minlength=count))[:-1]
    return np.split(coords[order], bounds)


def cut_region(region: np.ndarray, need: int, rng: np.random.Generator, radius: int) -> np.ndarray:
    """``need`` pixels from one end of ``region``, leaving most of the rest beyond the guard.

    Eight directions (45 degrees apart, seeded offset) are tried; the cut keeps the one
    that leaves the most pixels of the region further than ``radius`` from the cut.
    """
    top_left = region.min(axis=0)
    local = region - top_left
    shape = tuple(int(v) for v in local.max(axis=0) + 1)
    base = rng.uniform(0.0, np.pi / 4)
    best, best_left = region[:need], -1
    for step in range(8):
        angle = base + step * np.pi / 4
        along = local @ np.array([np.cos(angle), np.sin(angle)])
        order = np.argsort(along, kind="stable")
        mask = np.zeros(shape, dtype=bool)
        mask[local[order[:need], 0], local[order[:need], 1]] = True
        near = dilate(mask, radius)
        left = int((~near[local[order[need:], 0], local[order[need:], 1]]).sum())
        if left > best_left:
            best, best_left = region[order[:need]], left
    return best


def take_regions(
    regions: list[np.ndarray], need: int, rng: np.random.Generator, radius: int
) -> np.ndarray:
    """Pick ``need`` pixels as whole regions where they fit, cutting one region at most.

    Whole regions are taken in a seeded random order while they fit in what is still
    needed; the remainder is cut from one end of a region larger than it, so the rest of
    that region (and every untouched region) stays far from the picked pixels.
    """
    left = list(rng.permutation(len(regions)))
    picked: list[np.ndarray] = []
    for index in list(left):
        if 0 < len(regions[index]) <= need and len(left) > 1:
            picked.append(regions[index])
            left.remove(index)
            need -= len(regions[index])
    while need > 0 and left:
        bigger = [i for i in left if len(regions[i]) > need]
        if bigger:
            index = bigger[int(rng.integers(len(bigger)))]
            picked.append(cut_region(regions[index], need, rng, radius))
            need = 0
        else:
            index = max(left, key=lambda i: len(regions[i]))
            take = regions[index] if len(left) > 1 else cut_region(regions[index], need, rng, radius)
            picked.append(take)
            left.remove(index)
            need -= len(take)
    return np.concatenate(picked) if picked else np.zeros((0, 2), dtype=np.int64)
