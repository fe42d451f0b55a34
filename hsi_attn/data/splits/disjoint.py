"""The spatially disjoint split: compact blocks per class, separated by a guard band.

Compact blocks of each class (whole fields, or one end of a field) go to one set, and
a guard band of ``patch_size // 2`` pixels separates the sets, so no training patch
contains a validation or test pixel and no validation patch contains a test pixel.
Reference for why random splits mislead: Nalepa, Myller & Kawulok, "Validating
Hyperspectral Image Segmentation", IEEE GRSL 2019, https://arxiv.org/abs/1811.03707.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from hsi_attn.checks import check_int
from hsi_attn.data.leakage import dilate
from hsi_attn.data.patches_geometry import check_patch_size
from hsi_attn.data.splits.regions import components, take_regions
from hsi_attn.data.splits.split import (
    Split,
    SplitWarning,
    check_size,
    labelled_classes,
    pixels_per_class,
    too_few_pixels,
)

logger = logging.getLogger(__name__)

__all__ = ["split_disjoint"]


def _mark(shape: tuple[int, int], coords: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for part in coords:
        mask[part[:, 0], part[:, 1]] = True
    return mask


_ATTEMPTS = 20
"""Seeded attempts :func:`split_disjoint` makes before it reports a class it cannot serve."""


def _disjoint_attempt(
    gt: np.ndarray,
    targets: dict[int, tuple[int, int]],
    radius: int,
    rng: np.random.Generator,
    *,
    drop_val: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]] | str:
    """One try at the disjoint split.

    Returns the train/val/test masks and the classes left without validation pixels
    (only when ``drop_val``), or a string saying which class came out empty.
    """
    train_parts = [
        take_regions(components(gt == label), targets[label][0], rng, radius)
        for label in targets
    ]
    train_mask = _mark(gt.shape, train_parts)
    train_guard = dilate(train_mask, radius)
    val_parts: dict[int, np.ndarray] = {}
    no_val: list[int] = []
    for label in targets:
        if targets[label][1] > 0:
            pool = (gt == label) & ~train_guard
            if int(pool.sum()) <= targets[label][1]:
                if drop_val:
                    no_val.append(label)
                    continue
                return (
                    f"class {label} keeps {int(pool.sum())} pixels outside the training guard "
                    f"band, too few for {targets[label][1]} validation + 1 test pixel"
                )
            val_parts[label] = take_regions(components(pool), targets[label][1], rng, radius)

    def test_of(val_mask: np.ndarray) -> np.ndarray:
        return (gt > 0) & ~train_mask & ~val_mask & ~dilate(train_mask | val_mask, radius)

    val_mask = _mark(gt.shape, list(val_parts.values()))
    test_mask = test_of(val_mask)
    starved = [label for label in targets if not (test_mask & (gt == label)).any()]
    if drop_val and any(label in val_parts for label in starved):
        # Removing validation pixels only shrinks the guard band, so no class loses test
        # pixels by it; a class whose validation pixels cost its last test pixel gives
        # them up.
        for label in starved:
            if val_parts.pop(label, None) is not None:
                no_val.append(label)
        val_mask = _mark(gt.shape, list(val_parts.values()))
        test_mask = test_of(val_mask)
        starved = [label for label in targets if not (test_mask & (gt == label)).any()]
    if starved:
        label = starved[0]
        return (
            f"class {label} ({int((gt == label).sum())} pixels) has no test pixel left "
            "outside the guard band"
        )
    return train_mask, val_mask, test_mask, sorted(no_val)


def _guard_width(guard: int | None, patch_size: int) -> int:
    if guard is None:
        return patch_size // 2
    check_int(guard, "guard", minimum=0)
    if guard < patch_size // 2:
        raise ValueError(
            f"guard={guard} is narrower than the patch's half-width {patch_size // 2} "
            f"(patch_size={patch_size}): training patches would contain test pixels; use "
            f"guard >= {patch_size // 2}, or None for exactly that"
        )
    return guard


def split_disjoint(
    gt: np.ndarray,
    train_size: float | int,
    *,
    patch_size: int,
    seed: int,
    val_size: float | int = 0.0,
    guard: int | None = None,
) -> Split:
    """Spatially disjoint split: contiguous blocks per class, separated by a guard band.

    For each class, its 8-connected regions (fields) are the blocks. Training takes
    whole regions, in a seeded random order, while they fit the class's request; the
    rest is cut from one end of a region (along a seeded random direction), so the
    training pixels of a class form compact blocks rather than scattered pixels, and
    at least part of one region is always left for testing. Validation is taken the
    same way from what lies outside the training guard band. Then the guard band of
    ``g = patch_size // 2`` pixels, or the wider ``guard`` (Chebyshev distance) is
    applied across classes:
    validation pixels within ``g`` of a training pixel, and test pixels within ``g`` of
    a training or validation pixel, belong to no set. So no training patch contains a
    validation or test pixel and no validation patch contains a test pixel.

    The training (and validation) counts per class are exactly those requested, as
    for :func:`split_random`; ``info["guard_dropped"]`` records how many labelled
    pixels the guard band left out of every set. When a class ends with no test pixel,
    the draw is repeated (up to 20 times, from the same seeded generator, so the
    result is still reproducible). If that fails with a validation set, classes too
    small to hold training, validation and test pixels ``g`` apart are then left out of
    the validation set (never out of training or test) with a :class:`SplitWarning`,
    and listed in ``info["classes_without_val"]``; only if that fails too is a
    ValueError raised. Minimum per class: 1 training and 1 test pixel, always.

    Args:
        gt: ``(H, W)`` labels, 0 = unlabelled.
        train_size: Float in (0, 1) (fraction per class) or int (pixels per class).
        patch_size: Odd patch side the model will use.
        seed: Seed of the region order and cut directions.
        val_size: Same forms as ``train_size``, or 0 for no validation set.
        guard: Width of the guard band in pixels, at least ``patch_size // 2``; None for
            ``patch_size // 2``. Give the same guard to compare models with different
            patch sizes on the same test pixels.

    Returns:
        A :class:`Split` with ``method="disjoint"``.

    Raises:
        ValueError: On bad sizes, an even patch size, a guard narrower than
            ``patch_size // 2`` (the patches would reach across it), or when a class ends with no
            training or test pixel, which happens when a class's only region is too
            small for the guard band; the message suggests a fix.

    Warns:
        SplitWarning: When classes had to be left out of the validation set.
    """
    train_size = check_size(train_size, name="train_size", allow_zero=False)
    val_size = check_size(val_size, name="val_size", allow_zero=True)
    radius = _guard_width(guard, check_patch_size(patch_size))
    gt, classes = labelled_classes(gt)
    rng = np.random.default_rng(seed)
    labelled = gt > 0

    targets = {}
    for label in classes:
        n = int((gt == label).sum())
        targets[int(label)] = (pixels_per_class(train_size, n), pixels_per_class(val_size, n))
        if sum(targets[int(label)]) >= n:
            raise too_few_pixels(int(label), n, *targets[int(label)])

    failure = ""
    attempts = 0
    result = None
    for drop_val in (False, True) if val_size else (False,):
        for _ in range(_ATTEMPTS):
            attempts += 1
            outcome = _disjoint_attempt(gt, targets, radius, rng, drop_val=drop_val)
            if not isinstance(outcome, str):
                result = outcome
                break
            failure = outcome
        if result is not None:
            break
    if result is None:
        raise ValueError(
            f"{failure} (after {attempts} seeded attempts with patch_size={patch_size}, guard "
            f"band {radius} pixels). The class's regions are too small or too close to "
            "other classes' training blocks: try a smaller patch_size, a smaller "
            "train_size/val_size, or split_random (and report its leakage)."
        )
    train_mask, val_mask, test_mask, no_val = result
    if no_val:
        warnings.warn(
            f"split_disjoint: classes {no_val} are too small to hold training, validation and "
            f"test pixels {radius} pixels apart (patch_size={patch_size}); they have no "
            "validation pixels (recorded in split.info['classes_without_val']). Use a smaller "
            "patch_size or val_size=0 to avoid this.",
            SplitWarning,
            stacklevel=2,
        )
    kept = int(train_mask.sum() + val_mask.sum() + test_mask.sum())
    info = {
        "seed": seed,
        "train_size": train_size,
        "val_size": val_size,
        "patch_size": patch_size,
        "guard": radius,
        "guard_dropped": int(labelled.sum()) - kept,
        "attempts": attempts,
        "classes_without_val": no_val,
    }
    logger.info("disjoint split: %s", info)
    return Split(
        train=np.argwhere(train_mask), val=np.argwhere(val_mask), test=np.argwhere(test_mask),
        shape=gt.shape, method="disjoint", info=info,
    )

