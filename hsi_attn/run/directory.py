"""The run directory: its files, its name, and the rules for reusing one.

A run directory holds::

    RUN_DIR/
      config.json     RunConfig + command, hsi_attn/torch versions, device
      checkpoint.pt   model, optimiser, scheduler, RNG states, history, config,
                      preprocessing state and the split (everything to re-evaluate)
      history.csv     one row per epoch
      metrics.json    OA, AA, kappa, per-class accuracy, confusion matrix, timing
      prediction.npy  (H, W) int64 full-scene labels 1..K
      map.png         ground truth | prediction | prediction on labelled pixels
      confusion.png   row-normalised confusion matrix
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from hsi_attn.config import RunConfig

__all__ = ["RUN_FILES", "RunDirectoryError", "check_out_dir", "config_diff", "default_run_dir",
           "load_run_config"]


RUN_FILES = (
    "config.json", "metrics.json", "history.csv", "checkpoint.pt",
    "prediction.npy", "map.png", "confusion.png",
)


class RunDirectoryError(FileNotFoundError):
    """A run directory is missing, incomplete, or would be overwritten."""


def default_run_dir(config: RunConfig, base: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<scene>-<model>-<attention>-seed<seed>``."""
    model, seed = config.model, config.train.seed
    return Path(base) / f"{config.data.scene}-{model.name}-{model.attention}-seed{seed}"


def check_out_dir(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pick one")
    existing = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"--out {str(out_dir)!r} is a file, not a directory")
    if resume:
        missing = [f for f in ("config.json", "checkpoint.pt") if f not in existing]
        if missing:
            raise RunDirectoryError(
                f"cannot resume: {str(out_dir)!r} has no {' or '.join(missing)}; "
                "start the run without --resume"
            )
        return
    if existing and not overwrite:
        raise RunDirectoryError(
            f"run directory {str(out_dir)!r} is not empty ({', '.join(existing[:4])}"
            f"{', ...' if len(existing) > 4 else ''}); pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out"
        )
    if overwrite:
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)


def load_run_config(run_dir: str | os.PathLike[str]) -> tuple[RunConfig, dict[str, Any]]:
    """Read ``config.json`` of a run: the RunConfig and the whole saved dict.

    Raises:
        RunDirectoryError: If the directory or its config.json is missing.
        ValueError: If config.json is not valid.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(
            f"run directory {str(run_dir)!r} does not exist; train one with hsi-attn train --out"
        )
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunDirectoryError(f"{str(run_dir)!r} is not a run directory: it has no config.json")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        sections = {k: saved[k] for k in ("data", "model", "train") if k in saved}
        config = RunConfig.from_dict(sections)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{str(path)!r} is not valid run configuration JSON ({exc})") from None
    return config, saved


def config_diff(old: RunConfig, new: RunConfig) -> str:
    changes = []
    for section in ("data", "model", "train"):
        a, b = dataclasses.asdict(getattr(old, section)), dataclasses.asdict(getattr(new, section))
        changes += [f"{section}.{k}: {a[k]!r} -> {b[k]!r}" for k in a if a[k] != b[k]]
    return "; ".join(changes) or "none"
