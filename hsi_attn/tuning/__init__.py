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
* :mod:`~hsi_attn.tuning.study`: :func:`run_study`, tying it together;
* :mod:`~hsi_attn.tuning.cli_entry`: the ``hsi-attn tune`` arguments and handler.

:mod:`hsi_attn.tune` re-exports the public names.
"""

from hsi_attn.tuning.objective import Objective, PruningCallback, TrialHeartbeat
from hsi_attn.tuning.pruners import PRUNERS, create_pruner
from hsi_attn.tuning.samplers import SAMPLERS, create_sampler
from hsi_attn.tuning.search_space import (
    SearchSpace,
    load_search_space,
    search_space_from_dict,
    suggest_config,
)
from hsi_attn.tuning.storage import StorageError, StorageSpec, mask_password, resolve_storage
from hsi_attn.tuning.study import StudyResult, run_study
from hsi_attn.tuning.workers import WorkerError

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Objective",
    "PruningCallback",
    "SearchSpace",
    "StorageError",
    "StorageSpec",
    "StudyResult",
    "TrialHeartbeat",
    "WorkerError",
    "create_pruner",
    "create_sampler",
    "load_search_space",
    "mask_password",
    "resolve_storage",
    "run_study",
    "search_space_from_dict",
    "suggest_config",
]
