"""Spatially disjoint cross-validation folds for scikit-learn.

Random K-fold over pixels lets every test fold sit inside the training patches of
its neighbours. :class:`SpatialKFold` assigns whole square blocks to folds and drops
from each training fold the pixels within ``patch_size // 2`` (Chebyshev distance) of
the test fold, so no training patch contains a test pixel.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np

from hsi_attn.data.leakage import dilate
from hsi_attn.data.patches_geometry import check_patch_size


class SpatialKFold:
    """K-fold over pixel coordinates with spatially disjoint folds and a guard band.

    Args:
        n_splits: Number of folds (>= 2).
        patch_size: Odd patch side the model uses; the guard band is ``patch_size // 2``.
        block_size: Side of the square blocks dealt to folds; default
            ``max(8, patch_size)``.
        shuffle: Deal blocks in a seeded random order (else row-major order).
        random_state: Seed used when ``shuffle`` is True.

    ``split(X)`` takes ``X`` as ``(n, 2)`` integer ``(row, col)`` pixel coordinates (the
    rows of ``X`` are the samples); ``y`` and ``groups`` are ignored. Training indices
    exclude the guard band around the test fold, so folds are not a partition of the
    training side: ``len(train) + len(test) <= n``.

    It follows scikit-learn's splitter protocol (``split``, ``get_n_splits``) without
    importing scikit-learn, so ``cross_val_score(est, X, y, cv=SpatialKFold(...))``
    works and ``import hsi_attn.data`` stays light.
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        patch_size: int,
        block_size: int | None = None,
        shuffle: bool = True,
        random_state: int | None = None,
    ) -> None:
        self.n_splits = n_splits
        self.patch_size = patch_size
        self.block_size = block_size
        self.shuffle = shuffle
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"SpatialKFold(n_splits={self.n_splits}, patch_size={self.patch_size}, "
            f"block_size={self.block_size}, shuffle={self.shuffle}, "
            f"random_state={self.random_state})"
        )

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """Number of folds."""
        return int(self.n_splits)

    def _coords(self, X: object) -> np.ndarray:
        coords = np.asarray(X)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(
                f"SpatialKFold.split expects X as (n, 2) (row, col) pixel coordinates, got "
                f"shape {coords.shape}. Pass the coordinates (e.g. split.train), not patches."
            )
        if coords.dtype.kind == "f" and not np.all(coords == np.round(coords)):
            raise ValueError("SpatialKFold: X holds non-integer coordinates")
        coords = coords.astype(np.int64)
        if coords.size and coords.min() < 0:
            raise ValueError("SpatialKFold: X holds negative coordinates")
        return coords

    def split(
        self, X: object, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, test_indices)`` into the rows of ``X``, one per fold.

        Raises:
            ValueError: On bad ``X``, ``n_splits < 2``, an even patch size, or fewer
                non-empty blocks than folds.
        """
        if isinstance(self.n_splits, bool) or not isinstance(self.n_splits, numbers.Integral) \
                or self.n_splits < 2:
            raise ValueError(f"n_splits must be an int >= 2, got {self.n_splits!r}")
        radius = check_patch_size(self.patch_size) // 2
        size = max(8, self.patch_size) if self.block_size is None else int(self.block_size)
        if size < 1:
            raise ValueError(f"block_size must be a positive int, got {self.block_size!r}")
        coords = self._coords(X)
        block_rc = coords // size
        _, block = np.unique(block_rc, axis=0, return_inverse=True)
        block = block.ravel()
        sizes = np.bincount(block)
        if len(sizes) < self.n_splits:
            raise ValueError(
                f"only {len(sizes)} blocks of {size}x{size} pixels hold samples, fewer than "
                f"n_splits={self.n_splits}; lower n_splits or block_size"
            )
        order = np.arange(len(sizes))
        if self.shuffle:
            order = np.random.default_rng(self.random_state).permutation(order)
        fold_of_block = np.empty(len(sizes), dtype=np.int64)
        load = np.zeros(self.n_splits, dtype=np.int64)
        for b in order:
            k = int(np.argmin(load))
            fold_of_block[b] = k
            load[k] += sizes[b]
        fold = fold_of_block[block]
        shape = tuple(int(v) for v in coords.max(axis=0) + 1)
        for k in range(self.n_splits):
            test = np.flatnonzero(fold == k)
            mask = np.zeros(shape, dtype=bool)
            mask[coords[test, 0], coords[test, 1]] = True
            near = dilate(mask, radius)[coords[:, 0], coords[:, 1]]
            train = np.flatnonzero((fold != k) & ~near)
            yield train, test
