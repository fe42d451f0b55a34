"""The :class:`Split` every splitter returns, and the per-class size rules they share.

Sizes: a float in (0, 1) is a fraction of each class, rounded, with at least one
pixel; an int is a count per class.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from hsi_attn.data.readers import check_labels

SUBSETS = ("train", "val", "test")

__all__ = [
    "SUBSETS",
    "Split",
    "SplitWarning",
    "check_size",
    "labelled_classes",
    "pixels_per_class",
    "row_major",
    "too_few_pixels",
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


class SplitWarning(UserWarning):
    """A split could not honour part of a request (e.g. a class left out of validation)."""


def check_size(value: float | int, *, name: str, allow_zero: bool) -> float | int:
    """``value`` as an int count or a float fraction; ValueError naming ``name`` otherwise."""
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


def pixels_per_class(size: float | int, n_pixels: int) -> int:
    """Pixels per class for a size; fractions round half up with a minimum of one."""
    if isinstance(size, int):
        return size
    if size == 0.0:
        return 0
    return max(1, int(np.floor(size * n_pixels + 0.5)))


def labelled_classes(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``gt`` and its labels above 0; ValueError when nothing is labelled."""
    gt = check_labels(gt, source="gt")
    classes = np.unique(gt[gt > 0])
    if classes.size == 0:
        raise ValueError("gt has no labelled pixels (every value is 0); nothing to split")
    return gt, classes


def too_few_pixels(
    label: int, available: int, n_train: int, n_val: int, extra: str = ""
) -> ValueError:
    """The error for a class with too few pixels for the request (returned, not raised)."""
    need = n_train + n_val + 1
    return ValueError(
        f"class {label} has {available} usable pixels, too few for {n_train} training"
        + (f" + {n_val} validation" if n_val else "")
        + f" + at least 1 test pixel (needs {need}). Lower train_size/val_size, or pass a "
        f"fraction instead of a count.{extra}"
    )


def row_major(coords: list[np.ndarray]) -> np.ndarray:
    """The ``(row, col)`` parts joined into one int64 array in row-major order."""
    if not coords:
        return np.zeros((0, 2), dtype=np.int64)
    stacked = np.concatenate(coords).astype(np.int64).reshape(-1, 2)
    order = np.lexsort((stacked[:, 1], stacked[:, 0]))
    return stacked[order]

