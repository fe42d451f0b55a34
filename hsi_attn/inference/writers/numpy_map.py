"""``.npy`` class map: the user's class codes as int64, written through a memory map.

The array is created with :func:`numpy.lib.format.open_memmap` in a temporary file
beside the destination, filled tile by tile and renamed when complete, so the map is
never whole in memory. Pixels without data hold :attr:`MapLayout.nodata_code`.
"""

from __future__ import annotations

import os

import numpy as np

from hsi_attn.engine.atomic import temp_path
from hsi_attn.inference.writers.base import MapLayout, PredictedTile, TileWriter

__all__ = ["NpyClassWriter"]


class NpyClassWriter(TileWriter):
    """The class codes ``(H, W)`` int64 in a ``.npy`` file."""

    def __init__(self, path: str | os.PathLike[str], layout: MapLayout) -> None:
        super().__init__(path, layout)
        self._tmp = temp_path(self.path)
        self._memmap: np.memmap | None = None

    def open(self) -> None:
        """Create the temporary ``.npy`` file, mapped into memory."""
        self._memmap = np.lib.format.open_memmap(
            self._tmp, mode="w+", dtype=np.int64, shape=(self.layout.height, self.layout.width)
        )

    def write(self, tile: PredictedTile) -> None:
        """The tile's codes into its window."""
        if self._memmap is None:
            raise RuntimeError("NpyClassWriter.write() before open(); use it in a with block")
        self._memmap[tile.top:tile.top + tile.height,
                     tile.left:tile.left + tile.width] = self.layout.codes_of(tile)

    def commit(self) -> None:
        """Flush and rename onto the destination."""
        if self._memmap is None:
            raise RuntimeError("NpyClassWriter.commit() before open(); use it in a with block")
        self._memmap.flush()
        self._memmap = None  # the last reference: the mapping closes
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the memory map and the temporary file."""
        self._memmap = None
        self._tmp.unlink(missing_ok=True)
