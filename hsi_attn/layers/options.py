"""Validation of the attention knobs shared by several layers.

``reduction`` (r) and ``kernel_size`` (k) are what the project tunes, so they are
honoured exactly and checked once, here, with errors that say what is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from hsi_attn.registry import lookup, make_registry

GATES = make_registry(
    [("sigmoid", torch.sigmoid), ("hard_sigmoid", F.hardsigmoid)], kind="gate"
)
"""Gate activations by name; both map the real line into [0, 1]."""


def gate_function(name: str) -> Callable[[Tensor], Tensor]:
    """Return the gate activation called ``name`` ("sigmoid" or "hard_sigmoid")."""
    return lookup(GATES, name, kind="gate")


def check_channels(channels: int) -> int:
    """Return ``channels`` if it is a positive int, else raise ValueError."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    return channels


def hidden_width(channels: int, reduction: int) -> int:
    """Width of the SE/CBAM bottleneck: ``max(1, channels // reduction)``.

    Rounding down keeps ``2 * C * hidden`` parameters, equal to ``2 C^2 / r`` whenever r
    divides C; the floor of 1 keeps the bottleneck from vanishing when r > C.

    Raises:
        ValueError: If ``reduction`` is not an int >= 1.
    """
    if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
        raise ValueError(
            f"reduction must be an int >= 1 (the tuned values are 2, 4, 8, 16, 32), "
            f"got {reduction!r}"
        )
    return max(1, check_channels(channels) // reduction)


def eca_kernel_size(channels: int, *, gamma: int = 2, b: int = 1) -> int:
    """ECA's adaptive kernel size: ``t = int(|log2(C) + b| / gamma)``, made odd.

    Wang et al., CVPR 2020, Eq. 12: an even t becomes t + 1. For example C=16 gives 3,
    C=64 gives 3, C=200 gives 5 and C=256 gives 5.
    """
    t = int(abs(math.log2(check_channels(channels)) + b) / gamma)
    return t if t % 2 else t + 1


def resolve_kernel_size(kernel_size: int | str, channels: int) -> int:
    """Turn ``kernel_size`` ("adaptive" or an odd int >= 1) into an odd int.

    Raises:
        ValueError: On an even, non-positive or otherwise unrecognised value; an even
            kernel would shift the descriptor by half a step.
    """
    if kernel_size == "adaptive":
        return eca_kernel_size(channels)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise ValueError(
            f"kernel_size must be 'adaptive' or an odd int >= 1, got {kernel_size!r}"
        )
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd and >= 1 (e.g. 1, 3, 5, 7, 9) so the descriptor "
            f"stays centred, got {kernel_size}"
        )
    return kernel_size
