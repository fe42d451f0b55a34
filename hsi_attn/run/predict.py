"""Classify a cube with a trained run and write the map."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hsi_attn.data import load_cube
from hsi_attn.engine import resolve_device
from hsi_attn.engine.atomic import save_npy_atomic
from hsi_attn.inference import predict_scene
from hsi_attn.run.directory import load_run_config
from hsi_attn.run.figures import plot_classification_map, save_figure
from hsi_attn.run.trained import load_trained_run

__all__ = ["predict_cube", "predict_probabilities"]


def predict_probabilities(
    model: nn.Module,
    cube: np.ndarray,
    *,
    patch_size: int,
    pad_mode: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Class probabilities ``(H, W, K)`` for every pixel of a preprocessed cube.

    Delegates to :func:`hsi_attn.inference.predict_scene` (dense one-pass inference for
    models that have an exact dense form, batched per-patch inference otherwise).
    """
    probs = predict_scene(model, cube, patch_size=patch_size, batch_size=batch_size,
                          device=device, pad_mode=pad_mode)
    return np.asarray(probs, dtype=np.float32)


def predict_cube(
    run_dir: str | os.PathLike[str],
    cube_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    variable: str | None = None,
    overwrite: bool = False,
    device: str | None = None,
) -> np.ndarray:
    """Classify every pixel of a new cube with a trained run and write the map.

    Args:
        run_dir: The trained run directory.
        cube_path: ``.mat``, ENVI ``.hdr``, ``.npy`` or ``.npz`` cube ``(H, W, B)``.
        out_path: ``.npy`` (labels; a ``.png`` map is written beside it) or ``.png``.
        variable: Array name inside the cube file, when it holds several.
        overwrite: Replace existing output files.
        device: Device override.

    Returns:
        ``(H, W)`` int64 labels ``1..K``.

    Raises:
        ValueError: If the cube's band count differs from the run's, or the output
            suffix is not .npy/.png.
        FileExistsError: If an output exists and ``overwrite`` is False.
    """
    run_dir, out_path = Path(run_dir), Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise ValueError(f"--out {str(out_path)!r} must end in .npy (labels + map) or .png (map)")
    targets = [out_path] if suffix == ".png" else [out_path, out_path.with_suffix(".png")]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exists; pass --overwrite or choose "
                              "another --out")
    config, _ = load_run_config(run_dir)
    target = resolve_device(device if device is not None else config.train.device)
    loaded = load_trained_run(run_dir, target)
    cube = load_cube(cube_path, variable)
    expected = int(loaded.extra["n_bands_in"])
    if cube.ndim != 3 or cube.shape[2] != expected:
        raise ValueError(
            f"cube {str(cube_path)!r} has shape {cube.shape} ({cube.shape[-1]} bands) but the run "
            f"{str(run_dir)!r} was trained on {expected}-band {loaded.extra['scene']} data; "
            "give a cube from the same sensor with bands last"
        )
    transformed = np.ascontiguousarray(loaded.preprocessor.transform(cube), dtype=np.float32)
    probs = predict_probabilities(
        loaded.model, transformed, patch_size=config.model.patch_size,
        pad_mode=config.data.pad_mode, batch_size=config.train.eval_batch_size, device=target,
    )
    labels = probs.argmax(axis=2).astype(np.int64) + 1
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        save_npy_atomic(out_path, labels)
    title = f"{Path(cube_path).name} | {config.model.name} + {config.model.attention}"
    save_figure(plot_classification_map(labels, list(loaded.extra["class_names"]), title=title),
                targets[-1])
    return labels
