"""Optuna searches over the attention's reduction ratio and kernel size (and lr, weight decay).

One module per idea:

* :mod:`~hsi_attn.tuning.search_space`: the conditional space and its TOML/JSON file;
* :mod:`~hsi_attn.tuning.samplers`, :mod:`~hsi_attn.tuning.pruners`: registries by name;
* :mod:`~hsi_attn.tuning.validation_training`: a trial's training, validation only;
* :mod:`~hsi_attn.tuning.objective`: the objective and the pruning callback;
* :mod:`~hsi_attn.tuning.storage`: SQLite, journal file or database URL;
* :mod:`~hsi_attn.tuning.recovery`: trials of killed workers are failed and retried;
* :mod:`~hsi_attn.tuning.workers`: N processes on one study, with a shared trial budget;
* :mod:`~hsi_attn.tuning.outputs`: trials.csv and plots;
* :mod:`~hsi_attn.tuning.study`: :func:`run_study`, tying it together.

The command line (``hsi-attn tune``) lives in :mod:`hsi_attn.cli.tune`. Importing this
package is cheap (the names below load their module on first use), so ``hsi-attn --help``
does not pay for Optuna and torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Objective": "objective",
    "PruningCallback": "objective",
    "TrialHeartbeat": "objective",
    "PRUNERS": "pruners",
    "create_pruner": "pruners",
    "SAMPLERS": "samplers",
    "create_sampler": "samplers",
    "SearchSpace": "search_space",
    "load_search_space": "search_space",
    "search_space_from_dict": "search_space",
    "suggest_config": "search_space",
    "StorageError": "storage",
    "StorageSpec": "storage",
    "mask_password": "storage",
    "resolve_storage": "storage",
    "StudyResult": "study",
    "run_study": "study",
    "WorkerError": "workers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # A fixed table, not a user string: only the names above resolve.
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hsi_attn.tuning' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hsi_attn.tuning.{_EXPORTS[name]}"), name)
