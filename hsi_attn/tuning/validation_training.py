"""Train one configuration on the training split and score it on the validation split.

This is what a trial does. It composes the public library pieces (split, preprocessing
fitted on training pixels only, patch sampling, model factory, :func:`hsi_attn.engine.fit`)
and never reads the test pixels: the test split exists in the returned
:class:`PreparedData` only because the split functions produce all three sets at once,
and nothing here gathers a patch from it. The final retrain of the best configuration,
which is evaluated once on the test split, goes through
:func:`hsi_attn.training_run.train_run` instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hsi_attn.config import RunConfig
from hsi_attn.engine import BestModel, Callback, EarlyStopping, History, fit, seed_everything

__all__ = ["PreparedData", "build_model", "data_key", "prepare_data", "train_and_validate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """A scene split and preprocessed for one data configuration.

    Attributes:
        cube: ``(H, W, B')`` float32 cube, preprocessing fitted on training pixels only.
        train: ``(n, 2)`` training pixel coordinates.
        val: ``(n, 2)`` validation pixel coordinates.
        train_labels: ``(n,)`` labels ``0..K-1`` of the training pixels.
        val_labels: ``(n,)`` labels ``0..K-1`` of the validation pixels.
        n_classes: Number of classes K.
    """

    cube: np.ndarray
    train: np.ndarray
    val: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray
    n_classes: int

    @property
    def n_bands(self) -> int:
        """Bands after preprocessing."""
        return int(self.cube.shape[2])


def data_key(config: RunConfig) -> tuple[Any, ...]:
    """What the prepared data depends on: trials with equal keys share it."""
    patch = config.model.patch_size if config.data.split == "disjoint" else None
    return (dataclasses.astuple(config.data), config.train.seed, patch)


def prepare_data(config: RunConfig, scene: Any) -> PreparedData:
    """Split ``scene`` and fit the preprocessing on its training pixels.

    Args:
        config: Uses ``config.data``, ``config.train.seed`` and (for the disjoint split,
            whose guard band depends on it) ``config.model.patch_size``.
        scene: A :class:`hsi_attn.data.Scene`.

    Raises:
        ValueError: On an unknown split, or an empty validation set (trials are scored
            on it, so it must hold pixels).
    """
    from hsi_attn.data import splits
    from hsi_attn.data.preprocess import fit_preprocessor

    data, seed = config.data, config.train.seed
    if data.split == "random":
        split = splits.split_random(scene.gt, data.train_size, val_size=data.val_size, seed=seed)
    elif data.split == "disjoint":
        split = splits.split_disjoint(scene.gt, data.train_size, patch_size=config.model.patch_size,
                                      seed=seed, val_size=data.val_size)
    else:
        raise ValueError(f"unknown split {data.split!r}. Accepted: random, disjoint.")
    if len(split.val) == 0:
        raise ValueError(
            f"the validation set is empty (val_size={data.val_size!r}); trials are scored on "
            "validation pixels, so use a positive --val-size"
        )
    preprocessor = fit_preprocessor(scene.cube, split.train, normalization=data.normalization,
                                    pca=data.pca, seed=seed)
    cube = np.ascontiguousarray(preprocessor.transform(scene.cube), dtype=np.float32)

    def labels(coords: np.ndarray) -> np.ndarray:
        return scene.gt[coords[:, 0], coords[:, 1]].astype(np.int64) - 1

    return PreparedData(cube=cube, train=split.train, val=split.val,
                        train_labels=labels(split.train), val_labels=labels(split.val),
                        n_classes=scene.n_classes)


def build_model(config: RunConfig, n_bands: int, n_classes: int) -> torch.nn.Module:
    """The model of ``config`` for ``n_bands`` bands (plain arguments; no trial inside)."""
    from hsi_attn.models import create_model

    model = config.model
    return create_model(model.name, n_bands=n_bands, n_classes=n_classes,
                        patch_size=model.patch_size, attention=model.attention,
                        attention_kwargs=model.attention_kwargs())


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
        data: From :func:`prepare_data`.
        callbacks: Extra callbacks (the pruning callback, the heartbeat...).
        device: Overrides ``config.train.device``.

    Returns:
        The history; ``val_oa`` per epoch.
    """
    from hsi_attn.data.patches import PatchSampler
    from hsi_attn.engine import resolve_device
    from hsi_attn.training_run import PatchSource

    train_cfg = config.train
    target = resolve_device(device if device is not None else train_cfg.device)
    seed_everything(train_cfg.seed)
    model = build_model(config, data.n_bands, data.n_classes)
    sampler = PatchSampler(data.cube, config.model.patch_size, pad_mode=config.data.pad_mode,
                           device=target)
    train_source = PatchSource(sampler, data.train, data.train_labels,
                               batch_size=train_cfg.batch_size, shuffle=True, drop_last=True,
                               augment=train_cfg.augment)
    val_source = PatchSource(sampler, data.val, data.val_labels,
                             batch_size=train_cfg.eval_batch_size, shuffle=False)
    built_in: list[Callback] = [BestModel(restore=False)]
    if train_cfg.patience is not None:
        built_in.append(EarlyStopping(train_cfg.patience))
    return fit(model, train_source, config=train_cfg, val_data=val_source,
               callbacks=[*built_in, *callbacks], device=target)
