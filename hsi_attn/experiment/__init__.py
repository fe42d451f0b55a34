"""Declarative experiments: expand a grid into runs, resume, aggregate, publish tables.

``hsi-attn experiment CONFIG`` runs :func:`run_and_publish` on an experiment file from
``experiments/configs/``.
"""

from hsi_attn.experiment.publish import publish, run_and_publish
from hsi_attn.experiment.report import aggregate, markdown_tables
from hsi_attn.experiment.runner import RunRecord, run_experiment
from hsi_attn.experiment.spec import ExperimentSpec, PlannedRun, expand, load_experiment, parse_experiment

__all__ = [
    "ExperimentSpec",
    "PlannedRun",
    "RunRecord",
    "aggregate",
    "expand",
    "load_experiment",
    "markdown_tables",
    "parse_experiment",
    "publish",
    "run_and_publish",
    "run_experiment",
]
