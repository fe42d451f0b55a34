"""Run every planned run of an experiment, skipping the ones already finished.

A run is finished when its folder holds ``metrics.json`` (written last, atomically, by
:func:`hsi_attn.run.train_run`). A folder with a checkpoint but no metrics is
an interrupted run and is resumed; so re-running the same command continues where an
interrupted experiment stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsi_attn.experiment.spec import ExperimentSpec, PlannedRun, expand

logger = logging.getLogger(__name__)

RunFunction = Callable[..., Any]
"""``train_run(config, out_dir, *, resume, command)``-compatible callable."""


@dataclass(frozen=True)
class RunRecord:
    """A finished run: where it is, what it was, and its metrics."""

    run_id: str
    protocol: str
    out_dir: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    skipped: bool


def run_experiment(
    spec: ExperimentSpec,
    out_dir: str | Path,
    *,
    quick: bool = False,
    run_fn: RunFunction | None = None,
    command: str | None = None,
) -> list[RunRecord]:
    """Run (or resume) every run of ``spec`` under ``out_dir/runs/``.

    Args:
        spec: The experiment.
        out_dir: Results folder of the experiment.
        quick: Apply the spec's quick overrides and keep only the first seed.
        run_fn: The function training one run (default
            :func:`hsi_attn.run.train_run`); tests pass a fake.
        command: The command line, recorded in every run's config.json.

    Returns:
        One record per planned run, in plan order.
    """
    if run_fn is None:
        from hsi_attn.run import train_run as run_fn
    records = []
    planned = expand(spec, quick=quick)
    for index, run in enumerate(planned, start=1):
        folder = Path(out_dir) / "runs" / run.run_id
        finished = (folder / "metrics.json").is_file()
        if finished:
            logger.info("[%d/%d] %s: finished earlier, skipped", index, len(planned), run.run_id)
        else:
            resume = (folder / "checkpoint.pt").is_file()
            logger.info("[%d/%d] %s: %s", index, len(planned), run.run_id, "resuming" if resume else "training")
            run_fn(run.config, folder, resume=resume, command=command)
        records.append(_record(run, folder, skipped=finished))
    return records


def _record(run: PlannedRun, folder: Path, *, skipped: bool) -> RunRecord:
    metrics_file = folder / "metrics.json"
    try:
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RuntimeError(
            f"run {run.run_id} left no readable metrics.json in {folder} ({error}); "
            "delete that folder and run the experiment again"
        ) from None
    return RunRecord(
        run_id=run.run_id, protocol=run.protocol, out_dir=folder,
        config=run.config.to_dict(), metrics=metrics, skipped=skipped,
    )
