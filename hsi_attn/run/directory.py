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

Without ``--out`` a run is named after what it computes
(``runs/<scene>-<split>-<model>-<attention>-seed<seed>``, the cube's file stem in place
of the scene for ``--cube``), and a rerun takes the next free name (``...-seed0-2``)
instead of failing. An explicit ``--out`` that holds a run needs ``--resume`` or
``--overwrite``. How a run starts in its directory is :mod:`hsi_attn.run.start`.

Under ``torchrun`` only rank 0 chooses, checks and writes the run directory (see
:mod:`hsi_attn.run.train`); ``config.json`` then also records ``world_size``.
"""

from __future__ import annotations

import json
import logging
import os
from itertools import count
from pathlib import Path
from typing import Any

from hsi_attn.config import RunConfig

__all__ = ["RUN_FILES", "RunDirectoryError", "check_out_dir", "check_same_settings",
           "choose_run_dir", "config_diff", "default_run_dir", "holds_run", "load_run_config",
           "next_free_run_dir", "run_name"]

logger = logging.getLogger(__name__)

RUN_FILES = (
    "config.json", "metrics.json", "history.csv", "checkpoint.pt",
    "prediction.npy", "map.png", "confusion.png",
)


class RunDirectoryError(FileNotFoundError):
    """A run directory is missing, incomplete, or would be overwritten."""


def run_name(config: RunConfig) -> str:
    """``<scene>-<split>-<model>-<attention>-seed<seed>``; the cube's file stem for a cube."""
    data, model = config.data, config.model
    source = Path(data.cube_path).stem if data.cube_path is not None else data.scene
    return f"{source}-{data.split}-{model.name}-{model.attention}-seed{config.train.seed}"


def default_run_dir(config: RunConfig, base: str | os.PathLike[str] = "runs") -> Path:
    """``runs/`` + :func:`run_name` (whether or not it is free; see :func:`next_free_run_dir`)."""
    return Path(base) / run_name(config)


def next_free_run_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is free, else the first free of ``path-2``, ``path-3``, ...

    Free means absent, or an empty directory.
    """
    path = Path(path)
    if _is_free(path):
        return path
    return next(c for n in count(2) if _is_free(c := path.with_name(f"{path.name}-{n}")))


def holds_run(path: Path) -> bool:
    """Whether ``path`` holds a run that ``--resume`` can continue (its config and checkpoint)."""
    return all((path / name).is_file() for name in ("config.json", "checkpoint.pt"))


def _is_free(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def choose_run_dir(config: RunConfig, out_dir: str | os.PathLike[str] | None, *,
                   resume: bool, overwrite: bool) -> Path:
    """The directory this run writes to, checked against the reuse rules.

    An explicit ``out_dir`` is used as given. Without one, the run goes to
    :func:`default_run_dir`, or with neither ``resume`` nor ``overwrite`` to the next
    free name after it (logged when it is not the default name itself).

    Raises:
        RunDirectoryError: See :func:`check_out_dir`.
        ValueError: If both ``resume`` and ``overwrite`` are set.
    """
    if out_dir is not None:
        out = Path(out_dir)
    elif resume or overwrite:
        out = default_run_dir(config)
    else:
        base = default_run_dir(config)
        out = next_free_run_dir(base)
        if out != base:
            logger.info("%s holds an earlier run; this run goes to %s", base, out)
    check_out_dir(out, resume=resume, overwrite=overwrite)
    return out


def check_out_dir(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Check that ``out_dir`` may take this run; writes nothing.

    Raises:
        RunDirectoryError: If ``out_dir`` is a file, holds files without ``overwrite``
            or ``resume``, or lacks a run to resume.
        ValueError: If both ``resume`` and ``overwrite`` are set.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pick one")
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"--out {str(out_dir)!r} is a file, not a directory")
    existing = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
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


def check_same_settings(run_dir: Path, config: RunConfig) -> None:
    """Check that ``config`` computes what the run in ``run_dir`` computed.

    Settings marked ``may_change_on_resume`` (device, precision, ...) may differ.

    Raises:
        ValueError: Naming every other setting that differs.
    """
    saved, _ = load_run_config(run_dir)
    if saved.without_resumable() != config.without_resumable():
        raise ValueError(
            f"cannot resume {str(run_dir)!r} with different settings "
            f"({config_diff(saved, config)}); repeat the original options or start a new run"
        )


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
    """``section.name: old -> new`` for every setting that changes what a run computes."""
    a, b = old.without_resumable(), new.without_resumable()
    changes = [f"{section}.{k}: {a[section][k]!r} -> {b[section][k]!r}"
               for section in a for k in a[section] if a[section][k] != b[section][k]]
    return "; ".join(changes) or "none"
