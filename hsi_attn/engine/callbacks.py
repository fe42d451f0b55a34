"""Callbacks: small objects whose hooks the training loop calls at fixed points.

Every hook takes the mutable :class:`~hsi_attn.engine.state.TrainState` and does
nothing by default; subclass :class:`Callback` and override what you need::

    class PrintLR(Callback):
        def on_epoch_end(self, state):
            logger.info("lr %.2e", state.history[-1]["lr"])

Hooks, in the order the loop calls them: ``on_train_begin``, then per epoch
``on_epoch_begin``, ``on_batch_end`` after every optimiser step and ``on_epoch_end``
(the epoch's record is already in ``state.history``), and finally ``on_train_end``,
which is always called, also after an error or Ctrl-C (``state.completed`` tells which).

Ordering: :class:`CallbackList` calls callbacks by ascending ``order`` (stable). The
built-ins use ``BestModel`` 10, ``EarlyStopping`` 20, ``Checkpoint`` 50, ``ProgressBar``
60, ``EpochLogger`` 70; user callbacks default to 100. So at the end of an epoch the
checkpoint is already on disk when a user callback runs, and an exception raised there
(e.g. ``optuna.TrialPruned`` from a pruning callback) propagates out of ``fit``
unchanged, with nothing lost.

Stopping: set ``state.stop_training = True`` or raise :class:`StopTraining` from any
hook; the current epoch finishes (validation, history, checkpoint) and training ends
normally. Stateful callbacks implement ``state_dict``/``load_state_dict`` so they are
saved in checkpoints and restored on resume.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from hsi_attn.engine.state import TrainState

__all__ = [
    "BestModel",
    "Callback",
    "CallbackList",
    "Checkpoint",
    "EarlyStopping",
    "EpochLogger",
    "ProgressBar",
    "StopTraining",
    "selection_score",
]

logger = logging.getLogger(__name__)


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch."""


