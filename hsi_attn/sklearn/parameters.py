""":class:`~hsi_attn.sklearn.HSIClassifier`'s parameters, checked and put to use.

``fit`` turns the parameters into the project's frozen
:class:`~hsi_attn.config.ModelConfig` and :class:`~hsi_attn.config.TrainConfig`, which
check themselves; the estimator's own parameters (``early_stopping``,
``validation_fraction``, ``random_state``, ``verbose``) are checked and used here.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from torch import nn

from hsi_attn.config import ModelConfig, TrainConfig
from hsi_attn.engine import Callback, EpochLogger, ProgressBar, seed_everything
from hsi_attn.models import create_model

__all__ = [
    "EARLY_STOPPING_PATIENCE",
    "MAX_SEED",
    "build_model",
    "check_parameters",
    "check_same_network",
    "describe_change",
    "draw_seed",
    "logging_callbacks",
    "model_config_of",
    "train_config_of",
]

EARLY_STOPPING_PATIENCE = 10
"""Epochs without a better validation OA before ``early_stopping`` ends training.

The same default as scikit-learn's ``MLPClassifier(n_iter_no_change=10)``.
"""

MAX_SEED = 2**31 - 1
"""Largest ``random_state`` accepted as a seed."""


def check_parameters(estimator: Any) -> None:
    """Check the parameters before anything is built.

    The training parameters are checked by building their
    :class:`~hsi_attn.config.TrainConfig` now, and the model's by its
    :class:`~hsi_attn.config.ModelConfig` when the patch size is known; both raise
    ValueError with the accepted values. The estimator's own parameters are checked
    here.
    """
    train_config_of(estimator, 0)
    if not isinstance(estimator.early_stopping, (bool, np.bool_)):
        raise ValueError(
            f"early_stopping must be True or False, got {estimator.early_stopping!r}"
        )
    fraction = estimator.validation_fraction
    if estimator.early_stopping and not (
        isinstance(fraction, numbers.Real) and 0.0 < fraction < 1.0
    ):
        raise ValueError(f"validation_fraction must be a number in (0, 1), got {fraction!r}")
    verbose = estimator.verbose
    if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral):
        raise ValueError(f"verbose must be an int (0, 1 or 2), got {verbose!r}")


def draw_seed(random_state: int | np.random.RandomState | None) -> int:
    """The integer seed of ``random_state`` (an int in [0, MAX_SEED], a RandomState, None)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state <= MAX_SEED:
            raise ValueError(f"random_state must be in [0, {MAX_SEED}], got {random_state}")
        return int(random_state)
    return int(check_random_state(random_state).randint(MAX_SEED))


def model_config_of(estimator: Any, patch_size: int) -> ModelConfig:
    """The :class:`~hsi_attn.config.ModelConfig` of the estimator's model parameters."""
    return ModelConfig(
        name=estimator.model,
        attention=estimator.attention,
        reduction=estimator.reduction,
        kernel_size=estimator.kernel_size,
        patch_size=int(patch_size),
    )


def train_config_of(estimator: Any, seed: int, **changes: Any) -> TrainConfig:
    """The :class:`~hsi_attn.config.TrainConfig` of the estimator's training parameters.

    Args:
        estimator: The estimator whose parameters to read.
        seed: The seed of the training.
        **changes: Fields that differ from the parameters (``epochs=1`` in
            ``partial_fit``).
    """
    config = TrainConfig(
        epochs=estimator.epochs,
        batch_size=estimator.batch_size,
        lr=estimator.lr,
        weight_decay=estimator.weight_decay,
        optimizer=estimator.optimizer,
        precision=estimator.precision,
        device=estimator.device,
        seed=seed,
        patience=EARLY_STOPPING_PATIENCE if estimator.early_stopping else None,
        tta=estimator.tta,
    )
    return dataclasses.replace(config, **changes)


def build_model(config: ModelConfig, n_bands: int, n_classes: int, seed: int) -> nn.Module:
    """A new network for ``config``, its initial weights drawn from ``seed``."""
    seed_everything(seed)  # reproducible initial weights
    return create_model(
        config.name,
        n_bands=int(n_bands),
        n_classes=int(n_classes),
        patch_size=config.patch_size,
        attention=config.attention,
        attention_kwargs=config.attention_kwargs(),
    )


def describe_change(old: ModelConfig, new: ModelConfig) -> str:
    """The fields that differ, as ``"name old -> new, ..."``."""
    return ", ".join(
        f"{f.name} {getattr(old, f.name)!r} -> {getattr(new, f.name)!r}"
        for f in dataclasses.fields(ModelConfig)
        if getattr(old, f.name) != getattr(new, f.name)
    )


def check_same_network(built: ModelConfig, requested: ModelConfig) -> None:
    """Raise ValueError when ``partial_fit`` would continue a network built otherwise."""
    if requested != built:
        raise ValueError(
            f"the model settings changed since the network was built "
            f"({describe_change(built, requested)}); "
            "partial_fit continues the existing network, so call fit() to build "
            "a new one with these settings"
        )


def logging_callbacks(verbose: int) -> list[Callback]:
    """What ``verbose`` shows: 1 an INFO log line per epoch, 2 also a progress bar."""
    callbacks: list[Callback] = []
    if verbose >= 1:
        callbacks.append(EpochLogger())
    if verbose >= 2:
        callbacks.append(ProgressBar())
    return callbacks
