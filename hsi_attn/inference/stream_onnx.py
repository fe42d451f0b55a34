"""Streaming prediction with an exported model: ONNX Runtime instead of PyTorch.

The same tile loop as :func:`~hsi_attn.inference.stream.predict_stream`
(:func:`~hsi_attn.inference.stream.run_tiles`: halo'd windows mirrored at the scene's
edges, the same writers), but each raw window goes to an exported graph
(:class:`~hsi_attn.export.runtime.OnnxSceneClassifier`), whose first operations are the
run's standardisation and PCA. So a cube is classified with nothing of the run but its
``.onnx`` file.

No data: pixels that :func:`hsi_attn.data.nodata_mask` marks are written as nodata.
Their raw spectra are set to 0 before the graph (the graph holds no training mean to
put there), so their neighbours' windows see finite values; the PyTorch path sets
their *preprocessed* spectra to 0 instead, so pixels next to no-data pixels may be
classified slightly differently by the two backends. Elsewhere the maps agree.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hsi_attn.checks import check_int
from hsi_attn.inference.tile_loop import (
    ProgressCallback,
    StreamStats,
    run_tiles,
    stream_tile_shape,
    tile_grid_of,
)
from hsi_attn.inference.writers.base import TileWriter

__all__ = ["predict_stream_onnx"]

logger = logging.getLogger(__name__)

_NETWORK_SHARE = 4  # 1/4 of the budget for the graph's activations, as predict_stream
_PER_CLASS_BYTES = 48
_PER_PIXEL_BYTES = 64


def predict_stream_onnx(
    cube: Any,
    classifier: Any,
    *,
    writers: Sequence[TileWriter] = (),
    max_memory: int = 512 << 20,
    nodata: float | None = None,
    tile_shape: tuple[int, int] | None = None,
    progress: ProgressCallback | None = None,
    variable: str | None = None,
) -> StreamStats:
    """Classify every pixel of ``cube`` tile by tile with an exported model.

    Args:
        cube: The raw cube ``(H, W, B)``: a path (opened with
            :func:`hsi_attn.data.open_cube`) or a lazily read array.
        classifier: An :class:`~hsi_attn.export.runtime.OnnxSceneClassifier`.
        writers: Open writers receiving every tile.
        max_memory: Budget in bytes for one tile's arrays and the graph's activations.
        nodata: The value marking missing pixels; None takes the cube's own.
        tile_shape: Output tile ``(rows, cols)``; None derives it from ``max_memory``.
        progress: Called after each tile with ``(done, total)``.
        variable: Array name inside a cube file that holds several (path input only).

    Returns:
        The :class:`~hsi_attn.inference.stream.StreamStats` of the run (``preprocess``
        is the raw window's conversion; the graph's preprocessing counts as ``network``).

    Raises:
        ValueError: On a cube of another band count than the model's, or a budget too
            small for one pixel and its halo.
    """
    if isinstance(cube, (str, os.PathLike)):
        from hsi_attn.data import open_cube

        with open_cube(cube, variable) as opened:
            return predict_stream_onnx(opened, classifier, writers=writers,
                                       max_memory=max_memory, nodata=nodata,
                                       tile_shape=tile_shape, progress=progress)
    check_int(max_memory, "max_memory")
    meta = classifier.metadata
    height, width, bands = (int(n) for n in cube.shape)
    if bands != meta.n_bands_raw:
        raise ValueError(
            f"the cube has {bands} bands but the exported model takes {meta.n_bands_raw}; "
            "give a cube from the same sensor, bands last"
        )
    if nodata is None:
        nodata = getattr(getattr(cube, "georef", None), "nodata", None)
    half = meta.patch_size // 2
    activations = max_memory // _NETWORK_SHARE
    # This raw tile and the next (read ahead), the float32 window, per-class and per-pixel.
    per_pixel = (2 * np.dtype(cube.dtype).itemsize + 8) * bands + (
        _PER_CLASS_BYTES * meta.n_classes + _PER_PIXEL_BYTES)
    if tile_shape is None:
        tile_shape = stream_tile_shape(
            height, width, halo=half, bytes_per_pixel=per_pixel,
            budget=max_memory - activations,
            align=max((w.block_rows for w in writers), default=1),
        )
    rows, cols = (check_int(n, "tile_shape") for n in tile_shape)
    stats = StreamStats(height, width, (rows, cols),
                        len(list(tile_grid_of(height, width, rows, cols))),
                        class_counts=np.zeros(meta.n_classes, dtype=np.int64))
    logger.info("streaming %dx%dx%d cube through %s in %d tile(s) of %dx%d pixels",
                height, width, bands, classifier.path.name, stats.tiles, rows, cols)

    def prepare(block: np.ndarray, missing: np.ndarray) -> np.ndarray:
        window = np.array(block, dtype=np.float32)
        window[missing] = 0.0
        return window

    def classify(window: np.ndarray, h: int, w: int) -> np.ndarray:
        return classifier.predict_padded(window, max_memory=activations)

    return run_tiles(cube, stats, halo=half, pad_mode=meta.pad_mode, prepare=prepare,
                     classify=classify, writers=writers, nodata=nodata, progress=progress)
