"""The mutable training state that the loop owns and every callback hook receives."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from hsi_attn.config import TrainConfig
from hsi_attn.engine.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
from hsi_attn.engine.history import History
from hsi_attn.engine.seeding import capture_rng_state

if TYPE_CHECKING:
    from hsi_attn.engine.callbacks import CallbackList

__all__ = ["TrainState"]


@dataclass(eq=False)
class TrainState:
    """Everything a callback may read (and, for the flags, write) during training.

    Attributes:
        model: The module being trained (never the ``torch.compile`` wrapper).
        optimizer: Its optimiser.
        scheduler: Per-step LR schedule or None.
        scaler: fp16 gradient scaler or None.
        config: The training configuration.
        device: Where training runs.
        generator: The CPU generator that orders the data.
        callbacks: The dispatcher (its states go into checkpoints).
        history: Per-epoch records so far.
        epoch: Current epoch (1-based) inside an epoch; last finished one outside.
        batch: Optimiser steps taken in the current epoch.
        batch_loss: Loss of the last batch.
        stop_training: Set by a callback to stop after the current epoch.
        stop_reason: Why training stopped early, for the log.
        completed: True once training ended normally (also by early stopping).
        extra: Caller's data stored in every checkpoint (e.g. preprocessing state).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler | None
    scaler: torch.amp.GradScaler | None
    config: TrainConfig
    device: torch.device
    generator: torch.Generator
    callbacks: CallbackList
    history: History = field(default_factory=History)
    epoch: int = 0
    batch: int = 0
    batch_loss: float = math.nan
    stop_training: bool = False
    stop_reason: str | None = None
    completed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def checkpoint_payload(self, *, finished: bool = False) -> dict[str, Any]:
        """The dict written to a checkpoint (see :mod:`hsi_attn.engine.checkpoint`)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "finished": finished,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": capture_rng_state(self.generator),
            "history": [dict(r) for r in self.history],
            "callbacks": self.callbacks.state_dict(),
            "config": asdict(self.config),
            "extra": self.extra,
        }

    def save_checkpoint(self, path: str | os.PathLike[str], *, finished: bool = False) -> None:
        """Write :meth:`checkpoint_payload` to ``path`` atomically."""
        save_checkpoint(path, self.checkpoint_payload(finished=finished))
