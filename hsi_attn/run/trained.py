"""A trained run loaded back from its directory: configuration, model, preprocessing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hsi_attn.config import RunConfig
from hsi_attn.data.preprocess import Preprocessor
from hsi_attn.engine import CheckpointError, load_checkpoint
from hsi_attn.run.checkpoint_values import from_checkpoint
from hsi_attn.run.directory import load_run_config
from hsi_attn.run.model import build_model

__all__ = ["TrainedRun", "load_trained_run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedRun:
    config: RunConfig
    model: nn.Module
    extra: dict[str, Any]
    preprocessor: Preprocessor
    finished: bool


def load_trained_run(run_dir: Path, device: torch.device) -> TrainedRun:
    config, _ = load_run_config(run_dir)
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    try:
        extra = from_checkpoint(payload["extra"])
        n_bands, n_classes = int(extra["n_bands"]), int(extra["n_classes"])
        preprocessor = Preprocessor.from_state_dict(extra["preprocessor"])
        model = build_model(config, n_bands, n_classes)
        model.load_state_dict(payload["model"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint in {str(run_dir)!r} does not match its config.json or is incomplete "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); retrain the run"
        ) from None
    if not payload.get("finished"):
        logger.warning("the run in %s did not finish; using its last checkpoint", run_dir)
    model.to(device).eval()
    return TrainedRun(config, model, extra, preprocessor, bool(payload.get("finished")))
