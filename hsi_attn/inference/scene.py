"""Full-scene prediction: class probabilities for every pixel, borders included.

Two exact methods, one answer:

* ``"patch"`` gathers the p x p window around each pixel from the padded cube, in
  batches, and runs the model on them: any patch classifier works, but every interior
  feature is recomputed once per window that contains it (up to p^2 times);
* ``"dense"`` runs the model's fused fully-convolutional twin (see
  :mod:`hsi_attn.models.dense`) over spatial tiles of the padded cube, each with a halo
  of p // 2 pixels, and stitches the tiles; the tile size comes from a memory budget
  (:mod:`hsi_attn.inference.tiles`). It computes each shared feature once and gives
  the same probabilities as ``"patch"`` (equal to rounding error, checked by the tests
  in float64);
* ``"auto"`` picks ``"dense"`` when the model is :class:`~hsi_attn.models.DenseCapable`,
  else ``"patch"``.

Both pad the cube the same way (``pad_mode``), so border pixels see the same mirrored
windows as in training.

On Ampere and later GPUs cuDNN runs float32 convolutions in TF32 by default, which moved
probabilities by up to 1.4e-3 from the CPU's on an H200 (dense and patch still agree to
1e-6 with each other); set ``torch.backends.cudnn.allow_tf32 = False`` for maps that
match the CPU's to float32 rounding.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import Tensor, nn

from hsi_attn.checks import check_choice, check_int, check_patch_size
from hsi_attn.data.patches import PAD_MODES, PatchSampler, iter_scene_batches
from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.inference.tiles import probed_tile_size, tile_grid
from hsi_attn.models.dense import DenseCapable, fold_batch_norm

logger = logging.getLogger(__name__)

METHODS = ("auto", "patch", "dense")


def predict_scene(
    model: nn.Module,
    cube: np.ndarray,
    *,
    patch_size: int,
    method: str = "auto",
    batch_size: int = 512,
    device: torch.device | str | None = None,
    max_memory: int = 128 << 20,
    pad_mode: str = "reflect",
    tile_size: int | None = None,
) -> np.ndarray:
    """Class probabilities for every pixel of ``cube``.

    Args:
        model: A patch classifier mapping ``(N, 1, B, p, p)`` to logits ``(N, K)``. It
            is run in eval mode (the modules that were training are switched back
            afterwards).
        cube: The preprocessed scene ``(H, W, B)`` (same normalisation and PCA as in
            training). Its values are rounded to float32, as training patches are; the
            network then computes in its own dtype.
        patch_size: Odd window side p the model was built for.
        method: ``"auto"``, ``"patch"`` or ``"dense"`` (see the module docstring).
        batch_size: Patches per forward pass for the ``"patch"`` method.
        device: Where to compute; default the device of the model's parameters.
        max_memory: Approximate bound in bytes on the activations of one dense tile.
        pad_mode: How the borders are padded, ``"reflect"`` or ``"symmetric"``.
        tile_size: Side of the dense output tiles; None derives it from ``max_memory``.

    Returns:
        Probabilities ``(H, W, K)`` (softmax over K) in the model's dtype.

    Raises:
        ValueError: On an unknown method or pad mode, a cube that is not ``(H, W, B)``
            or holds NaN/Inf, a band count or patch size the model was not built for,
            ``method="dense"`` on a model without a dense twin, or a non-positive batch
            size, memory budget or tile size.
    """
    method = check_choice(method, "method", choices=METHODS)
    pad_mode = check_choice(pad_mode, "pad_mode", choices=PAD_MODES)
    check_int(batch_size, "batch_size")
    check_int(max_memory, "max_memory")
    if tile_size is not None:
        check_int(tile_size, "tile_size")
    reference = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (
        reference.device if reference is not None else torch.device("cpu")
    )
    cube = _check_cube(cube, model, patch_size)
    dense_capable = isinstance(model, DenseCapable)
    if method == "dense" and not dense_capable:
        raise ValueError(
            f"method='dense' needs a model with an exact dense twin, but "
            f"{type(model).__name__} is not DenseCapable; use method='patch' (or 'auto', "
            "which picks the fastest exact method)."
        )
    chosen = "dense" if method == "dense" or (method == "auto" and dense_capable) else "patch"
    start = time.perf_counter()
    with evaluation_mode(model), torch.inference_mode():
        if chosen == "dense":
            probs = _predict_dense(model, cube, device, max_memory, pad_mode, tile_size)  # type: ignore[arg-type]
        else:
            probs = _predict_patches(model, cube, patch_size, device, batch_size, pad_mode)
    logger.info(
        "predicted %dx%d pixels with method=%s in %.2f s",
        cube.shape[0], cube.shape[1], chosen, time.perf_counter() - start,
    )
    return probs


def _predict_patches(
    model: nn.Module,
    cube: np.ndarray,
    patch_size: int,
    device: torch.device,
    batch_size: int,
    pad_mode: str,
) -> np.ndarray:
    height, width, _ = cube.shape
    sampler = PatchSampler(cube, patch_size, pad_mode=pad_mode, device=device)
    dtype = _dtype_of(model)
    # Batch norm folded into its convolutions: 8 % faster on the flagship (entry 6 of
    # hsi_attn.models.dense.cpu_choices); the model itself keeps its plain network.
    folded = fold_batch_norm(model)
    chunks = [
        torch.softmax(folded(patches.to(dtype)), dim=1).cpu()
        for _, patches in iter_scene_batches(sampler, batch_size=batch_size)
    ]
    return torch.cat(chunks).numpy().reshape(height, width, -1)


def _predict_dense(
    model: DenseCapable,
    cube: np.ndarray,
    device: torch.device,
    max_memory: int,
    pad_mode: str,
    tile_size: int | None,
) -> np.ndarray:
    half = model.patch_size // 2
    padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode=pad_mode)
    return predict_padded_dense(model, padded, device=device, max_memory=max_memory,
                                tile_size=tile_size)


def predict_padded_dense(
    model: DenseCapable,
    padded: np.ndarray,
    *,
    device: torch.device,
    max_memory: int,
    tile_size: int | None = None,
    twin: nn.Module | None = None,
) -> np.ndarray:
    """Dense probabilities of a window already padded by ``p // 2`` on each side.

    The core of ``predict_scene(method="dense")``, also run by streaming prediction on
    each cube tile read with its halo (:mod:`hsi_attn.inference.stream`). Call it under
    ``torch.inference_mode()`` with the model in eval mode.

    Args:
        model: The dense-capable patch model.
        padded: ``(h + p - 1, w + p - 1, B)`` float32 window: the pixels to classify and
            their halo (scene borders padded as the scene is).
        device: Where the twin runs.
        max_memory: Approximate bound in bytes on the activations of one dense tile.
        tile_size: Side of the dense output tiles; None derives it from ``max_memory``.
        twin: ``model.fused_twin()``, when the caller keeps it for many windows; None
            builds it.

    Returns:
        Probabilities ``(h, w, K)`` in the model's dtype.
    """
    p = model.patch_size
    height, width = padded.shape[0] - (p - 1), padded.shape[1] - (p - 1)
    twin = twin if twin is not None else model.fused_twin()
    # A band-first view, not a copy: the twin's first step copies its input anyway.
    scene = torch.from_numpy(padded).permute(2, 0, 1)[None, None]
    scene = scene.to(_dtype_of(model))  # type: ignore[arg-type]
    tile = tile_size or probed_tile_size(
        model, twin, n_bands=padded.shape[2], max_memory=max_memory, device=device,
        dtype=_dtype_of(twin),
    )
    tiles = list(tile_grid(height, width, tile))
    logger.debug("dense inference: %d tile(s) of up to %dx%d pixels", len(tiles), tile, tile)
    out = None
    for top, left, h, w in tiles:
        window = scene[..., top : top + h + p - 1, left : left + w + p - 1].to(device)
        probs = torch.softmax(twin(window), dim=1)[0].permute(1, 2, 0).cpu().numpy()
        if out is None:
            out = np.empty((height, width, probs.shape[2]), dtype=probs.dtype)
        out[top : top + h, left : left + w] = probs
    return out


def _check_cube(cube: np.ndarray, model: nn.Module, patch_size: int) -> np.ndarray:
    array = cube.detach().cpu().numpy() if isinstance(cube, Tensor) else np.asarray(cube)
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(
            f"cube must be a non-empty (H, W, B) array (bands last), got shape {array.shape}"
        )
    bands = getattr(model, "n_bands", None)
    if bands is not None and array.shape[2] != bands:
        raise ValueError(
            f"the cube has {array.shape[2]} bands but the model was built for {bands}; "
            f"apply the training preprocessing (same bands, same PCA) so the cube has {bands}."
        )
    built_for = getattr(model, "patch_size", None)
    if built_for is not None and patch_size != built_for:
        raise ValueError(
            f"patch_size={patch_size!r} does not fit this model, which was built for "
            f"{built_for}x{built_for} patches; pass patch_size={built_for}."
        )
    check_patch_size(patch_size)
    if not np.all(np.isfinite(array)):
        raise ValueError("cube holds NaN or Inf values; replace or mask them before predicting")
    # Patches are float32 (as in training); both methods see these same input values.
    return np.ascontiguousarray(array, dtype=np.float32)


def _dtype_of(model: nn.Module) -> torch.dtype:
    reference = next(model.parameters(), None)
    return reference.dtype if reference is not None else torch.float32


