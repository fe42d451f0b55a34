"""PNG quicklook of a class map: the map figure, from a decimated copy of the map.

Kept small and bounded in memory at any scene size: the writer keeps every s-th row and
column of the map (nearest neighbour, ``s`` so that the longer side has at most
:data:`MAX_SIDE` pixels) and draws it with the run figures' colours and legend
(:func:`hsi_attn.run.figures.plot_classification_map`, the legend with the user's
class codes) when the map is complete. Pixels
without data are black. It is written as ``--out FILE.png`` and beside every raster map
(``map.tif`` -> ``map.png``).
"""

from __future__ import annotations

import math
import os

import numpy as np

from hsi_attn.inference.writers.base import MapLayout, PredictedTile, TileWriter

__all__ = ["MAX_SIDE", "QuicklookWriter"]

MAX_SIDE = 2048
"""Longest side of the decimated map drawn in the quicklook, in pixels."""


class QuicklookWriter(TileWriter):
    """A PNG figure of the map, decimated to at most :data:`MAX_SIDE` pixels a side.

    Args:
        path: The ``.png`` file.
        layout: The map's layout.
        title: Figure title.
    """

    def __init__(self, path: str | os.PathLike[str], layout: MapLayout, *,
                 title: str | None = None) -> None:
        super().__init__(path, layout)
        self.title = title
        self.step = max(1, math.ceil(max(layout.height, layout.width) / MAX_SIDE))
        self._small: np.ndarray | None = None

    def open(self) -> None:
        """Allocate the decimated map (class positions 1..K, 0 = no data)."""
        rows = math.ceil(self.layout.height / self.step)
        cols = math.ceil(self.layout.width / self.step)
        self._small = np.zeros((rows, cols), dtype=np.int32)

    def write(self, tile: PredictedTile) -> None:
        """Keep the tile's rows and columns that fall on the decimation grid."""
        if self._small is None:
            raise RuntimeError("QuicklookWriter.write() before open(); use it in a with block")
        s = self.step
        row0, col0 = (-tile.top) % s, (-tile.left) % s
        if row0 >= tile.height or col0 >= tile.width:
            return
        values = np.where(tile.valid, tile.indices + 1, 0)[row0::s, col0::s]
        top, left = (tile.top + row0) // s, (tile.left + col0) // s
        self._small[top:top + values.shape[0], left:left + values.shape[1]] = values

    def commit(self) -> None:
        """Draw the figure and save it atomically."""
        from hsi_attn.run.figures import plot_classification_map, save_figure

        title = self.title or ""
        if self.step > 1:
            title = f"{title} (1 pixel in {self.step} per side)".strip()
        figure = plot_classification_map(self._small, self.layout.class_names,
                                         title=title or None,
                                         class_codes=self.layout.class_codes)
        save_figure(figure, self.path)
        self._small = None

    def abort(self) -> None:
        """Nothing on disk yet: drop the decimated map."""
        self._small = None
