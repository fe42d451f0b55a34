"""Optuna searches for hsi_attn: tune the attention's reduction ratio and kernel size.

The public face of :mod:`hsi_attn.tuning`::

    from hsi_attn.tune import run_study
    result = run_study("indian_pines", study_dir="studies/ip", n_trials=20,
                       attentions=["eca_band", "se_band"], pruner="median", workers=2)
    result.best_params   # the best trial's values
    result.best_value    # its validation OA
    result.test_oa       # the retrained best, scored once on the test pixels

``hsi-attn tune`` is the same function on the command line
(:func:`add_tune_arguments` / :func:`run_tune_command`, which the command line
reports with :func:`tune_summary`).
"""

from hsi_attn.tuning import (
    PRUNERS,
    SAMPLERS,
    Objective,
    PruningCallback,
    SearchSpace,
    StorageError,
    StudyResult,
    WorkerError,
    load_search_space,
    mask_password,
    run_study,
    suggest_config,
)
from hsi_attn.tuning.cli_entry import add_tune_arguments, run_tune_command, tune_summary

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Objective",
    "PruningCallback",
    "SearchSpace",
    "StorageError",
    "StudyResult",
    "WorkerError",
    "add_tune_arguments",
    "load_search_space",
    "mask_password",
    "run_study",
    "run_tune_command",
    "tune_summary",
    "suggest_config",
]
