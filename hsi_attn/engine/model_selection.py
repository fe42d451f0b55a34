"""Model selection during training: early stopping and keeping the best weights.

Training runs, Optuna trials and the scikit-learn estimator all select the model on
the validation pixels the same way; :func:`selection_callbacks` is the one place that
assembles the callbacks for it, so the three cannot drift apart.
"""

from __future__ import annotations

from hsi_attn.engine.callbacks import BestModel, Callback, EarlyStopping

__all__ = ["selection_callbacks"]


def selection_callbacks(
    patience: int | None, *, restore_best: bool = True, monitor: str = "val_oa"
) -> list[Callback]:
    """The callbacks that pick the best epoch on validation data and stop when it stalls.

    Args:
        patience: Epochs without improvement before stopping, or None to train every
            epoch.
        restore_best: Load the best epoch's weights into the model when training ends
            (a trial, which only reads the history, passes False).
        monitor: History key to maximise; ties go to the lower ``val_loss``.

    Returns:
        :class:`~hsi_attn.engine.BestModel`, then
        :class:`~hsi_attn.engine.EarlyStopping` unless ``patience`` is None.

    Raises:
        ValueError: If ``patience`` is below 1.
    """
    callbacks: list[Callback] = [BestModel(monitor, restore=restore_best)]
    if patience is not None:
        callbacks.append(EarlyStopping(patience, monitor))
    return callbacks
