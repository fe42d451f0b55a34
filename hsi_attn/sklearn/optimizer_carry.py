"""Optimiser moments carried from one ``partial_fit`` call to the next."""

from __future__ import annotations

import copy
from typing import Any

import torch

from hsi_attn.engine import Callback, TrainState

__all__ = ["CarryOptimizerState", "to_cpu"]


class CarryOptimizerState(Callback):
    """Hands optimiser moments from one engine run to the next.

    :func:`hsi_attn.engine.fit` builds a fresh optimiser on every call. ``partial_fit``
    runs one epoch per call, so this callback loads the moments saved by the previous
    call when training begins and keeps a CPU copy of them when it ends. The learning
    rate and weight decay always come from the current configuration, so
    ``set_params(lr=...)`` between calls takes effect.

    Args:
        saved: ``optimizer.state_dict()`` of the previous call, or None to start fresh.
    """

    order = 0

    def __init__(self, saved: dict[str, Any] | None) -> None:
        self.saved = saved

    def on_train_begin(self, state: TrainState) -> None:
        if self.saved is None:
            return
        # A copy: load_state_dict keeps same-device tensors, which the steps then
        # update in place, and the saved state belongs to the fitted estimator.
        state.optimizer.load_state_dict(to_cpu(self.saved))
        for group in state.optimizer.param_groups:
            group["lr"] = state.config.lr
            group["weight_decay"] = state.config.weight_decay

    def on_train_end(self, state: TrainState) -> None:
        self.saved = to_cpu(state.optimizer.state_dict())


def to_cpu(value: Any) -> Any:
    """Deep copy of nested dicts/lists with every tensor moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return copy.deepcopy(value)
