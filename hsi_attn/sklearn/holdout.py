"""The early-stopping hold-out of :class:`~hsi_attn.sklearn.HSIClassifier`.

Neighbouring pixels have overlapping patches and near-identical spectra, so a random
hold-out drawn from the patches of one scene (what
``MLPClassifier(early_stopping=True)`` does) sits inside the training patches: its
accuracy is optimistic and training stops late. Whole groups (spatial blocks) held
out avoid most of that overlap.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = ["early_stopping_holdout", "holdout_split"]

logger = logging.getLogger(__name__)


def holdout_split(
    y: ArrayLike,
    *,
    fraction: float,
    groups: ArrayLike | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into training and early-stopping validation parts.

    With ``groups``, whole groups go to validation (:class:`GroupShuffleSplit`), so no
    group has samples on both sides; spatial block ids as groups give a hold-out that
    no training patch overlaps. Without, a stratified random split (plain random when a
    class has a single sample or the hold-out is smaller than the number of classes).

    Args:
        y: Labels ``(n,)``.
        fraction: Fraction of the samples (of the groups, with ``groups``) to hold out.
        groups: Optional group label per sample.
        seed: Seed of the split.

    Returns:
        ``(train, validation)`` index arrays, disjoint, together all of ``range(n)``.

    Raises:
        ValueError: If either side would be empty, there are fewer than 2 groups, or
            ``groups`` and ``y`` differ in length.
    """
    y = column_or_1d(np.asarray(y))
    everything = np.arange(len(y))
    if groups is not None:
        groups = column_or_1d(np.asarray(groups))
        check_consistent_length(y, groups)
        if len(np.unique(groups)) < 2:
            raise ValueError(
                "early_stopping with groups needs at least 2 distinct groups, so whole "
                "groups can be held out for validation"
            )
        splitter: Any = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    else:
        _, counts = np.unique(y, return_counts=True)
        n_val = math.ceil(fraction * len(y))
        stratify = counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts)
        splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
            n_splits=1, test_size=fraction, random_state=seed
        )
    train, val = next(splitter.split(everything, y, groups))
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"validation_fraction={fraction} leaves an empty training or validation set "
            f"for {len(y)} samples; change it or set early_stopping=False"
        )
    return np.sort(train), np.sort(val)


def early_stopping_holdout(
    y: ArrayLike,
    *,
    fraction: float,
    groups: ArrayLike | None,
    seed: int,
    patch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`holdout_split` for ``fit(early_stopping=True)``.

    Logs a warning when patches (``patch_size > 1``) are held out at random, without
    ``groups``: the validation accuracy is then optimistic.
    """
    if groups is None and patch_size > 1:
        logger.warning(
            "early_stopping holds out a random %.0f%% of the patches; neighbouring "
            "patches overlap, so the validation accuracy is optimistic. Pass "
            "fit(..., groups=spatial_block_ids) for a spatially disjoint hold-out",
            100 * fraction,
        )
    return holdout_split(y, fraction=fraction, groups=groups, seed=seed)
