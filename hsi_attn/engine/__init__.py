"""The training engine: a short loop, callbacks, checkpoints, metrics.

Public API (stable; the estimator, the tuner and the CLI build on it):

* :func:`fit(model, train_data, *, config, val_data=None, callbacks=(), device=None,
  checkpoint_path=None, resume=False, extra=None) -> History <fit>` trains in place.
  ``train_data``/``val_data`` are :class:`BatchSource` objects (``batches(generator)``,
  ``__len__``, ``labels``); :class:`hsi_attn.data.PatchSource` is the package's one
  implementation (``from_cube`` around pixel coordinates, ``from_tensors`` in memory).
* :func:`evaluate` (loss, OA) and :func:`predict_logits` (batched, no-grad inference).
* Callbacks (:class:`Callback` with no-op hooks ``on_train_begin``, ``on_epoch_begin``,
  ``on_batch_end``, ``on_epoch_end``, ``on_train_end``, called in ascending ``order``):
  :class:`BestModel`, :class:`EarlyStopping`, :class:`Checkpoint`,
  :class:`ProgressBar`, :class:`EpochLogger`; :func:`selection_callbacks` assembles
  best-model keeping and early stopping for runs, trials and the estimator. Stop with
  ``state.stop_training = True`` or :class:`StopTraining`; any other exception from a
  callback (e.g. ``optuna.TrialPruned``) propagates out of :func:`fit` after that
  epoch's checkpoint has been written (checkpoint ``order`` 50 < default 100).
* :class:`History`: list of per-epoch dicts (``epoch, train_loss, train_acc,
  train_seconds, val_loss, val_oa, lr, seconds`` and keys added by callbacks, e.g.
  ``is_best``), ``to_csv``/``from_csv``.
* Ctrl-C: :func:`fit` re-raises ``KeyboardInterrupt``; the checkpoint of the last
  finished epoch (or of the start) is on disk, and ``resume=True`` continues to the
  same result as an uninterrupted run (bit-identical on the CPU).
* :func:`resolve_device` (``"auto"`` = cuda, then mps, then cpu; unavailable devices
  are errors), :func:`resolve_precision` (``"auto"`` = bf16 on capable CUDA, else fp32;
  fp16 on CUDA uses a GradScaler), :func:`seed_everything`.
* :func:`save_checkpoint` / :func:`load_checkpoint` (atomic write, ``weights_only``
  read, :class:`CheckpointError` on damage).
* Metrics: :func:`classification_metrics` (OA, AA, kappa, per-class accuracy,
  confusion matrix) and :func:`summarize_runs` (mean ± std over seeds).

Minimal use::

    generator = seed_everything(0)
    model = MyNet()
    source = PatchSource.from_tensors(x, y, batch_size=64, shuffle=True)
    history = fit(model, source, config=TrainConfig(epochs=5, device="cpu"),
                  callbacks=selection_callbacks(patience=5),
                  val_data=PatchSource.from_tensors(xv, yv, batch_size=256))
"""

from __future__ import annotations

from hsi_attn.engine.callbacks import (
    BestModel,
    Callback,
    CallbackList,
    Checkpoint,
    EarlyStopping,
    EpochLogger,
    ProgressBar,
    StopTraining,
    selection_score,
)
from hsi_attn.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hsi_attn.engine.device import available_devices, resolve_device
from hsi_attn.engine.history import History
from hsi_attn.engine.loop import evaluate, fit, predict_logits
from hsi_attn.engine.metrics import (
    average_accuracy,
    classification_metrics,
    cohen_kappa,
    confusion_matrix,
    overall_accuracy,
    per_class_accuracy,
    summarize_runs,
)
from hsi_attn.engine.precision import Precision, resolve_precision
from hsi_attn.engine.seeding import capture_rng_state, restore_rng_state, seed_everything
from hsi_attn.engine.model_selection import selection_callbacks
from hsi_attn.engine.sources import BatchSource
from hsi_attn.engine.state import TrainState

__all__ = [
    "BatchSource",
    "BestModel",
    "Callback",
    "CallbackList",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "EpochLogger",
    "History",
    "Precision",
    "ProgressBar",
    "StopTraining",
    "TrainState",
    "available_devices",
    "average_accuracy",
    "capture_rng_state",
    "classification_metrics",
    "cohen_kappa",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load_checkpoint",
    "overall_accuracy",
    "per_class_accuracy",
    "predict_logits",
    "resolve_device",
    "resolve_precision",
    "restore_rng_state",
    "save_checkpoint",
    "seed_everything",
    "selection_score",
    "selection_callbacks",
    "summarize_runs",
]
