"""Streaming prediction: a cube of any size, read tile by tile, classified within a memory budget.

:func:`predict_stream` never holds the whole cube, its preprocessed copy or its map. It
reads the cube in tiles (full-width row strips when they fit the budget, blocks
otherwise), each with a halo of ``p // 2`` pixels, preprocesses each tile with the run's
fitted :class:`~hsi_attn.data.preprocess.Preprocessor` (per pixel), classifies it with
the same code as :func:`~hsi_attn.inference.predict_scene` (the dense twin through
:func:`~hsi_attn.inference.scene.predict_padded_dense` for dense-capable models, the
per-patch method otherwise) and hands the result to its writers
(:mod:`hsi_attn.inference.writers`) before reading the next tile.

**Same map as in memory.** The halo at a scene edge is built by mapping global row and
column indices through the pad mode (``numpy.pad`` of the index range), so every tile,
however thin, sees exactly the padded scene :func:`predict_scene` sees: the streamed
map equals ``predict_scene`` on the whole preprocessed cube, pixel for pixel.

**Bounded memory.** ``max_memory`` is split between the network's activations (a
quarter: the dense tile size is probed from it as in ``predict_scene``), the
preprocessing's float64 working rows (an eighth) and the tile's arrays (the rest: the
cube tile, its no-data mask, the preprocessed tile, the probabilities and the writers'
per-tile arrays), whose bytes per pixel are counted from the band counts and dtypes. The
tile size follows, so peak memory depends on the budget and the band counts, not on the
scene's size.

**No data.** Pixels that :func:`hsi_attn.data.nodata_mask` marks (the cube's nodata
value, all-zero or NaN spectra) get preprocessed spectra of 0, so they do not spread
NaN into their neighbours' windows, and are written as nodata.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hsi_attn.checks import check_choice, check_int, check_patch_size
from hsi_attn.data.patches import PAD_MODES
from hsi_attn.data.preprocess import Preprocessor
from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.inference.scene import predict_padded_dense, predict_scene
from hsi_attn.inference.tile_loop import (
    STAGES,
    ProgressCallback,
    StreamStats,
    padded_indices,
    run_tiles,
    stream_tile_shape,
    tile_grid_of,
)
from hsi_attn.inference.writers.base import TileWriter
from hsi_attn.models.dense import DenseCapable

# The tile loop's names are re-exported: callers of the streaming API find them here.
__all__ = ["STAGES", "ProgressCallback", "StreamStats", "padded_indices", "predict_stream",
           "run_tiles", "stream_tile_shape", "tile_grid_of"]

logger = logging.getLogger(__name__)

_ACTIVATION_SHARE = 4  # 1/4 of the budget for the network's activations
_PREPROCESS_SHARE = 8  # 1/8 for the preprocessing's float64 working rows
_FLOAT64_COPIES = 3  # transform: the float64 rows, (x - offset), its quotient
_PER_CLASS_BYTES = 48  # probabilities (float32 twice) + quantised-probability temporaries
_PER_PIXEL_BYTES = 64  # mask, indices, codes and their temporaries

_TORCH_CONVERTS = frozenset({"int8", "uint8", "int16", "int32", "int64", "float32", "float64"})
"""Native-order dtypes that torch converts to float64 itself."""


class _FoldedPreprocessing:
    """The run's preprocessing as one affine map (:meth:`Preprocessor.affine`) per chunk.

    One float64 matrix product (torch's: 2.4x numpy's here, 137k spectra x 200 bands x
    30 components, 55 vs 135 ms on this project's 2-core CPU) instead of four passes over
    the raw spectra, the largest cost of streaming a 200-band cube; the float32 tile is
    :meth:`Preprocessor.transform`'s but for a rare last-bit rounding. Without PCA the
    transform is elementwise already and is used as it is.
    """

    def __init__(self, preprocessor: Preprocessor) -> None:
        self.preprocessor = preprocessor
        folded = preprocessor.affine()
        self.weights: torch.Tensor | None = None
        if folded is not None:
            self.weights, self.bias = (torch.from_numpy(a) for a in folded)

    def __call__(self, spectra: np.ndarray) -> np.ndarray:
        """``(n, B)`` raw spectra -> ``(n, B')`` float32 (the transform's checks and
        non-finite handling when a spectrum is not finite)."""
        if self.weights is None or (spectra.dtype.kind == "f"
                                    and not np.isfinite(spectra).all()):
            return self.preprocessor.transform(spectra[None])[0]
        if spectra.dtype.isnative and spectra.dtype.name in _TORCH_CONVERTS:
            flat = torch.from_numpy(np.ascontiguousarray(spectra)).to(torch.float64)
        else:  # other byte orders and integer widths: numpy converts
            flat = torch.from_numpy(spectra.astype(np.float64))
        return torch.addmm(self.bias, flat, self.weights).to(torch.float32).numpy()


def _preprocess(block: np.ndarray, missing: np.ndarray, transform: _FoldedPreprocessing,
                rows_per_chunk: int) -> np.ndarray:
    """The preprocessed tile, float32, with 0 where ``missing``; in row chunks."""
    out = np.empty((*block.shape[:2], transform.preprocessor.n_bands_out), dtype=np.float32)
    for start in range(0, block.shape[0], rows_per_chunk):
        stop = start + rows_per_chunk
        rows, gone = block[start:stop], missing[start:stop]
        if gone.any():
            rows = rows.copy()
            rows[gone] = 0  # any finite value: these pixels are zeroed after the transform
        flat = transform(rows.reshape(-1, rows.shape[2]))
        out[start:stop] = flat.reshape(rows.shape[0], rows.shape[1], -1)
        out[start:stop][gone] = 0.0
    return out


def _n_classes(model: nn.Module, bands: int, patch_size: int, device: torch.device) -> int:
    known = getattr(model, "n_classes", None)
    if known is not None:
        return int(known)
    reference = next(model.parameters(), None)
    dtype = reference.dtype if reference is not None else torch.float32
    probe = torch.zeros((1, 1, bands, patch_size, patch_size), dtype=dtype, device=device)
    return int(model(probe).shape[1])


def predict_stream(
    cube: Any,
    model: nn.Module,
    preprocessor: Preprocessor,
    *,
    patch_size: int,
    writers: Sequence[TileWriter] = (),
    pad_mode: str = "reflect",
    max_memory: int = 512 << 20,
    nodata: float | None = None,
    method: str = "auto",
    batch_size: int = 512,
    device: torch.device | str | None = None,
    tile_shape: tuple[int, int] | None = None,
    progress: ProgressCallback | None = None,
    variable: str | None = None,
) -> StreamStats:
    """Classify every pixel of ``cube`` tile by tile and hand each tile to ``writers``.

    Args:
        cube: The raw cube ``(H, W, B)``: a path (opened with
            :func:`hsi_attn.data.open_cube`), or any lazily read array with ``.shape``,
            ``.dtype`` and numpy-style ``[rows, cols]`` slicing (a
            :class:`~hsi_attn.data.RasterCube`, a ``numpy.memmap``, an array).
        model: The patch classifier, run in eval mode.
        preprocessor: The run's fitted preprocessing, applied to each tile.
        patch_size: Odd window side p the model was built for.
        writers: Open writers (entered ``with`` blocks) receiving every tile.
        pad_mode: ``"reflect"`` or ``"symmetric"``, as in training.
        max_memory: Budget in bytes for the arrays of one tile (see the module docstring).
        nodata: The value marking missing pixels; None takes the cube's own
            (``cube.georef.nodata``) when it has one.
        method: ``"auto"``, ``"dense"`` or ``"patch"``, as for ``predict_scene``.
        batch_size: Patches per forward pass for the ``"patch"`` method.
        device: Where to compute; default the device of the model's parameters.
        tile_shape: Output tile ``(rows, cols)``; None derives it from ``max_memory``.
        progress: Called after each tile with ``(done, total)``.
        variable: Array name inside a cube file that holds several (path input only).

    Returns:
        The :class:`StreamStats` of the run.

    Raises:
        ValueError: On bad options, a cube that is not ``(H, W, B)`` or has another
            band count than the preprocessor's, a model built for another band count or
            patch size, or a budget too small for one pixel and its halo.
    """
    if isinstance(cube, (str, os.PathLike)):
        from hsi_attn.data import open_cube

        with open_cube(cube, variable) as opened:
            return predict_stream(
                opened, model, preprocessor, patch_size=patch_size, writers=writers,
                pad_mode=pad_mode, max_memory=max_memory, nodata=nodata, method=method,
                batch_size=batch_size, device=device, tile_shape=tile_shape, progress=progress,
            )
    pad_mode = check_choice(pad_mode, "pad_mode", choices=PAD_MODES)
    method = check_choice(method, "method", choices=("auto", "patch", "dense"))
    check_int(max_memory, "max_memory")
    check_int(batch_size, "batch_size")
    check_patch_size(patch_size)
    shape = tuple(int(n) for n in cube.shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"cube must be a non-empty (H, W, B) array (bands last), got {shape}")
    if shape[2] != preprocessor.n_bands_in:
        raise ValueError(
            f"the cube has {shape[2]} bands but the run's preprocessing was fitted on "
            f"{preprocessor.n_bands_in}; give a cube from the same sensor, bands last"
        )
    for name, value, built in (("patch_size", patch_size, getattr(model, "patch_size", None)),
                               ("bands", preprocessor.n_bands_out,
                                getattr(model, "n_bands", None))):
        if built is not None and value != built:
            raise ValueError(f"the model was built for {name}={built} but gets {value}; use "
                             "the model and preprocessing of the same run")
    dense = isinstance(model, DenseCapable) and method != "patch"
    if method == "dense" and not dense:
        raise ValueError(f"method='dense' needs a DenseCapable model, not "
                         f"{type(model).__name__}; use method='patch' or 'auto'")
    if nodata is None:
        nodata = getattr(getattr(cube, "georef", None), "nodata", None)
    reference = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (
        reference.device if reference is not None else torch.device("cpu"))
    height, width, bands = shape
    half = patch_size // 2
    n_classes = _n_classes(model, preprocessor.n_bands_out, patch_size, device)
    raw_bytes = np.dtype(cube.dtype).itemsize
    # Raw tiles: this one, the next (read ahead) and a copy; then the mask, the
    # preprocessed tile, probabilities and per-pixel arrays.
    per_pixel = (3 * bands * raw_bytes + 2 * bands + 8 * preprocessor.n_bands_out
                 + _PER_CLASS_BYTES * n_classes + _PER_PIXEL_BYTES)
    activations = max_memory // _ACTIVATION_SHARE
    preprocess_budget = max_memory // _PREPROCESS_SHARE
    if tile_shape is None:
        tile_shape = stream_tile_shape(
            height, width, halo=half, bytes_per_pixel=per_pixel,
            budget=max_memory - activations - preprocess_budget,
            align=max((writer.block_rows for writer in writers
                       if isinstance(writer, TileWriter)), default=1),
        )
    tile_rows, tile_cols = (check_int(n, "tile_shape") for n in tile_shape)
    float64_row = (tile_cols + 2 * half) * (bands + preprocessor.n_bands_out) * 8
    rows_per_chunk = max(1, preprocess_budget // (_FLOAT64_COPIES * float64_row))
    stats = StreamStats(height, width, (tile_rows, tile_cols),
                        len(list(tile_grid_of(height, width, tile_rows, tile_cols))),
                        class_counts=np.zeros(n_classes, dtype=np.int64))
    logger.info("streaming %dx%dx%d cube in %d tile(s) of %dx%d pixels (max_memory %d bytes)",
                height, width, bands, stats.tiles, tile_rows, tile_cols, max_memory)
    with evaluation_mode(model), torch.inference_mode():
        twin = model.fused_twin() if dense else None  # type: ignore[attr-defined]

        folded = _FoldedPreprocessing(preprocessor)

        def prepare(block: np.ndarray, missing: np.ndarray) -> np.ndarray:
            return _preprocess(block, missing, folded, rows_per_chunk)

        def classify(window: np.ndarray, h: int, w: int) -> np.ndarray:
            if dense:
                return predict_padded_dense(model, window, device=device,  # type: ignore[arg-type]
                                            max_memory=activations, twin=twin)
            return predict_scene(model, window, patch_size=patch_size, method="patch",
                                 batch_size=batch_size, device=device,
                                 pad_mode=pad_mode)[half:half + h, half:half + w]

        run_tiles(cube, stats, halo=half, pad_mode=pad_mode, prepare=prepare, classify=classify,
                  writers=writers, nodata=nodata, progress=progress)
    logger.info("classified %d pixels in %.2f s (%.0f pixels/s)", height * width,
                stats.total_seconds, height * width / max(stats.total_seconds, 1e-9))
    return stats
