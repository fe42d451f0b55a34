"""Checkpoint files: written atomically, read back with a clear error when damaged.

A checkpoint is a plain dict saved with :func:`torch.save`. It is written to a temporary
file in the same folder and moved over the old one with :func:`os.replace`, so a crash or
Ctrl-C during the write leaves the previous checkpoint intact. It is read with
``weights_only=True``: loading a checkpoint never runs code from the file.

Keys written by :func:`hsi_attn.engine.fit` (format version 1): ``format``, ``epoch``,
``finished``, ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``rng``, ``history``,
``callbacks``, ``config`` (the TrainConfig as a dict) and ``extra`` (whatever the caller
passed, e.g. the run's preprocessing state).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from hsi_attn.engine.atomic import atomic_write

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or not an hsi_attn checkpoint."""


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file, then rename).

    Args:
        path: Destination file; its folder must exist.
        payload: Plain dict of tensors, numbers, strings, lists and dicts.

    Returns:
        The destination path.
    """
    path = Path(path)
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    return path


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are loaded (default CPU).

    Raises:
        CheckpointError: If the file is missing, truncated or corrupt, or is not an
            hsi_attn checkpoint of a supported format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not exist; train a run first (hsi-attn train --out ...)"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or truncated ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); "
            "retrain, or resume from an intact copy"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{str(path)!r} is not an hsi_attn checkpoint of format {CHECKPOINT_FORMAT} "
            f"(found {found!r}); it was not written by this version of hsi_attn"
        )
    return payload
