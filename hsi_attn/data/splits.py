"""Train/validation/test splits over a ground-truth map, stratified per class.

Every split returns a :class:`Split` of ``(n, 2)`` int64 ``(row, col)`` coordinates.

- :func:`split_random`: the usual random pixel split. Its training patches overlap
  test pixels; :func:`hsi_attn.data.leakage.leakage` measures how much.
- :func:`split_disjoint`: compact blocks of each class (whole fields, or one end of a
  field) go to one set, and a guard band of ``patch_size // 2`` pixels separates the
  sets, so no training patch contains a validation or test pixel and no validation
  patch contains a test pixel.
- :func:`split_from_masks`: masks the user already has.
- :class:`SpatialKFold`: a scikit-learn CV splitter with spatially disjoint folds.

Sizes: a float in (0, 1) is a fraction of each class, rounded, with at least one
pixel; an int is a count per class. Every class present in ``gt`` keeps at least one
training and one test pixel, and one validation pixel when a validation set is asked
for (except that :func:`split_disjoint` may leave a class too small for its guard band
out of validation, with a :class:`SplitWarning`); a request that cannot meet this
raises ValueError naming the class.
Reference for why random splits mislead: Nalepa, Myller & Kawulok, "Validating
Hyperspectral Image Segmentation", IEEE GRSL 2019, https://arxiv.org/abs/1811.03707.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from hsi_attn.data.leakage import dilate
from hsi_attn.data.patches_geometry import check_patch_size
from hsi_attn.data.readers import check_labels
from hsi_attn.data.spatial_cv import SpatialKFold

logger = logging.getLogger(__name__)

SUBSETS = ("train", "val", "test")

__all__ = [
    "SUBSETS",
    "SpatialKFold",
    "Split",
    "SplitWarning",
    "split_disjoint",
    "split_from_masks",
    "split_random",
]


@dataclass(frozen=True, eq=False)
class Split:
    """Pixel coordinates of the training, validation and test sets.

    Attributes:
        train: ``(n_train, 2)`` int64 ``(row, col)``, row-major order.
        val: ``(n_val, 2)`` int64 (may be empty).
        test: ``(n_test, 2)`` int64.
        shape: ``(H, W)`` of the ground truth the split was made on.
        method: ``"random"``, ``"disjoint"`` or ``"masks"``.
        info: Extra facts (seed, block size, pixels dropped by the guard band, ...).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    shape: tuple[int, int]
    method: str = "masks"
    info: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SUBSETS:
            coords = np.asarray(getattr(self, name), dtype=np.int64).reshape(-1, 2)
            coords.setflags(write=False)
            object.__setattr__(self, name, coords)
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    def masks(self, gt: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three sets as ``(H, W)`` maps.

        Args:
            gt: Ground truth; when given the maps are int64 label masks (the pixel's
                label inside the set, 0 elsewhere), otherwise boolean masks.

        Returns:
            ``(train, val, test)`` maps.
        """
        if gt is not None:
            gt = check_labels(gt, source="gt")
            if gt.shape != self.shape:
                raise ValueError(f"gt has shape {gt.shape}, the split was made on {self.shape}")
        out = []
        for name in SUBSETS:
            coords = getattr(self, name)
            if gt is None:
                mask = np.zeros(self.shape, dtype=bool)
                mask[coords[:, 0], coords[:, 1]] = True
            else:
                mask = np.zeros(self.shape, dtype=np.int64)
                mask[coords[:, 0], coords[:, 1]] = gt[coords[:, 0], coords[:, 1]]
            out.append(mask)
        return out[0], out[1], out[2]

    def labels(self, gt: np.ndarray, subset: str) -> np.ndarray:
        """Labels ``1..K`` of one subset's pixels, in the subset's order.

        Args:
            gt: Ground truth the split was made on.
            subset: ``"train"``, ``"val"`` or ``"test"``.
        """
        if subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
        coords = getattr(self, subset)
        return np.asarray(gt)[coords[:, 0], coords[:, 1]].astype(np.int64)

    def class_counts(self, gt: np.ndarray) -> dict[str, np.ndarray]:
        """Pixels per class ``1..K`` in each subset, as ``{subset: (K,) int64}``."""
        k = int(np.asarray(gt).max())
        return {
            name: np.bincount(self.labels(gt, name), minlength=k + 1)[1:] for name in SUBSETS
        }


# -- sizes ---------------------------------------------------------------------------


def _check_size(value: float | int, *, name: str, allow_zero: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{name} must be a float in (0, 1) (fraction per class) or a positive int "
            f"(pixels per class), got {type(value).__name__} {value!r}"
        )
    if isinstance(value, numbers.Integral):
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(
                f"{name}={value!r}: an int is a number of pixels per class and must be >= 1"
                + (" (or 0 for none)" if allow_zero else "")
            )
        return int(value)
    value = float(value)
    if allow_zero and value == 0.0:
        return 0.0
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"{name}={value!r}: a float is a fraction of each class and must lie in (0, 1). "
            f"For {value:g}% write {value / 100:g}; for {value:g} pixels per class pass the "
            f"int {int(value)}."
            if value >= 1.0 and value == int(value)
            else f"{name}={value!r}: a float is a fraction of each class and must lie in "
            "(0, 1); an int is a count per class."
        )
    return value


def _count(size: float | int, n_pixels: int) -> int:
    """Pixels per class for a size; fractions round half up with a minimum of one."""
    if isinstance(size, int):
        return size
    if size == 0.0:
        return 0
    return max(1, int(np.floor(size * n_pixels + 0.5)))


def _prepare_gt(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt = check_labels(gt, source="gt")
    classes = np.unique(gt[gt > 0])
    if classes.size == 0:
        raise ValueError("gt has no labelled pixels (every value is 0); nothing to split")
    return gt, classes


def _too_few(label: int, available: int, n_train: int, n_val: int, extra: str = "") -> ValueError:
    need = n_train + n_val + 1
    return ValueError(
        f"class {label} has {available} usable pixels, too few for {n_train} training"
        + (f" + {n_val} validation" if n_val else "")
        + f" + at least 1 test pixel (needs {need}). Lower train_size/val_size, or pass a "
        f"fraction instead of a count.{extra}"
    )


def _sorted(coords: list[np.ndarray]) -> np.ndarray:
    if not coords:
        return np.zeros((0, 2), dtype=np.int64)
    stacked = np.concatenate(coords).astype(np.int64).reshape(-1, 2)
    order = np.lexsort((stacked[:, 1], stacked[:, 0]))
    return stacked[order]


# -- random --------------------------------------------------------------------------


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
    train_size = _check_size(train_size, name="train_size", allow_zero=False)
    val_size = _check_size(val_size, name="val_size", allow_zero=True)
    gt, classes = _prepare_gt(gt)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SUBSETS}
    for label in classes:
        coords = np.argwhere(gt == label)
        n = len(coords)
        n_train, n_val = _count(train_size, n), _count(val_size, n)
        if n_train + n_val >= n:
            raise _too_few(int(label), n, n_train, n_val)
        order = rng.permutation(n)
        parts["train"].append(coords[order[:n_train]])
        parts["val"].append(coords[order[n_train:n_train + n_val]])
        parts["test"].append(coords[order[n_train + n_val:]])
    return Split(
        train=_sorted(parts["train"]), val=_sorted(parts["val"]), test=_sorted(parts["test"]),
        shape=gt.shape, method="random",
        info={"seed": seed, "train_size": train_size, "val_size": val_size},
    )


# -- spatially disjoint --------------------------------------------------------------


def _components(mask: np.ndarray) -> list[np.ndarray]:
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


def _cut(region: np.ndarray, need: int, rng: np.random.Generator, radius: int) -> np.ndarray:
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


def _take_regions(
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
            picked.append(_cut(regions[index], need, rng, radius))
            need = 0
        else:
            index = max(left, key=lambda i: len(regions[i]))
            take = regions[index] if len(left) > 1 else _cut(regions[index], need, rng, radius)
            picked.append(take)
            left.remove(index)
            need -= len(take)
    return np.concatenate(picked) if picked else np.zeros((0, 2), dtype=np.int64)


def _mark(shape: tuple[int, int], coords: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for part in coords:
        mask[part[:, 0], part[:, 1]] = True
    return mask


_ATTEMPTS = 20
"""Seeded attempts :func:`split_disjoint` makes before it reports a class it cannot serve."""


class SplitWarning(UserWarning):
    """A split could not honour part of a request (e.g. a class left out of validation)."""


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
        _take_regions(_components(gt == label), targets[label][0], rng, radius)
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
            val_parts[label] = _take_regions(_components(pool), targets[label][1], rng, radius)

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


def split_disjoint(
    gt: np.ndarray,
    train_size: float | int,
    *,
    patch_size: int,
    seed: int,
    val_size: float | int = 0.0,
) -> Split:
    """Spatially disjoint split: contiguous blocks per class, separated by a guard band.

    For each class, its 8-connected regions (fields) are the blocks. Training takes
    whole regions, in a seeded random order, while they fit the class's request; the
    rest is cut from one end of a region (along a seeded random direction), so the
    training pixels of a class form compact blocks rather than scattered pixels, and
    at least part of one region is always left for testing. Validation is taken the
    same way from what lies outside the training guard band. Then the guard band of
    ``g = patch_size // 2`` pixels (Chebyshev distance) is applied across classes:
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

    Returns:
        A :class:`Split` with ``method="disjoint"``.

    Raises:
        ValueError: On bad sizes, an even patch size, or when a class ends with no
            training or test pixel, which happens when a class's only region is too
            small for the guard band; the message suggests a fix.

    Warns:
        SplitWarning: When classes had to be left out of the validation set.
    """
    train_size = _check_size(train_size, name="train_size", allow_zero=False)
    val_size = _check_size(val_size, name="val_size", allow_zero=True)
    radius = check_patch_size(patch_size) // 2
    gt, classes = _prepare_gt(gt)
    rng = np.random.default_rng(seed)
    labelled = gt > 0

    targets = {}
    for label in classes:
        n = int((gt == label).sum())
        targets[int(label)] = (_count(train_size, n), _count(val_size, n))
        if sum(targets[int(label)]) >= n:
            raise _too_few(int(label), n, *targets[int(label)])

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


# -- user masks ----------------------------------------------------------------------


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
