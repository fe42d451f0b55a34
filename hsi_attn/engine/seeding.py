"""Seeding and RNG snapshots, so that a run and its resumed twin draw the same numbers.

Every source of randomness in training is covered: Python's ``random``, NumPy's legacy
global generator, torch's CPU (and CUDA) generators, used for weight init and dropout,
and a dedicated CPU :class:`torch.Generator` that orders the data. The data-order
generator lives on the CPU on every device so that the same seed shuffles the same way
on a laptop and on a GPU.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state", "seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch, and return a fresh data-order generator.

    Args:
        seed: Non-negative integer seed.

    Returns:
        A CPU :class:`torch.Generator` seeded with ``seed``, for shuffling batches.

    Raises:
        ValueError: If ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Snapshot every RNG state (python, numpy, torch CPU/CUDA and ``generator``)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state_to_plain(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore a snapshot taken by :func:`capture_rng_state`.

    Args:
        state: The snapshot.
        generator: The data-order generator to restore in place, if any.
    """
    random.setstate(_as_python_state(state["python"]))
    np.random.set_state(_numpy_state_from_plain(state["numpy"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"].cpu())


def _as_python_state(state: Any) -> tuple:
    # torch.load(weights_only=True) gives lists where random.getstate() gave tuples.
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _numpy_state_to_plain(state: tuple) -> dict[str, Any]:
    # Plain types only, so checkpoints load with torch.load(weights_only=True).
    name, keys, pos, has_gauss, cached = state
    return {
        "name": str(name),
        "keys": [int(k) for k in keys],
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _numpy_state_from_plain(state: dict[str, Any]) -> tuple:
    keys = np.asarray(state["keys"], dtype=np.uint32)
    return (state["name"], keys, state["pos"], state["has_gauss"], state["cached"])