class Callback:
    """Base class with no-op hooks; ``order`` sets the call order (lower first)."""

    order: int = 100

    def on_train_begin(self, state: TrainState) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_epoch_begin(self, state: TrainState) -> None:
        """Called at the start of every epoch; ``state.epoch`` is the new epoch."""

    def on_batch_end(self, state: TrainState) -> None:
        """Called after every optimiser step; see ``state.batch`` and ``state.batch_loss``."""

    def on_epoch_end(self, state: TrainState) -> None:
        """Called after validation; ``state.history[-1]`` is this epoch's record."""

    def on_train_end(self, state: TrainState) -> None:
        """Always called last; ``state.completed`` is False after an error or Ctrl-C."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints (plain types and tensors)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class CallbackList:
    """Dispatches each hook to the callbacks in ascending ``order``.

    :class:`StopTraining` raised by a hook sets ``state.stop_training`` and the remaining
    callbacks still run; any other exception propagates immediately.
    """

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)

    def call(self, hook: str, state: TrainState) -> None:
        """Call ``hook`` (e.g. ``"on_epoch_end"``) on every callback."""
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(state)
            except StopTraining as signal:
                state.stop_training = True
                state.stop_reason = str(signal) or type(callback).__name__

    def keyed(self) -> dict[str, Callback]:
        """Callbacks by a stable key (class name, ``#n`` suffix for repeats)."""
        keyed: dict[str, Callback] = {}
        for callback in self.callbacks:
            key = base = type(callback).__name__
            n = 1
            while key in keyed:
                n += 1
                key = f"{base}#{n}"
            keyed[key] = callback
        return keyed

    def state_dict(self) -> dict[str, Any]:
        """Each stateful callback's state by key."""
        return {k: s for k, cb in self.keyed().items() if (s := cb.state_dict())}

    def load_state_dict(self, states: dict[str, Any]) -> None:
        """Restore callback states saved by :meth:`state_dict`."""
        keyed = self.keyed()
        for key, saved in states.items():
            if key in keyed:
                keyed[key].load_state_dict(saved)
            else:
                logger.warning("checkpoint holds state for callback %s, which is not in use", key)


def selection_score(record: dict[str, Any], monitor: str = "val_oa") -> tuple[float, float]:
    """How :class:`BestModel` ranks an epoch's record: ``(monitor, -val_loss)``, higher is
    better (so ties in ``monitor`` go to the lower validation loss); missing or
    non-finite values rank last."""
    value = record.get(monitor)
    loss = record.get("val_loss")
    value = value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf
    loss = loss if isinstance(loss, (int, float)) and math.isfinite(loss) else math.inf
    return (value, -loss)


class BestModel(Callback):
    """Keep the weights of the best epoch and load them when training ends.

    Best means the highest ``monitor`` (default ``val_oa``), ties broken by the lower
    ``val_loss``; the first such epoch wins. Adds ``is_best`` to each epoch's record.

    Args:
        monitor: History key to maximise.
        restore: Load the best weights into the model at the end of training.
    """

    order = 10

    def __init__(self, monitor: str = "val_oa", *, restore: bool = True) -> None:
        self.monitor = monitor
        self.restore = restore
        self.best_epoch: int | None = None
        self.best_score: tuple[float, float] = (-math.inf, -math.inf)
        self.best_weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, state: TrainState) -> None:
        record = state.history[-1]
        score = selection_score(record, self.monitor)
        is_best = score > self.best_score and score[0] > -math.inf
        record["is_best"] = int(is_best)
        if is_best:
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_weights = {
                k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()
            }

    def on_train_end(self, state: TrainState) -> None:
        if state.completed and self.restore and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
            logger.info("restored the weights of epoch %d (best %s)", self.best_epoch, self.monitor)

    def state_dict(self) -> dict[str, Any]:
        if self.best_weights is None:
            return {}
        return {"best_epoch": self.best_epoch, "best_score": list(self.best_score),
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_epoch = state["best_epoch"]
        self.best_score = tuple(state["best_score"])  # type: ignore[assignment]
        self.best_weights = state["best_weights"]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Stateless: the decision is read from the history, so it survives resume unchanged.

    Args:
        patience: Epochs without improvement before stopping (>= 1).
        monitor: History key to maximise (default ``val_oa``, ties to lower val_loss).

    Raises:
        ValueError: If ``patience`` < 1.
    """

    order = 20

    def __init__(self, patience: int, monitor: str = "val_oa") -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1 epoch, got {patience}")
        self.patience = patience
        self.monitor = monitor

    def on_epoch_end(self, state: TrainState) -> None:
        scores = [selection_score(r, self.monitor) for r in state.history]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        waited = len(scores) - 1 - best
        if waited >= self.patience:
            state.stop_training = True
            state.stop_reason = (
                f"early stopping: {self.monitor} has not improved for {waited} epochs "
                f"(best at epoch {state.history[best]['epoch']})"
            )


class Checkpoint(Callback):
    """Write a checkpoint atomically at the start, after every epoch and at the end.

    The start checkpoint (epoch 0) means Ctrl-C during the first epoch is resumable
    too. The final checkpoint has ``finished=True`` and holds the model as training
    left it (after :class:`BestModel` restored the best weights).

    Args:
        path: Checkpoint file.
    """

    order = 50

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path

    def on_train_begin(self, state: TrainState) -> None:
        if state.epoch == 0:
            state.save_checkpoint(self.path)

    def on_epoch_end(self, state: TrainState) -> None:
        state.save_checkpoint(self.path)

    def on_train_end(self, state: TrainState) -> None:
        if state.completed:
            state.save_checkpoint(self.path, finished=True)


class ProgressBar(Callback):
    """A tqdm bar over epochs showing the batch loss and the last validation OA.

    Args:
        enabled: Show the bar (the CLI passes ``stderr.isatty() and not quiet``).
        stream: Where the bar is drawn.
    """

    order = 60

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.stream = stream
        self._bar: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=state.config.epochs, initial=state.epoch, unit="epoch",
            file=self.stream or sys.stderr, dynamic_ncols=True, leave=False,
        )

    def on_batch_end(self, state: TrainState) -> None:
        if self._bar is not None:
            self._bar.set_postfix(self._postfix(state, state.batch_loss), refresh=False)

    def on_epoch_end(self, state: TrainState) -> None:
        if self._bar is not None:
            postfix = self._postfix(state, state.history[-1]["train_loss"])
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
            self._bar.refresh()  # epochs are rare events: always draw them

    def on_train_end(self, state: TrainState) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @staticmethod
    def _postfix(state: TrainState, loss: float) -> dict[str, str]:
        postfix = {"loss": f"{loss:.4f}"}
        if state.history and state.history[-1].get("val_oa") is not None:
            postfix["val_oa"] = f"{state.history[-1]['val_oa']:.4f}"
        return postfix


class EpochLogger(Callback):
    """Log one INFO line per epoch through :mod:`logging`."""

    order = 70

    def on_epoch_end(self, state: TrainState) -> None:
        record = state.history[-1]
        parts = [f"epoch {record['epoch']}/{state.config.epochs}"]
        for key in ("train_loss", "train_acc", "val_loss", "val_oa", "lr"):
            if record.get(key) is not None:
                parts.append(f"{key} {record[key]:.4g}")
        parts.append(f"{record['seconds']:.1f}s")
        logger.info("  ".join(parts))
