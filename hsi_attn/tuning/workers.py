"""Workers: processes that pull trials from one shared study until the budget is spent.

Every worker is ``study.optimize`` on its own process with its own storage connection
and its own sampler seed; the storage is the only thing they share, so the same code
runs as one process, as ``--workers N`` processes on one machine (spawned here), or as
independent commands on several machines pointed at one database URL.

The budget is ``n_trials`` finished trials (COMPLETE or PRUNED) in the study as a
whole. :class:`TrialBudget` stops a worker when the finished trials plus the ones other
workers are still running reach it, so workers do not start trials nobody needs (only
when two trials end at the same instant can the study end up to ``workers - 1`` trials
over). Failed trials do not count (interrupted ones are retried, see
:mod:`hsi_attn.tuning.recovery`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from hsi_attn.config import RunConfig
from hsi_attn.engine import Callback
from hsi_attn.tuning.objective import Objective, load_study_scene
from hsi_attn.tuning.pruners import create_pruner
from hsi_attn.tuning.samplers import create_sampler
from hsi_attn.tuning.search_space import SearchSpace
from hsi_attn.tuning.storage import StorageSpec

__all__ = ["FINISHED", "TrialBudget", "WorkerError", "WorkerSpec", "run_worker", "run_workers",
           "trials_left", "worker_seed"]

logger = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
"""Trial states that count towards ``n_trials``."""


class WorkerError(ChildProcessError):
    """A worker process ended with an error; completed trials are kept in the storage.

    A ``ChildProcessError`` (an ``OSError``), so the CLI reports it in one line.
    """


def trials_left(study: optuna.Study, n_trials: int) -> int:
    """Trials still to start: ``n_trials`` minus finished minus running ones."""
    trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    return n_trials - len(trials)


class TrialBudget:
    """Study callback: stop this worker once the study's trial budget is taken.

    Args:
        n_trials: Finished (complete or pruned) trials wanted in the whole study.
    """

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trials_left(study, self.n_trials) <= 0:
            study.stop()


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (picklable, sent to spawned processes).

    Attributes:
        study_name: The study.
        storage: Where it lives; each worker opens its own connection.
        n_trials: Finished trials wanted in the whole study.
        timeout: Seconds after which a worker starts no new trial (None: no limit).
        sampler: Sampler name (see :mod:`hsi_attn.tuning.samplers`).
        pruner: Pruner name (see :mod:`hsi_attn.tuning.pruners`).
        sampler_seed: Base seed; worker ``i`` derives its own from it.
        parallel: Several workers share the study.
        base: Everything that is not tuned.
        space: The search space.
        scene: A Scene object, or None to load the scene ``base.data`` names.
        root: Folder searched first for scene files.
        download: Download the scene if it is missing.
        device: Device override for every trial.
    """

    study_name: str
    storage: StorageSpec
    n_trials: int
    timeout: float | None
    sampler: str
    pruner: str
    sampler_seed: int
    parallel: bool
    base: RunConfig
    space: SearchSpace
    scene: Any = None
    root: str | None = None
    download: bool = False
    device: str | None = None


def worker_seed(base_seed: int, worker_index: int, n_existing: int) -> int:
    """A sampler seed distinct per worker and per resumption (trials already present)."""
    sequence = np.random.SeedSequence([base_seed, worker_index, n_existing])
    return int(sequence.generate_state(1)[0])


def run_worker(spec: WorkerSpec, worker_index: int = 0, *,
               callbacks: Iterable[Callback] = ()) -> int:
    """Run trials in this process until the study's budget or the timeout is reached.

    The study must exist: :func:`~hsi_attn.tuning.study.run_study` creates it (and the
    storage's tables) before it starts any worker.

    Args:
        spec: The study and its settings.
        worker_index: This worker's index (0-based); seeds its sampler.
        callbacks: Extra engine callbacks for every trial.

    Returns:
        The number of trials this worker ran.

    Raises:
        StorageError: If the storage fails (the message names the cause: a locked
            SQLite file, an unreachable server...).
    """
    # The study and its tables exist (run_study made them before starting any worker),
    # so this process opens the storage without creating tables: no schema race.
    storage = spec.storage.open(create_tables=False)
    with spec.storage.errors():
        probe = optuna.load_study(study_name=spec.study_name, storage=storage)
        if trials_left(probe, spec.n_trials) <= 0:
            logger.info("worker %d: the study already has its %d trials", worker_index,
                        spec.n_trials)
            return 0
        seed = worker_seed(spec.sampler_seed, worker_index, len(probe.trials))
        study = optuna.load_study(
            study_name=spec.study_name, storage=storage,
            sampler=create_sampler(spec.sampler, seed=seed, parallel=spec.parallel),
            pruner=create_pruner(spec.pruner, max_epochs=spec.base.train.epochs,
                                 n_trials=spec.n_trials),
        )
    scene = load_study_scene(spec.base, spec.scene, root=spec.root, download=spec.download)
    objective = Objective(scene, spec.base, spec.space, callbacks=callbacks, device=spec.device)
    with spec.storage.errors():
        before = len(study.trials)
        study.optimize(objective, n_trials=None, timeout=spec.timeout,
                       callbacks=[TrialBudget(spec.n_trials)], gc_after_trial=True)
        return len(study.trials) - before


def _worker_process(spec: WorkerSpec, worker_index: int, threads: int, log_level: int) -> None:
    logging.basicConfig(level=log_level, format=f"[worker {worker_index}] %(message)s")
    logging.getLogger("hsi_attn").setLevel(log_level)
    import torch

    torch.set_num_threads(threads)
    run_worker(spec, worker_index)


def run_workers(spec: WorkerSpec, workers: int) -> None:
    """Run ``workers`` processes on the study (``1``: this process, no subprocess).

    Extra processes are started with the ``spawn`` method, so they share nothing with
    this one but the storage. Each gets ``cpu_count // workers`` torch threads unless
    ``OMP_NUM_THREADS`` is set.

    Raises:
        WorkerError: If a worker exits with a non-zero status (its log says why).
    """
    if workers == 1:
        run_worker(spec, 0)
        return
    threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // workers))
    level = logging.getLogger("hsi_attn").getEffectiveLevel()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_process, args=(spec, i, threads, level),
                        name=f"hsi-attn-tune-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    logger.info("started %d workers (pids %s) on study %r", workers,
                ", ".join(str(p.pid) for p in processes), spec.study_name)
    try:
        for process in processes:
            process.join()
    except BaseException:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        raise
    failed = [(i, p.exitcode) for i, p in enumerate(processes) if p.exitcode != 0]
    if failed:
        detail = ", ".join(f"worker {i} (exit status {code})" for i, code in failed)
        raise WorkerError(
            f"{detail} failed; see its log above. Completed trials are kept in "
            f"{spec.storage.display}; rerun the same command to continue the study"
        )
