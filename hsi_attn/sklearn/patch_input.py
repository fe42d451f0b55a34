"""What ``X`` and ``y`` :class:`~hsi_attn.sklearn.HSIClassifier` accepts.

``X`` comes as ``(n, B, p, p)`` patches, ``(n, B)`` spectra (1 x 1 patches) or
``(n, B*p*p)`` flattened patches that ``n_bands`` or ``patch_size`` says how to
unflatten; every layout becomes ``(n, B, p, p)`` patches here, and then the
``(b, 1, B, p, p)`` batches the network reads. ``y`` may hold labels of any type; they
become indices into the sorted classes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    check_X_y,
    column_or_1d,
    validate_data,
)

from hsi_attn.checks import check_int
from hsi_attn.data.batches import PatchSource

__all__ = [
    "as_fitted_patches",
    "as_patches",
    "patch_batches",
    "patch_source",
    "prediction_patches",
    "training_data",
    "unflattened_shape",
]


def training_data(
    estimator: Any, X: ArrayLike, y: ArrayLike, *, reset: bool, classes: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check ``X, y`` for fitting ``estimator``.

    Args:
        estimator: The estimator; :func:`~sklearn.utils.validation.validate_data`
            records ``n_features_in_`` (and ``feature_names_in_``) on it when ``reset``.
        X: Patches, spectra or flattened patches.
        y: Labels ``(n,)``.
        reset: True on a first fit (find the layout and the classes), False when
            training continues (check them against the fitted ones).
        classes: Every class that will be seen (``partial_fit``), or None.

    Returns:
        Patches ``(n, B, p, p)``, label indices into the classes, and the classes.
    """
    validate_data(estimator, X, y, skip_check_array=True, ensure_2d=False, reset=reset)
    X, y = check_X_y(X, y, allow_nd=True, dtype=np.float32, estimator=estimator)
    check_classification_targets(y)
    name = type(estimator).__name__
    if reset:
        patches = as_patches(
            X, name=name, n_bands=estimator.n_bands, patch_size=estimator.patch_size
        )
        if classes is None:
            classes = np.unique(y)
        else:
            classes = np.unique(column_or_1d(np.asarray(classes)))
        if len(classes) < 2:
            raise ValueError(
                f"{name} needs at least 2 classes to learn, got 1 class "
                f"({classes[0]!r}); check the labels y (or the `classes` argument)"
            )
    else:
        patches = _as_fitted(estimator, X)
        if classes is not None and not np.array_equal(
            np.unique(column_or_1d(np.asarray(classes))), estimator.classes_
        ):
            raise ValueError(
                f"classes={np.asarray(classes).tolist()!r} differs from the classes "
                f"of the first partial_fit call {estimator.classes_.tolist()!r}"
            )
        classes = estimator.classes_
    unknown = np.setdiff1d(np.unique(y), classes)
    if len(unknown):
        raise ValueError(
            f"y holds labels {unknown.tolist()!r} that are not in classes "
            f"{np.asarray(classes).tolist()!r}; pass every class in `classes` on the "
            "first partial_fit call"
        )
    y_index = np.searchsorted(classes, y).astype(np.int64)
    return patches, y_index, classes


def prediction_patches(estimator: Any, X: ArrayLike) -> np.ndarray:
    """Check ``X`` for a fitted ``estimator``'s predictions; return ``(n, B, p, p)``.

    Raises:
        NotFittedError: Before the estimator is fitted.
        ValueError: On NaN/Inf or a sample shape other than the fitted one.
    """
    check_is_fitted(estimator)
    validate_data(estimator, X, skip_check_array=True, ensure_2d=False, reset=False)
    X = check_array(X, allow_nd=True, dtype=np.float32, estimator=estimator)
    return _as_fitted(estimator, X)


def _as_fitted(estimator: Any, X: np.ndarray) -> np.ndarray:
    return as_fitted_patches(
        X,
        name=type(estimator).__name__,
        n_bands=estimator.n_bands_,
        patch_size=estimator.patch_size_,
        n_features=estimator.n_features_in_,
    )


def _check_rank(X: np.ndarray, name: str) -> None:
    if X.ndim not in (2, 4):
        raise ValueError(
            f"{name} takes X as (n, B, p, p) patches, (n, B) spectra or (n, B*p*p) "
            f"flattened patches; got an array of shape {X.shape}"
        )


