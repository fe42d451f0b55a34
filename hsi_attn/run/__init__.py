"""One training run end to end, and the run directory it leaves behind.

* :mod:`~hsi_attn.run.prepare`: load, split and preprocess the scene for a run;
* :mod:`~hsi_attn.run.model`: build the network and check it with a tiny forward;
* :mod:`~hsi_attn.run.train`: :func:`train_run` and :func:`train_runs`;
* :mod:`~hsi_attn.run.directory`: the run directory's files, name and reuse rules;
* :mod:`~hsi_attn.run.start`: starting a run in its directory (a failed start is undone);
* :mod:`~hsi_attn.run.evaluate`: the test pixels' metrics, after training and later;
* :mod:`~hsi_attn.run.outputs`: ``metrics.json`` and the other files a finished run writes;
* :mod:`~hsi_attn.run.trained`, :mod:`~hsi_attn.run.predict`: use a finished run;
* :mod:`~hsi_attn.run.figures`: the map and confusion figures.
"""

from hsi_attn.run.directory import (
    RUN_FILES,
    RunDirectoryError,
    default_run_dir,
    load_run_config,
    next_free_run_dir,
    run_name,
)
from hsi_attn.run.evaluate import evaluate_run
from hsi_attn.run.model import build_model
from hsi_attn.run.predict import predict_cube
from hsi_attn.run.prepare import PreparedData, prepare_data, split_scene, training_sources
from hsi_attn.run.train import RunResult, train_run, train_runs

__all__ = [
    "RUN_FILES",
    "PreparedData",
    "RunDirectoryError",
    "RunResult",
    "build_model",
    "default_run_dir",
    "evaluate_run",
    "load_run_config",
    "next_free_run_dir",
    "predict_cube",
    "prepare_data",
    "run_name",
    "split_scene",
    "train_run",
    "train_runs",
    "training_sources",
]
