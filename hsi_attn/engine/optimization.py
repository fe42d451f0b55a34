"""Optimisers and learning-rate schedules by name.

Schedules are stepped once per optimiser step (not per epoch), so short runs still see
the whole schedule; ``total_steps`` is ``epochs * batches_per_epoch``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from hsi_attn.config import TrainConfig
from hsi_attn.registry import lookup, make_registry

__all__ = ["OPTIMIZERS", "SCHEDULERS", "build_optimizer", "build_scheduler", "class_weights"]


def _adamw(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _adam(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _sgd(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
    )


OPTIMIZERS = make_registry(
    [("adamw", _adamw), ("adam", _adam), ("sgd", _sgd)], kind="optimizer"
)


def _cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, config: TrainConfig
) -> LRScheduler:
    # Linear warm-up over the first 5% of steps, then cosine decay to zero.
    warmup = max(1, total_steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _onecycle(
    optimizer: torch.optim.Optimizer, total_steps: int, config: TrainConfig
) -> LRScheduler:
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps)


def _step(
    optimizer: torch.optim.Optimizer, total_steps: int, config: TrainConfig
) -> LRScheduler:
    # Divide by 10 after one and two thirds of training.
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.1)


SchedulerFactory = Callable[[torch.optim.Optimizer, int, TrainConfig], LRScheduler]

SCHEDULERS = make_registry(
    [("cosine", _cosine), ("onecycle", _onecycle), ("step", _step), ("none", None)],
    kind="scheduler",
)


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` over the trainable parameters.

    Raises:
        ValueError: On an unknown optimiser name (with suggestions) or a bad lr.
    """
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise ValueError(f"lr must be a positive number, got {config.lr!r}")
    factory = lookup(OPTIMIZERS, config.optimizer, kind="optimizer")
    return factory([p for p in model.parameters() if p.requires_grad], config)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> LRScheduler | None:
    """The per-step schedule named by ``config.scheduler`` (None for ``"none"``)."""
    factory: SchedulerFactory | None = lookup(SCHEDULERS, config.scheduler, kind="scheduler")
    if factory is None:
        return None
    return factory(optimizer, max(1, config.epochs * steps_per_epoch), config)


def class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``N / (K_present * count_k)``; 0 for absent classes."""
    counts = torch.bincount(labels.long().cpu(), minlength=n_classes).double()
    present = int((counts > 0).sum())
    weights = torch.where(counts > 0, counts.sum() / (present * counts.clamp(min=1)), 0.0)
    return weights.float()