def as_patches(
    X: np.ndarray, *, name: str, n_bands: int | None, patch_size: int | None
) -> np.ndarray:
    """View checked ``X`` as ``(n, B, p, p)``, finding B and p (in fit).

    Args:
        X: Checked float array, 2-D or 4-D.
        name: The estimator's class name, for messages.
        n_bands: The ``n_bands`` parameter (None: read it from ``X``).
        patch_size: The ``patch_size`` parameter (None: read it from ``X``).

    Raises:
        ValueError: On another rank, non-square patches, or a layout that disagrees
            with ``n_bands``/``patch_size``.
    """
    _check_rank(X, name)
    if X.ndim == 4:
        bands, side, other = X.shape[1:]
        if side != other:
            raise ValueError(f"{name} needs square patches (n, B, p, p), got shape {X.shape}")
    else:
        bands, side = unflattened_shape(X.shape[1], n_bands=n_bands, patch_size=patch_size)
    if n_bands is not None and bands != n_bands:
        raise ValueError(f"X has {bands} bands but n_bands={n_bands!r}")
    if patch_size is not None and side != patch_size:
        raise ValueError(
            f"X holds {side}x{side} patches but patch_size={patch_size!r}; "
            "set patch_size=None to take it from X"
        )
    return X.reshape(len(X), bands, side, side)


def as_fitted_patches(
    X: np.ndarray, *, name: str, n_bands: int, patch_size: int, n_features: int
) -> np.ndarray:
    """View checked ``X`` as ``(n, B, p, p)`` with the fitted B and p, or raise ValueError.

    Args:
        X: Checked float array, 2-D or 4-D.
        name: The estimator's class name, for messages.
        n_bands: Fitted number of bands B.
        patch_size: Fitted patch side p.
        n_features: Fitted ``B * p * p``.
    """
    _check_rank(X, name)
    got = int(np.prod(X.shape[1:]))
    if got != n_features or (X.ndim == 4 and X.shape[1:] != (n_bands, patch_size, patch_size)):
        layout = f" (patches of shape {X.shape[1:]})" if X.ndim == 4 else ""
        raise ValueError(
            f"X has {got} features, but {name} is expecting {n_features} "
            f"features as input{layout}; it was fitted on {n_bands} bands and "
            f"{patch_size}x{patch_size} patches"
        )
    return X.reshape(len(X), n_bands, patch_size, patch_size)


def unflattened_shape(
    n_columns: int, *, n_bands: int | None, patch_size: int | None
) -> tuple[int, int]:
    """(B, p) of 2-D ``X`` with ``n_columns`` columns, from ``n_bands`` or ``patch_size``.

    Without either, the columns are spectra: ``(n_columns, 1)``.

    Raises:
        ValueError: If ``n_columns`` is not ``B * p * p`` for the given one.
    """
    if n_bands is not None:
        n_bands = check_int(n_bands, name="n_bands")
        area, rest = divmod(n_columns, n_bands)
        side = math.isqrt(area)
        if rest or side * side != area:
            raise ValueError(
                f"2-D X has {n_columns} columns, which is not n_bands * p * p for "
                f"n_bands={n_bands}; pass (n, B, p, p) patches or fix n_bands"
            )
        return n_bands, side
    if patch_size is not None:
        side = check_int(patch_size, name="patch_size")
        bands, rest = divmod(n_columns, side * side)
        if rest or bands == 0:
            raise ValueError(
                f"2-D X has {n_columns} columns, which is not B * {side} * {side} for "
                f"patch_size={side}; pass (n, B, p, p) patches or fix patch_size"
            )
        return bands, side
    return n_columns, 1


def patch_source(
    patches: np.ndarray, y_index: np.ndarray, *, batch_size: int, shuffle: bool
) -> PatchSource:
    """The engine's batches of ``(n, B, p, p)`` patches, as ``(b, 1, B, p, p)`` tensors.

    With ``shuffle`` (training), a last batch of one sample is dropped: it breaks
    BatchNorm in training mode.
    """
    x = torch.tensor(patches).unsqueeze(1)  # copy: the input may be read-only
    batch_size = int(batch_size)
    drop_last = shuffle and len(x) > batch_size and len(x) % batch_size == 1
    return PatchSource.from_tensors(
        x, torch.from_numpy(y_index), batch_size=batch_size, shuffle=shuffle,
        drop_last=drop_last,
    )


def patch_batches(patches: np.ndarray, size: int) -> Iterator[torch.Tensor]:
    """``(b, 1, B, p, p)`` tensors of ``size`` patches each, in order, for prediction."""
    return (torch.tensor(patches[i : i + size]).unsqueeze(1) for i in range(0, len(patches), size))
