"""The objective: one trial = suggest values, build a config, train, report validation OA.

Following the Optuna examples: the objective suggests values and builds the model from
plain arguments (the trial never enters the model); the training loop is unchanged and
pruning is a callback of the engine (:class:`PruningCallback`) that reports one figure
per epoch with ``trial.report`` and raises ``optuna.TrialPruned`` when the pruner says so.
The trial's value is its best validation overall accuracy; the test pixels are never
used here.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import optuna

from hsi_attn.config import RunConfig
from hsi_attn.engine import Callback, TrainState
from hsi_attn.tuning.recovery import (
    HEARTBEAT_ATTR,
    HEARTBEAT_INTERVAL_S,
    INTERRUPTED_ATTR,
    OWNER_ATTR,
    WorkerIdentity,
)
from hsi_attn.tuning.search_space import SearchSpace, suggest_config
from hsi_attn.run import PreparedData, prepare_data
from hsi_attn.run.prepare import load_run_scene
from hsi_attn.tuning.validation_training import data_key, train_and_validate

__all__ = ["Objective", "PruningCallback", "TrialHeartbeat", "load_study_scene"]

logger = logging.getLogger(__name__)


class PruningCallback(Callback):
    """Report ``monitor`` to the trial after every epoch and stop it when it should be pruned.

    The last epoch (the configured maximum, or one after which early stopping ends
    training) is reported but never pruned: the trial has done all its work by then.

    Args:
        trial: The running trial.
        monitor: History key to report (default ``val_oa``).

    Raises:
        optuna.TrialPruned: From ``on_epoch_end``, when the pruner says so; it propagates
            out of :func:`hsi_attn.engine.fit`.
        ValueError: If the epoch's record has no ``monitor`` (no validation data).
    """

    order = 90

    def __init__(self, trial: optuna.Trial, monitor: str = "val_oa") -> None:
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, state: TrainState) -> None:
        record = state.history[-1]
        value = record.get(self.monitor)
        if value is None:
            raise ValueError(
                f"the epoch record has no {self.monitor!r} to report to Optuna "
                f"(keys: {', '.join(record)}); trials need validation data"
            )
        epoch = int(record["epoch"])
        self.trial.report(float(value), step=epoch)
        # A trial that has trained its last epoch is complete: pruning it would only
        # throw its result away.
        finishing = epoch >= state.config.epochs or state.stop_training
        if not finishing and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} with {self.monitor} {value:.4f}")


class TrialHeartbeat(Callback):
    """Record a wall-clock ``heartbeat`` user attribute while the trial trains.

    Written at the start and then at most every ``interval`` seconds (checked after each
    batch), so a trial whose process died can be told apart from a slow one.

    Args:
        trial: The running trial.
        interval: Minimum seconds between two writes.
        clock: Time source (seconds since the epoch).
    """

    order = 95

    def __init__(self, trial: optuna.Trial, interval: float = HEARTBEAT_INTERVAL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.trial = trial
        self.interval = interval
        self.clock = clock
        self._last = -float("inf")

    def _maybe_beat(self) -> None:
        now = self.clock()
        if now - self._last >= self.interval:
            self.trial.set_user_attr(HEARTBEAT_ATTR, now)
            self._last = now

    def on_train_begin(self, state: TrainState) -> None:
        self._maybe_beat()

    def on_batch_end(self, state: TrainState) -> None:
        self._maybe_beat()

    def on_epoch_end(self, state: TrainState) -> None:
        self._maybe_beat()


def load_study_scene(base: RunConfig, scene: Any = None, *,
                     root: str | os.PathLike[str] | None = None, download: bool = False) -> Any:
    """The scene a study tunes on: ``scene`` if given, else the one ``base.data`` names;
    labelled by its fixed split when ``base.data.split`` asks for one."""
    if scene is None or isinstance(scene, str):
        scene = _named_scene(base, scene, root=root, download=download)
    return load_run_scene(base, scene, root, download)


def _named_scene(base: RunConfig, name: str | None, *,
                 root: str | os.PathLike[str] | None, download: bool) -> Any:
    data = base.data
    if data.cube_path is not None:
        from hsi_attn.data import load_user_scene

        if data.gt_path is None:
            raise ValueError(f"tuning on your own cube {data.cube_path!r} needs its ground "
                             "truth: pass --gt FILE (0 = unlabelled, classes 1..K)")
        return load_user_scene(data.cube_path, data.gt_path, cube_variable=data.cube_variable,
                               gt_variable=data.gt_variable, name=data.scene,
                               class_names_path=data.class_names_path,
                               ignore_label=data.ignore_label)
    from hsi_attn.data import load_scene

    return load_scene(name or data.scene, root=root, download=download)


class Objective:
    """The callable handed to ``study.optimize``.

    Prepared data (split + preprocessing) is cached per data configuration, so trials
    that only change the model or the optimiser reuse it.

    Args:
        scene: The :class:`hsi_attn.data.Scene` to tune on.
        base: Everything that is not tuned.
        space: The search space.
        callbacks: Extra engine callbacks for every trial (progress, logging...).
        device: Overrides ``base.train.device``.
    """

    def __init__(self, scene: Any, base: RunConfig, space: SearchSpace, *,
                 callbacks: Iterable[Callback] = (), device: str | None = None) -> None:
        self.scene = scene
        self.base = base
        self.space = space
        self.callbacks = tuple(callbacks)
        self.device = device
        self._data: dict[tuple[Any, ...], PreparedData] = {}

    def prepared(self, config: RunConfig) -> PreparedData:
        """The (cached) split and preprocessed data for ``config``."""
        key = data_key(config)
        if key not in self._data:
            self._data[key] = prepare_data(config, self.scene)
        return self._data[key]

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(OWNER_ATTR, WorkerIdentity.current().encode())
        config = suggest_config(trial, self.space, self.base)
        data = self.prepared(config)
        started = time.perf_counter()
        try:
            history = train_and_validate(
                config, data, device=self.device,
                callbacks=[PruningCallback(trial), TrialHeartbeat(trial), *self.callbacks],
            )
        except KeyboardInterrupt:
            # Optuna marks the trial FAIL; this mark has it retried when the study resumes.
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            raise
        best = history.best("val_oa")
        if best is None:
            raise ValueError(f"trial {trial.number} produced no finite validation accuracy")
        trial.set_user_attr("best_epoch", int(best["epoch"]))
        trial.set_user_attr("epochs_run", len(history))
        trial.set_user_attr("train_seconds", round(time.perf_counter() - started, 3))
        logger.info("trial %d: val OA %.4f at epoch %d (%s)", trial.number, best["val_oa"],
                    best["epoch"], trial.params)
        return float(best["val_oa"])
