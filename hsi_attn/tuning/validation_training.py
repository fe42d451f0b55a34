"""Train one configuration on the training split and score it on the validation split.

This is what a trial does. It goes through the same steps as a training run
(:func:`hsi_attn.run.prepare_data`: the split and the preprocessing fitted on
training pixels only; :func:`~hsi_attn.run.training_sources`;
:func:`~hsi_attn.run.build_model`; :func:`hsi_attn.engine.fit`) and never
reads the test pixels: the test split exists in the prepared data only because the split
functions produce all three sets at once, and nothing here gathers a patch from it. The
final retrain of the best configuration, which is evaluated once on the test split, is
a full :func:`hsi_attn.run.train_run`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import torch

from hsi_attn.config import RunConfig
from hsi_attn.engine import Callback, History, fit, seed_everything, selection_callbacks
from hsi_attn.run import PreparedData, build_model, training_sources

__all__ = ["data_key", "train_and_validate"]

logger = logging.getLogger(__name__)


def data_key(config: RunConfig) -> tuple[Any, ...]:
    """What the prepared data depends on: trials with equal keys share it."""
    # The disjoint split's guard band and the fixed split's validation carve use the patch.
    patch = config.model.patch_size if config.data.split != "random" else None
    return (dataclasses.astuple(config.data), config.train.seed, patch)


def train_and_validate(
    config: RunConfig,
    data: PreparedData,
    *,
    callbacks: Iterable[Callback] = (),
    device: torch.device | str | None = None,
) -> History:
    """Train ``config`` on the training pixels, validating every epoch.

    Args:
        config: The trial's configuration.
        data: From :func:`hsi_attn.run.prepare_data`.
        callbacks: Extra callbacks (the pruning callback, the heartbeat...).
        device: Overrides ``config.train.device``.

    Returns:
        The history; ``val_oa`` per epoch.
    """
    from hsi_attn.engine import resolve_device

    train_cfg = config.train
    target = resolve_device(device if device is not None else train_cfg.device)
    seed_everything(train_cfg.seed)
    model = build_model(config, data.n_bands, data.n_classes)
    train_source, val_source = training_sources(config, data, target)
    # A trial is scored on its history; it never needs the best weights back.
    selection = selection_callbacks(train_cfg.patience, restore_best=False)
    return fit(model, train_source, config=train_cfg, val_data=val_source,
               callbacks=[*selection, *callbacks], device=target)
