"""What a study leaves in its directory: trials.csv, best_params.json and PNG plots.

Every file records the command, the configuration, the package version and the device:
``best_params.json`` in its fields, ``trials.csv`` in ``#`` comment lines at the top
(read it with ``pandas.read_csv(path, comment="#")``), and each PNG in its text
metadata (``Description``). Files are written atomically (temporary file, then rename).

Plots come from :mod:`optuna.visualization.matplotlib`:

* ``optimization_history.png``: validation OA of every trial and the best so far;
* ``param_importances.png``: PED-ANOVA importances (Optuna's default evaluator, which
  also scores conditional parameters such as ``reduction`` and ``kernel_size``);
* ``reduction_kernel_size.png``: validation OA against the reduction ratio (SE-family
  trials) and the kernel size (ECA-family trials), side by side. The two knobs never
  occur in the same trial, so this is a slice view rather than a contour;
* ``intermediate_values.png``: the per-epoch validation OA curves, pruned ones included.

A plot that cannot be drawn yet (too few completed trials, no varying parameter) is
skipped with the reason recorded in ``best_params.json``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hsi_attn.engine.atomic import atomic_write, write_text_atomic

__all__ = ["PLOT_FILES", "write_plots", "write_trials_csv"]

logger = logging.getLogger(__name__)

PLOT_FILES = ("optimization_history.png", "param_importances.png",
              "reduction_kernel_size.png", "intermediate_values.png")


def write_trials_csv(study: optuna.Study, path: Path, provenance: dict[str, Any]) -> Path:
    """One row per trial: number, state, value, params, timing and user attributes.

    Args:
        study: The study.
        path: Destination.
        provenance: ``command``, ``hsi_attn_version``, ``device``, ``config``...: written
            as ``# key: value`` lines above the header.
    """
    trials = study.get_trials(deepcopy=False)
    params = sorted({name for t in trials for name in t.params})
    attrs = sorted({name for t in trials for name in t.user_attrs})
    fields = ["number", "state", "value", *[f"params_{p}" for p in params],
              "epochs_reported", "last_reported_epoch", "retry_of", "datetime_start",
              "datetime_complete", "duration_s", *[f"user_attrs_{a}" for a in attrs]]
    buffer = io.StringIO()
    for key, value in provenance.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        buffer.write(f"# {key}: {' '.join(str(text).split())}\n")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for t in trials:
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        row: dict[str, Any] = {
            "number": t.number, "state": t.state.name, "value": t.value,
            "epochs_reported": len(t.intermediate_values),
            "last_reported_epoch": max(t.intermediate_values, default=None),
            "retry_of": t.system_attrs.get("failed_trial"),
            "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
            "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
            "duration_s": duration,
        }
        row.update({f"params_{p}": t.params.get(p) for p in params})
        row.update({f"user_attrs_{a}": t.user_attrs.get(a) for a in attrs})
        writer.writerow(row)
    return write_text_atomic(path, buffer.getvalue())


def _save_png(fig: Any, path: Path, description: str) -> None:
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight",
                    metadata={"Description": description, "Software": "hsi_attn"})


def _present(study: optuna.Study, names: tuple[str, ...]) -> list[str]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [n for n in names if any(n in t.params for t in complete)]


def _plotters() -> dict[str, Callable[[optuna.Study], Any]]:
    from optuna.visualization import matplotlib as ovm

    def reduction_kernel(study: optuna.Study) -> Any:
        params = _present(study, ("kernel_size", "reduction"))
        if not params:
            raise ValueError("no completed trial has a reduction or kernel_size parameter")
        return ovm.plot_slice(study, params=params, target_name="validation OA")

    return {
        "optimization_history.png":
            lambda s: ovm.plot_optimization_history(s, target_name="validation OA"),
        "param_importances.png":
            lambda s: ovm.plot_param_importances(s, target_name="validation OA"),
        "reduction_kernel_size.png": reduction_kernel,
        "intermediate_values.png": ovm.plot_intermediate_values,
    }


def write_plots(study: optuna.Study, study_dir: Path, provenance: dict[str, Any]) -> dict[str, str]:
    """Write :data:`PLOT_FILES` into ``study_dir``; a plot that cannot be drawn is skipped.

    Uses matplotlib's non-interactive Agg backend and closes every figure.

    Returns:
        File name -> ``"written"`` or ``"skipped: <reason>"``.
    """
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    description = json.dumps(provenance, sort_keys=True, default=str)
    status: dict[str, str] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for name, plot in _plotters().items():
        if name == "param_importances.png" and len(complete) < 2:
            status[name] = f"skipped: needs >= 2 completed trials, the study has {len(complete)}"
            logger.warning("%s %s", name, status[name])
            continue
        before = set(plt.get_fignums())
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                drawn = plot(study)
            for warning in caught:  # e.g. "too few trials per regime": worth a debug line
                if not issubclass(warning.category, optuna.exceptions.ExperimentalWarning):
                    logger.debug("%s: %s", name, warning.message)
            axes = drawn.flat[0] if hasattr(drawn, "flat") else drawn
            fig = axes.figure
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
            status[name] = f"skipped: {' '.join(str(exc).split()) or type(exc).__name__}"
            logger.warning("%s %s", name, status[name])
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
            continue
        try:
            _save_png(fig, study_dir / name, description)
            status[name] = "written"
        finally:
            plt.close(fig)
    return status
