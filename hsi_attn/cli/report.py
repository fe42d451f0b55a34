"""What the command line prints: results, summaries and listings as plain text.

Every function here takes plain data (metrics dicts, summaries, results) and returns
text; the subcommands print it to stdout. A summary over one seed shows the value alone
(a standard deviation over one run is not a spread).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hsi_attn.tuning.study import StudyResult

__all__ = ["experiment_cell_line", "listing", "mean_std", "metrics_text", "seed_line",
           "summary_text", "tune_summary"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _kappa(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def mean_std(mean: float | None, std: float | None, n: int, *, scale: float = 1.0,
             digits: int = 2, unit: str = "") -> str:
    """``"98.44 ± 0.31%"``, or ``"98.44%"`` for one run, or ``"n/a"`` with no value."""
    if mean is None:
        return "n/a"
    text = f"{scale * mean:.{digits}f}"
    if n > 1 and std is not None:
        text += f" ± {scale * std:.{digits}f}"
    return text + unit


def seed_line(metrics: dict[str, Any]) -> str:
    """One run of several: ``seed 3: OA 98.44%  AA 97.88%  kappa 0.9822``."""
    test = metrics["test"]
    return (f"seed {metrics['seed']}: OA {_pct(test['oa'])}  AA {_pct(test['aa'])}  "
            f"kappa {_kappa(test['kappa'])}")


def metrics_text(metrics: dict[str, Any]) -> str:
    """A run's test metrics: a heading (for a training run), per-class accuracy, OA/AA/kappa."""
    test = metrics.get("test", metrics)
    lines = []
    if "scene" in metrics:
        lines.append(
            f"{metrics['scene']}  {metrics['model']} + {metrics['attention']}  seed "
            f"{metrics['seed']}  ({metrics['n_train']} train / {metrics['n_val']} val / "
            f"{metrics['n_test']} test pixels, {metrics['epochs_run']} epochs, "
            f"{metrics['timing']['fit_seconds']:.0f} s training)"
        )
    if "self_training" in metrics:
        st = metrics["self_training"]
        added = ", ".join(f"round {r['round']} +{r['pseudo_labels']}, val OA "
                          f"{_pct(r['best_val_oa'])}" for r in st["rounds"][1:])
        pool = st["pool"] + (" pool, transductive" if st["transductive"] else " pool")
        lines.append(f"self-training ({pool}): {added}; kept round {st['kept_round']}")
    lines.append("per-class accuracy:")
    for entry in test["per_class"]:
        lines.append(f"  {entry['class'] + 1:>3} {entry['name']:<32} {_pct(entry['accuracy']):>8}"
                     f"  ({entry['support']} px)")
    lines.append(f"OA {_pct(test['oa'])}  AA {_pct(test['aa'])}  kappa {_kappa(test['kappa'])}")
    return "\n".join(lines)


def summary_text(summary: dict[str, Any]) -> str:
    """Several seeds of one configuration: ``2 runs (seeds 0, 1): OA 98.44 ± 0.31% ...``."""
    n = summary["n_runs"]

    def stat(key: str, label: str, scale: float, digits: int, unit: str) -> str:
        entry = summary[key]
        value = mean_std(entry["mean"], entry["std"], n, scale=scale, digits=digits, unit=unit)
        return f"{label} {value}"

    seeds = ", ".join(map(str, summary["seeds"]))
    runs = f"{n} runs (seeds {seeds})" if n != 1 else f"1 run (seed {seeds})"
    return (f"{runs}: {stat('oa', 'OA', 100, 2, '%')}  {stat('aa', 'AA', 100, 2, '%')}  "
            f"{stat('kappa', 'kappa', 1, 4, '')}")


def experiment_cell_line(cell: dict[str, Any]) -> str:
    """One cell of an experiment grid: ``scene/protocol model+attention: OA ... over n seeds``."""
    oa = cell["oa"]
    n = oa["n"]
    seeds = f"{n} seeds" if n != 1 else "1 seed"
    value = mean_std(oa["mean"], oa["std"], n, scale=100, unit=" %")
    return (f"{cell['scene']}/{cell['protocol']} {cell['model']}+{cell['attention']}: "
            f"OA {value} over {seeds}")


def tune_summary(result: StudyResult) -> str:
    """What ``hsi-attn tune`` shows when a study ends: trial counts, the best trial, outputs."""
    counts = ", ".join(f"{n} {k.lower()}" for k, n in result.counts.items() if n)
    lines = [
        f"study {result.study_name} ({result.storage}): {counts}",
        f"best trial {result.best_trial}: validation OA {100 * result.best_value:.2f}%  "
        f"params {result.best_params}",
    ]
    if result.test_oa is not None:
        lines.append(f"retrained best: test OA {100 * result.test_oa:.2f}%")
    lines.append(f"study directory: {result.study_dir}")
    return "\n".join(lines)


def listing(rows: Iterable[Sequence[str]]) -> str:
    """Rows of words as left-aligned columns (the last column is not padded)."""
    rows = [tuple(row) for row in rows]
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]])
        for row in rows
    )
