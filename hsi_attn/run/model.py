"""The network of a run, checked with one tiny forward pass before training starts."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hsi_attn.config import RunConfig
from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.models import create_model, profile

__all__ = ["build_model", "model_profile"]


def build_model(config: RunConfig, n_bands: int, n_classes: int) -> nn.Module:
    """The model ``config.model`` describes, checked with one tiny forward pass.

    Raises:
        ValueError: On unknown names or a patch size the model cannot take.
    """
    model_cfg = config.model
    model = create_model(
        model_cfg.name, n_bands=n_bands, n_classes=n_classes, patch_size=model_cfg.patch_size,
        attention=model_cfg.attention, attention_kwargs=model_cfg.attention_kwargs(),
    )
    _check_forward(model, config, n_bands, n_classes)
    return model


def _check_forward(model: nn.Module, config: RunConfig, n_bands: int, n_classes: int) -> None:
    """Run one tiny forward so a misfit patch size fails now, with a readable message."""
    p = config.model.patch_size
    probe = torch.zeros(2, 1, n_bands, p, p)
    try:
        with evaluation_mode(model), torch.no_grad():
            out = model(probe)
    except RuntimeError as exc:
        raise ValueError(
            f"model {config.model.name!r} cannot take {p}x{p} patches of {n_bands} bands "
            f"({str(exc).splitlines()[0]}); try a larger --patch-size such as 9, or fewer "
            "PCA components"
        ) from None
    if tuple(out.shape) != (2, n_classes):
        raise ValueError(
            f"model {config.model.name!r} returned shape {tuple(out.shape)} for 2 patches; "
            f"expected (2, {n_classes})"
        )


def model_profile(model: nn.Module, n_bands: int, patch_size: int) -> dict[str, Any]:
    info = profile(model, (1, 1, n_bands, patch_size, patch_size))
    return {k: v for k, v in dict(info).items() if isinstance(v, (int, float, str))}
