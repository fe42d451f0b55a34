"""Classification metrics used in hyperspectral papers, and their summary over runs.

* overall accuracy (OA): fraction of test pixels labelled correctly;
* per-class accuracy: recall of each class (diagonal over row sums of the confusion
  matrix; NaN for a class with no test pixels);
* average accuracy (AA): mean per-class accuracy over the classes present in ``y_true``;
* Cohen's kappa: agreement corrected for chance (Cohen 1960);
* confusion matrix: rows are true classes, columns predicted classes.

Labels are integers ``0 .. n_classes - 1`` (the scene's class ``k`` is label ``k - 1``;
unlabelled pixels never reach these functions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "average_accuracy",
    "classification_metrics",
    "cohen_kappa",
    "confusion_matrix",
    "overall_accuracy",
    "per_class_accuracy",
    "summarize_runs",
]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Count matrix ``C[i, j]`` = number of samples of true class i predicted as j.

    Args:
        y_true: Integer labels, any shape.
        y_pred: Integer predictions, same shape.
        n_classes: Number of classes K; labels must lie in ``[0, K)``.

    Returns:
        ``(K, K)`` int64 array.

    Raises:
        ValueError: On mismatched shapes or labels outside ``[0, n_classes)``.
    """
    true = np.asarray(y_true).reshape(-1)
    pred = np.asarray(y_pred).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} labels but y_pred has {pred.size}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    for name, values in (("y_true", true), ("y_pred", pred)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(
                f"{name} holds labels in [{values.min()}, {values.max()}], outside "
                f"[0, {n_classes - 1}] for n_classes={n_classes}"
            )
    flat = true.astype(np.int64) * n_classes + pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def overall_accuracy(confusion: np.ndarray) -> float:
    """Fraction of samples on the diagonal (NaN for an empty matrix)."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else math.nan


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class; NaN where a class has no true samples."""
    support = confusion.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)


def average_accuracy(confusion: np.ndarray) -> float:
    """Mean per-class recall over the classes that have true samples."""
    recalls = per_class_accuracy(confusion)
    present = recalls[~np.isnan(recalls)]
    return float(present.mean()) if present.size else math.nan


def cohen_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)`` from a confusion matrix."""
    total = confusion.sum()
    if not total:
        return math.nan
    observed = np.trace(confusion) / total
    expected = float((confusion.sum(axis=0) * confusion.sum(axis=1)).sum()) / float(total) ** 2
    if expected == 1.0:
        # Only one class in truth and prediction: sklearn's convention.
        return 1.0 if observed == 1.0 else 0.0
    return float((observed - expected) / (1.0 - expected))


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int,
    class_names: Sequence[str] | None = None,
    class_codes: Sequence[int] | None = None,
) -> dict[str, Any]:
    """All metrics as a JSON-ready dict.

    Args:
        y_true: True labels in ``[0, n_classes)``.
        y_pred: Predicted labels, same shape.
        n_classes: Number of classes K.
        class_names: Optional K names for the per-class entries.
        class_codes: The user's code of each class (the ground truth's own values);
            default ``1..K``.

    Returns:
        ``{"oa", "aa", "kappa", "n_samples", "per_class": [{"class", "code", "name",
        "accuracy", "support"}, ...], "confusion": K x K nested list}`` (rows true,
        columns predicted, both in ``per_class`` order); NaN becomes None. ``class``
        is the 0-based index, ``code`` the ground truth's value for it.
    """
    confusion = confusion_matrix(y_true, y_pred, n_classes)
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"{len(class_names)} class names given for {n_classes} classes")
    if class_codes is not None and len(class_codes) != n_classes:
        raise ValueError(f"{len(class_codes)} class codes given for {n_classes} classes")
    names = list(class_names) if class_names is not None else [str(k) for k in range(n_classes)]
    codes = ([int(c) for c in class_codes] if class_codes is not None
             else list(range(1, n_classes + 1)))
    recalls = per_class_accuracy(confusion)
    support = confusion.sum(axis=1)
    return {
        "oa": _json_float(overall_accuracy(confusion)),
        "aa": _json_float(average_accuracy(confusion)),
        "kappa": _json_float(cohen_kappa(confusion)),
        "n_samples": int(confusion.sum()),
        "per_class": [
            {"class": k, "code": codes[k], "name": names[k],
             "accuracy": _json_float(recalls[k]), "support": int(support[k])}
            for k in range(n_classes)
        ],
        "confusion": confusion.tolist(),
    }


def summarize_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± standard deviation of OA, AA, kappa and per-class accuracy over runs.

    The standard deviation is the sample one (``ddof=1``; 0.0 for a single run).

    Args:
        runs: Dicts from :func:`classification_metrics`, one per seed.

    Returns:
        ``{"n_runs", "oa": {"mean", "std", "values"}, "aa": ..., "kappa": ...,
        "per_class": [{"class", "code", "name", "mean", "std"}, ...]}``.

    Raises:
        ValueError: If ``runs`` is empty or the runs disagree on the classes.
    """
    if not runs:
        raise ValueError("summarize_runs needs at least one run's metrics")
    summary: dict[str, Any] = {"n_runs": len(runs)}
    for key in ("oa", "aa", "kappa"):
        values = [_nan_if_none(run[key]) for run in runs]
        summary[key] = {**_mean_std(values), "values": [_json_float(v) for v in values]}
    per_class = [run.get("per_class", []) for run in runs]
    if len({len(p) for p in per_class}) != 1:
        raise ValueError("runs have different numbers of classes; summarize one scene at a time")
    summary["per_class"] = [
        {"class": entry["class"], **({"code": entry["code"]} if "code" in entry else {}),
         "name": entry["name"], **_mean_std([_nan_if_none(p[k]["accuracy"]) for p in per_class])}
        for k, entry in enumerate(per_class[0])
    ]
    return summary


def _mean_std(values: Sequence[float]) -> dict[str, float | None]:
    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    if not array.size:
        return {"mean": None, "std": None}
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "std": std}


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _json_float(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
