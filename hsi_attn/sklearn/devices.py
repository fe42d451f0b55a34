"""Where :class:`~hsi_attn.sklearn.HSIClassifier`'s network runs, across machines.

A fitted estimator is pickled with its weights as CPU tensors, never the live (maybe
CUDA) module; unpickling rebuilds the network and puts it back on the device it was
trained on when this machine has it, else on the CPU, so a GPU-trained estimator loads
anywhere.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from hsi_attn.config import ModelConfig
from hsi_attn.engine import resolve_device
from hsi_attn.models import create_model

__all__ = [
    "WEIGHTS_KEY",
    "may_use_cuda",
    "rebuild_model",
    "restore_model",
    "unpickled_device",
    "weights_on_cpu",
]

logger = logging.getLogger(__name__)

WEIGHTS_KEY = "_model_weights"
"""Key of the CPU weights in the pickled state, in place of ``model_``."""


def weights_on_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (a copy) with the module ``model_`` replaced by its weights on the CPU."""
    state = dict(state)  # may be the estimator's __dict__ itself
    model = state.pop("model_", None)
    if model is not None:
        state[WEIGHTS_KEY] = {
            k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
        }
    return state


def rebuild_model(
    config: ModelConfig, *, n_bands: int, n_classes: int, weights: dict[str, torch.Tensor]
) -> nn.Module:
    """The network of ``config`` with the pickled ``weights`` loaded, on the CPU.

    Building it draws initial weights; the global RNG is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        model = create_model(
            config.name,
            n_bands=n_bands,
            n_classes=n_classes,
            patch_size=config.patch_size,
            attention=config.attention,
            attention_kwargs=config.attention_kwargs(),
        )
    model.load_state_dict(weights)
    return model


def unpickled_device(trained_on: str) -> torch.device | None:
    """The device ``trained_on`` names, or None (logged) when this machine lacks it."""
    try:
        return resolve_device(trained_on)
    except ValueError:
        logger.warning(
            "this HSIClassifier was trained on %s, which this machine does not have; "
            "it now runs on the CPU", trained_on,
        )
        return None


def restore_model(estimator: Any, weights: dict[str, torch.Tensor]) -> None:
    """Give an unpickled ``estimator`` its network back, with the pickled ``weights``.

    The network goes to the device it was trained on (``device_``) when this machine
    has it, else to the CPU in fp32 (logged).
    """
    model = rebuild_model(
        estimator.model_config_, n_bands=estimator.n_bands_,
        n_classes=len(estimator.classes_), weights=weights,
    )
    device = unpickled_device(estimator.device_)
    if device is None:
        device = torch.device("cpu")
        estimator.precision_ = "fp32"  # fp16 needs a GPU; bf16 is slow on most CPUs
    estimator.model_ = model.to(device).eval()
    estimator.device_ = str(device)


def may_use_cuda(device: Any) -> bool:
    """Whether the ``device`` parameter can put the network on a CUDA GPU."""
    name = str(device).strip().lower()
    return name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
