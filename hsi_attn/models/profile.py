"""Parameter counts and forward FLOPs per patch (and per pixel for dense twins).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts
convolutions and matrix products (``conv``, ``mm``, ``addmm``, ``bmm``) with the usual
convention FLOPs = 2 x multiply-adds (MACs); normalisation, activations, pooling and
elementwise gating are not counted. Both figures are reported.

Counting runs a module as it is; nothing in a forward pass knows it is being counted.
Dense figures are counted on the *reference* twin (``dense_twin()``): the model's own
arithmetic, with the head's convolutions as convolutions and the window average as a
pooling (uncounted, like the patch model's ``mean``), so no figure credits a twin with
work that is an implementation detail of the fused twin (the zeros its band matrices
multiply, the rows its two halves share).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.models.dense import DenseCapable


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def forward_flops(module: nn.Module, x: torch.Tensor) -> int:
    """FLOPs (2 x MACs) of one forward pass of ``module`` on ``x``, in eval mode."""
    with evaluation_mode(module), torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def _first_parameter(model: nn.Module) -> torch.Tensor:
    return next(model.parameters(), torch.empty(0))


def profile(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Parameters and forward cost of ``model`` per patch.

    Args:
        model: A patch classifier.
        input_shape: Shape of one input batch, e.g. ``(1, 1, B, p, p)``; the counts are
            divided by its first entry to give per-patch figures.

    Returns:
        ``{"params", "flops_per_patch", "macs_per_patch", "convention"}``.
    """
    if len(input_shape) != 5 or input_shape[0] < 1:
        raise ValueError(f"input_shape must be (N, 1, B, p, p) with N >= 1, got {input_shape}")
    reference = _first_parameter(model)
    x = torch.zeros(input_shape, dtype=reference.dtype, device=reference.device)
    flops = forward_flops(model, x) / input_shape[0]
    return {
        "params": count_parameters(model),
        "flops_per_patch": flops,
        "macs_per_patch": flops / 2,
        "convention": "FLOPs = 2 x MACs of conv/linear/matmul, forward only",
    }


def dense_profile(model: DenseCapable, *, height: int = 16, width: int = 16) -> dict[str, Any]:
    """Forward FLOPs per pixel of the dense twin, and the redundancy factor.

    The redundancy factor is per-patch FLOPs divided by dense FLOPs per pixel: how much
    work one-pass dense inference removes compared with one forward pass per pixel.
    Dense FLOPs are those of the reference twin's pass over the padded probe scene
    (halo included).

    Args:
        model: A dense-capable patch classifier (an ``nn.Module``).
        height: Height of the probe scene (the halo makes small scenes pessimistic).
        width: Width of the probe scene.

    Returns:
        ``{"flops_per_pixel", "flops_per_patch", "redundancy_factor", "probe"}``.
    """
    if not isinstance(model, DenseCapable):
        raise ValueError(
            f"{type(model).__name__} has no dense twin; only DenseCapable models have a "
            "dense profile"
        )
    p, bands = model.patch_size, model.n_bands
    reference = _first_parameter(model)  # type: ignore[arg-type]
    cube = torch.zeros(
        (1, 1, bands, height + p - 1, width + p - 1), dtype=reference.dtype, device=reference.device
    )
    per_pixel = forward_flops(model.dense_twin(), cube) / (height * width)
    per_patch = profile(model, (1, 1, bands, p, p))["flops_per_patch"]  # type: ignore[arg-type]
    return {
        "flops_per_pixel": per_pixel,
        "flops_per_patch": per_patch,
        "redundancy_factor": per_patch / per_pixel,
        "probe": [height, width],
    }
