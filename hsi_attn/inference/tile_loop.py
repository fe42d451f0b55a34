"""The streaming loop shared by every backend: tiles with a mirrored halo, in and out.

:func:`run_tiles` reads each tile of a cube with its halo of ``p // 2`` pixels (global
row and column indices mapped through the pad mode, so that a tile at the scene's edge
sees exactly the padded scene that :func:`~hsi_attn.inference.predict_scene` sees),
prepares it, classifies it and hands the probabilities to the writers, timing each
stage. What "prepare" and "classify" mean is the caller's: the run's preprocessing and
network (:func:`~hsi_attn.inference.stream.predict_stream`) or an exported graph
(:func:`~hsi_attn.inference.stream_onnx.predict_stream_onnx`).
:func:`stream_tile_shape` sizes the tiles from a memory budget.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsi_attn.inference.writers.base import PredictedTile, TileWriter

__all__ = ["STAGES", "ProgressCallback", "StreamStats", "padded_indices", "run_tiles",
           "stream_tile_shape", "tile_grid_of"]

STAGES = ("read", "preprocess", "network", "write")
"""The stages whose time :class:`StreamStats` reports."""

ProgressCallback = Callable[[int, int], None]
"""Called after each tile with ``(tiles done, tiles in all)``."""


@dataclass
class StreamStats:
    """What a streaming prediction did.

    Attributes:
        height: Rows of the map.
        width: Columns of the map.
        tile_shape: ``(rows, cols)`` of the output tiles (without halo).
        tiles: Number of tiles.
        nodata_pixels: Pixels written as nodata.
        class_counts: Pixels given each class index 0..K-1.
        seconds: Wall time per stage (:data:`STAGES`).
    """

    height: int
    width: int
    tile_shape: tuple[int, int]
    tiles: int
    nodata_pixels: int = 0
    class_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @property
    def total_seconds(self) -> float:
        """Time spent in all stages."""
        return float(sum(self.seconds.values()))


def padded_indices(size: int, halo: int, pad_mode: str) -> np.ndarray:
    """Source index of every position of an axis of ``size`` padded by ``halo`` a side.

    ``padded_indices(n, h, mode)[i]`` is the index of the pixel that ``numpy.pad`` puts
    at padded position ``i`` (``-h`` to ``n + h - 1`` shifted by ``h``), for any ``h``,
    even wider than the axis.
    """
    return np.pad(np.arange(size), halo, mode=pad_mode)  # type: ignore[call-overload]


def stream_tile_shape(height: int, width: int, *, halo: int, bytes_per_pixel: int,
                      budget: int, align: int = 1) -> tuple[int, int]:
    """The output tile ``(rows, cols)`` whose halo'd window fits ``budget`` bytes.

    Full-width row strips when at least one row fits (whole rows read in one piece, the
    fastest order for band-interleaved files), square blocks otherwise. A tile side of
    at least ``align`` is rounded down to a multiple of it, so that each tile fills
    whole blocks of a tiled output (a GeoTIFF's 256 x 256) and none is written twice.

    Raises:
        ValueError: If not even one pixel and its halo fit; the message gives the
            smallest budget that works.
    """
    pixels = budget // max(1, bytes_per_pixel)
    rows = pixels // (width + 2 * halo) - 2 * halo
    if rows >= 1:
        return min(_aligned(rows, align), height), width
    side = math.isqrt(pixels) - 2 * halo
    if side < 1:
        need = (1 + 2 * halo) ** 2 * bytes_per_pixel
        raise ValueError(
            f"max_memory is too small: one pixel and its {halo}-pixel halo need about "
            f"{need} bytes of tile arrays; give max_memory of at least {need * 4} bytes"
        )
    side = _aligned(side, align)
    return min(side, height), min(side, width)


def _aligned(side: int, align: int) -> int:
    return side - side % align if side >= align else side


def tile_grid_of(height: int, width: int, rows: int, cols: int
                 ) -> Iterator[tuple[int, int, int, int]]:
    """Output tiles ``(top, left, h, w)`` of ``rows x cols`` (smaller at the far edges)."""
    for top in range(0, height, rows):
        for left in range(0, width, cols):
            yield top, left, min(rows, height - top), min(cols, width - left)


def _read_window(cube: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``cube[rows][:, cols]`` read as one rectangle (plus mirrored copies at the edges)."""
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    block = cube[r0:r1, c0:c1]
    # A memory-mapped slice is read lazily; read it now (the time and memory are the read's).
    block = np.array(block) if isinstance(block, np.memmap) else np.asarray(block)
    if len(rows) != r1 - r0 or np.any(np.diff(rows) != 1):
        block = block[rows - r0]
    if len(cols) != c1 - c0 or np.any(np.diff(cols) != 1):
        block = block[:, cols - c0]
    return block


def run_tiles(
    cube: Any,
    stats: StreamStats,
    *,
    halo: int,
    pad_mode: str,
    prepare: Callable[[np.ndarray, np.ndarray], np.ndarray],
    classify: Callable[[np.ndarray, int, int], np.ndarray],
    writers: Sequence[TileWriter],
    nodata: float | None,
    progress: ProgressCallback | None,
) -> StreamStats:
    """The streaming loop: read each tile of ``stats``'s grid with its halo, prepare it,
    classify it and hand it to the writers, timing each stage into ``stats``.

    The next tile is read in a background thread while the current one is prepared and
    classified, so ``read`` in the statistics is the time spent waiting for a tile, and
    two raw tiles are in memory at once (the callers' budgets count both).

    Args:
        cube: The lazily read raw cube ``(H, W, B)``.
        stats: The run's :class:`StreamStats` (its size and tile shape give the grid).
        halo: Pixels read around each tile (``p // 2``), mirrored at the scene's edges.
        pad_mode: How the scene's edges are mirrored.
        prepare: ``(raw window, no-data mask) -> window`` the classifier takes.
        classify: ``(window, h, w) -> (h, w, K)`` probabilities of the tile's pixels.
        writers: Receive every tile.
        nodata: The cube's no-data value, or None.
        progress: Called after each tile with ``(done, total)``.
    """
    from hsi_attn.data import nodata_mask

    row_map = padded_indices(stats.height, halo, pad_mode)
    col_map = padded_indices(stats.width, halo, pad_mode)
    grid = list(tile_grid_of(stats.height, stats.width, *stats.tile_shape))
    clock = time.perf_counter

    def read_tile(index: int) -> np.ndarray:
        top, left, h, w = grid[index]
        return _read_window(cube, row_map[top:top + h + 2 * halo],
                            col_map[left:left + w + 2 * halo])

    # The next tile is read in a thread while this one is classified (the copy and the
    # network release the GIL); one thread, so the cube is never read concurrently.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsi-attn-read") as reader:
        pending = reader.submit(read_tile, 0) if grid else None
        for done, (top, left, h, w) in enumerate(grid, 1):
            start = clock()
            block = pending.result()  # type: ignore[union-attr]
            if done < len(grid):
                pending = reader.submit(read_tile, done)
            read = clock()
            missing = nodata_mask(block, nodata)
            window = prepare(block, missing)
            del block
            prepared = clock()
            probs = classify(window, h, w)
            del window
            predicted = clock()
            tile = PredictedTile(top, left, probs, ~missing[halo:halo + h, halo:halo + w])
            for writer in writers:
                writer.write(tile)
            stats.nodata_pixels += int(h * w - np.count_nonzero(tile.valid))
            stats.class_counts += np.bincount(tile.indices[tile.valid],
                                              minlength=len(stats.class_counts))
            for stage, begin, end in zip(STAGES, (start, read, prepared, predicted),
                                         (read, prepared, predicted, clock())):
                stats.seconds[stage] += end - begin
            if progress is not None:
                progress(done, len(grid))
    return stats
