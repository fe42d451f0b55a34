"""ENVI classification map: ``FILE.hdr`` and ``FILE.img``, as ENVI writes its own.

ENVI reads a classification pixel as an index into ``class names``: 0 is
"Unclassified" (here: pixels without data) and k is the k-th class. The map follows
that convention, so ENVI, spectral and GDAL show the right names and colours
(``class lookup``). The user's class codes are kept in a ``class codes`` header field,
aligned with ``class names`` (its first entry is the code the GeoTIFF map gives
nodata): pixel value k means code ``class codes[k]``. With the usual codes 1..K the two
are the same numbers.

``map info`` and ``coordinate system string`` come from the cube's ENVI header when it
had one; a GeoTIFF cube's CRS and transform are written as an ``Arbitrary`` map info
plus the CRS as ESRI WKT, which GDAL reads back to the same CRS and transform.

The pixels go through a memory map of the temporary data file, tile by tile; the header
is written when the map is complete. The data file is renamed first, then the header.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hsi_attn.engine.atomic import temp_path, write_text_atomic
from hsi_attn.inference.writers.base import MapLayout, PredictedTile, TileWriter, rgba_bytes

__all__ = ["EnviClassWriter", "envi_header_text"]

_ENVI_DATA_TYPES = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 12}


def _envi_text(value: str) -> str:
    # Header lists are {a, b, c}: a comma or brace in a name would split or end it.
    return value.replace(",", ";").replace("{", "(").replace("}", ")").strip() or "unnamed"


def _map_info_lines(layout: MapLayout) -> list[str]:
    georef = layout.georef
    lines = []
    if georef.envi_map_info is not None:
        lines.append(f"map info = {{{', '.join(georef.envi_map_info)}}}")
    elif georef.transform is not None:
        a, b, c, d, e, f = georef.transform
        if b == 0 and d == 0:
            lines.append(f"map info = {{Arbitrary, 1, 1, {c!r}, {f!r}, {a!r}, {-e!r}, 0}}")
    if georef.envi_coordinate_system is not None:
        lines.append(f"coordinate system string = {{{georef.envi_coordinate_system}}}")
    elif georef.crs_wkt is not None and lines:
        from rasterio.crs import CRS

        wkt = CRS.from_wkt(georef.crs_wkt).to_wkt(version="WKT1_ESRI")
        lines.append(f"coordinate system string = {{{wkt}}}")
    return lines


def envi_header_text(layout: MapLayout, dtype: np.dtype) -> str:
    """The ``.hdr`` of a classification map of ``layout`` stored as ``dtype``."""
    colors = rgba_bytes(layout.n_classes)[:-1, :3]
    lookup = [0, 0, 0, *colors.ravel().tolist()]
    names = ["Unclassified", *(_envi_text(n) for n in layout.class_names)]
    codes = [layout.nodata_code, *layout.class_codes]
    lines = [
        "ENVI",
        "description = {hsi_attn classification map; pixel value k is class names[k], "
        "whose user code is class codes[k]}",
        f"samples = {layout.width}",
        f"lines = {layout.height}",
        "bands = 1",
        "header offset = 0",
        "file type = ENVI Classification",
        f"data type = {_ENVI_DATA_TYPES[np.dtype(dtype)]}",
        "interleave = bsq",
        "byte order = 0",
        f"classes = {len(names)}",
        f"class lookup = {{{', '.join(str(v) for v in lookup)}}}",
        f"class names = {{{', '.join(names)}}}",
        f"class codes = {{{', '.join(str(c) for c in codes)}}}",
        "band names = {classification}",
        *_map_info_lines(layout),
    ]
    return "\n".join(lines) + "\n"


class EnviClassWriter(TileWriter):
    """Writes ``FILE.hdr`` + ``FILE.img``; ``path`` may name either of them."""

    def __init__(self, path: str | os.PathLike[str], layout: MapLayout) -> None:
        super().__init__(path, layout)
        self.header = self.path.with_suffix(".hdr")
        self.data = self.path.with_suffix(".img")
        self.dtype = np.dtype(np.uint8 if layout.n_classes < 256 else np.dtype("<u2"))
        self._tmp_data = temp_path(self.data)
        self._memmap: np.memmap | None = None

    @property
    def outputs(self) -> tuple[Path, ...]:
        """The header and the data file."""
        return (self.header, self.data)

    def open(self) -> None:
        """Create the temporary data file, mapped into memory."""
        self._memmap = np.memmap(self._tmp_data, dtype=self.dtype, mode="w+",
                                 shape=(self.layout.height, self.layout.width))

    def write(self, tile: PredictedTile) -> None:
        """Class positions 1..K (0 where no data) into the tile's window."""
        values = np.where(tile.valid, tile.indices + 1, 0).astype(self.dtype)
        self._memmap[tile.top:tile.top + tile.height, tile.left:tile.left + tile.width] = values

    def commit(self) -> None:
        """Flush the data, rename it, then write the header."""
        if self._memmap is None:
            raise RuntimeError("EnviClassWriter.commit() before open(); use it in a with block")
        self._memmap.flush()
        self._memmap = None  # the last reference: the mapping closes
        os.replace(self._tmp_data, self.data)
        write_text_atomic(self.header, envi_header_text(self.layout, self.dtype))

    def abort(self) -> None:
        """Drop the memory map and the temporary data file."""
        self._memmap = None
        self._tmp_data.unlink(missing_ok=True)
