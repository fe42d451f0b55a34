"""Figures of a run: the classification map and the confusion matrix.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``)
and never through ``pyplot``: no global figure registry, no GUI backend, nothing to
``show()`` or close. matplotlib is imported lazily, so importing hsi_attn stays fast.
:func:`save_figure` writes a PNG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hsi_attn.config import RunConfig
from hsi_attn.engine.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hsi_attn.data import Scene

__all__ = ["class_colors", "class_labels", "plot_classification_map", "plot_confusion",
           "save_figure", "write_run_figures"]


def class_colors(n_classes: int) -> np.ndarray:
    """RGBA colours ``(K + 1, 4)``: black for label 0 (unlabelled), then one per class."""
    from matplotlib import colormaps

    palette = colormaps["tab20"].colors if n_classes <= 20 else None
    if palette is not None:
        # tab20 reordered so that neighbouring class ids get contrasting colours.
        order = [*range(0, 20, 2), *range(1, 20, 2)]
        colors = np.array([(*palette[i], 1.0) for i in order[:n_classes]])
    else:
        colors = colormaps["gist_ncar"](np.linspace(0.05, 0.95, n_classes))
    return np.vstack([[0.0, 0.0, 0.0, 1.0], colors])


def class_labels(class_names: Sequence[str], class_codes: Sequence[int] | None = None
                 ) -> list[str]:
    """Legend and axis labels: each class's code and name (``"12 Corn-notill"``).

    Args:
        class_names: Names of classes ``1..K``.
        class_codes: The user's code of each class; default ``1..K``.
    """
    codes = list(class_codes) if class_codes is not None else range(1, len(class_names) + 1)
    if len(codes) != len(class_names):
        raise ValueError(f"{len(codes)} class codes given for {len(class_names)} class names")
    return [str(c) if str(n) == str(c) else f"{c} {n}"
            for c, n in zip(codes, class_names, strict=True)]


def _label_image(labels: np.ndarray, colors: np.ndarray) -> np.ndarray:
    return colors[np.clip(labels, 0, len(colors) - 1)]


def plot_classification_map(
    prediction: np.ndarray,
    class_names: Sequence[str],
    *,
    gt: np.ndarray | None = None,
    title: str | None = None,
    class_codes: Sequence[int] | None = None,
) -> Figure:
    """Ground truth, prediction and prediction on labelled pixels, side by side.

    Args:
        prediction: ``(H, W)`` classes ``1..K`` (0 = not classified).
        class_names: Names of classes ``1..K`` for the legend.
        gt: ``(H, W)`` ground truth classes (0 = unlabelled); None shows the prediction
            only.
        title: Figure title.
        class_codes: The user's code of each class, shown in the legend
            (``"12 Corn-notill"``); default ``1..K``.

    Returns:
        The figure (nothing is shown).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    colors = class_colors(len(class_names))
    panels: list[tuple[str, np.ndarray]] = []
    if gt is not None:
        panels.append(("ground truth", gt))
    panels.append(("prediction", prediction))
    if gt is not None:
        panels.append(("prediction on labelled pixels", np.where(gt > 0, prediction, 0)))
    height, width = prediction.shape
    panel_w = 3.2 * max(0.5, min(2.0, width / max(height, 1)))
    fig = Figure(figsize=(panel_w * len(panels) + 3.0, 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, labels) in zip(axes, panels, strict=True):
        ax.imshow(_label_image(labels, colors), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    handles = [Patch(color=colors[k + 1], label=label)
               for k, label in enumerate(class_labels(class_names, class_codes))]
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_confusion(
    confusion: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    *,
    title: str | None = None,
    class_codes: Sequence[int] | None = None,
) -> Figure:
    """Row-normalised confusion matrix (recall per true class) with counts in the cells.

    Args:
        confusion: ``(K, K)`` counts, rows true, columns predicted.
        class_names: K class names.
        title: Figure title.
        class_codes: The user's code of each class, labelling the axes; default ``1..K``.
    """
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=np.int64)
    k = counts.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts / counts.sum(axis=1, keepdims=True)
    side = min(14.0, 3.0 + 0.45 * k)
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.nan_to_num(rates), cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(k)
    labels = class_labels(class_names, class_codes)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    dark = np.nan_to_num(rates[i, j]) > 0.6
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if dark else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=dpi)
    return path


def write_run_figures(out: Path, prediction: np.ndarray, scene: Scene, metrics: dict[str, Any],
                      config: RunConfig) -> None:
    """Write a run's ``map.png`` and ``confusion.png``, titled with its test metrics.

    ``prediction`` holds classes ``1..K``; legends and axes show the scene's codes.
    """
    title = (f"{scene.name} | {config.model.name} + {config.model.attention} | "
             f"OA {100 * (metrics['oa'] or 0):.2f}%  AA {100 * (metrics['aa'] or 0):.2f}%  "
             f"kappa {metrics['kappa'] or 0:.4f}")
    save_figure(plot_classification_map(prediction, scene.class_names, gt=scene.gt, title=title,
                                        class_codes=scene.class_codes), out / "map.png")
    save_figure(plot_confusion(metrics["confusion"], scene.class_names, title=title,
                               class_codes=scene.class_codes), out / "confusion.png")
