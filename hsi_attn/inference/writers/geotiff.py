"""GeoTIFF class map: the user's class codes, georeferenced, written window by window.

The map is a tiled (256 x 256), deflate-compressed single-band GeoTIFF of the smallest
unsigned type that holds the codes, with the input cube's CRS and affine transform (a
plain pixel grid when the cube has none), a colour table (the figures' class colours),
nodata (0, or max code + 1 when 0 is a class code), and the class names and codes in
its tags: ``CLASS_NAMES`` and ``CLASS_CODES`` (JSON lists, same order) and one
``CLASS_<code>=<name>`` tag per class. :class:`GeoTiffRasterWriter` is the shared base of
this writer and the probability and confidence writers
(:mod:`hsi_attn.inference.writers.probabilities`).
"""

from __future__ import annotations

import abc
import json
import os
import warnings
from typing import Any

import numpy as np

from hsi_attn.engine.atomic import temp_path
from hsi_attn.inference.writers.base import MapLayout, PredictedTile, TileWriter, rgba_bytes

__all__ = ["GeoTiffClassWriter", "GeoTiffRasterWriter", "geotiff_profile"]

BLOCK = 256


def geotiff_profile(layout: MapLayout, *, count: int, dtype: np.dtype | str,
                    nodata: float | None) -> dict[str, Any]:
    """The rasterio profile of a tiled, compressed GeoTIFF on the layout's grid.

    CRS and transform come from the layout's georeference; a cube without them gives a
    plain pixel grid (no CRS, the identity transform).
    """
    from affine import Affine
    from rasterio.crs import CRS

    georef = layout.georef
    profile: dict[str, Any] = {
        "driver": "GTiff", "height": layout.height, "width": layout.width, "count": count,
        "dtype": np.dtype(dtype).name, "tiled": True, "blockxsize": BLOCK,
        "blockysize": BLOCK, "compress": "deflate", "bigtiff": "if_safer",
        "interleave": "band" if count > 1 else "pixel",
    }
    if np.dtype(dtype).kind in "iu":
        profile["predictor"] = 2  # horizontal differencing: smaller class maps
    if nodata is not None:
        profile["nodata"] = nodata
    if georef.crs_wkt is not None:
        profile["crs"] = CRS.from_wkt(georef.crs_wkt)
    if georef.transform is not None:
        profile["transform"] = Affine(*georef.transform)
    return profile


class GeoTiffRasterWriter(TileWriter):
    """A GeoTIFF written window by window into a temporary file, then renamed.

    Subclasses give the profile (:meth:`profile`), what each tile becomes
    (:meth:`bands_of`, ``(count, h, w)``) and their metadata (:meth:`describe`).
    """

    block_rows = BLOCK

    def __init__(self, path: str | os.PathLike[str], layout: MapLayout) -> None:
        super().__init__(path, layout)
        self._tmp = temp_path(self.path)
        self._dataset: Any = None

    @property
    def cache_bytes(self) -> int:
        """Two rows of blocks across the map: the row being filled and the one before."""
        profile = self.profile()
        blocks = -(-self.layout.width // BLOCK)
        return 2 * profile["count"] * blocks * BLOCK * BLOCK * np.dtype(profile["dtype"]).itemsize

    @abc.abstractmethod
    def profile(self) -> dict[str, Any]:
        """The rasterio profile of the output."""

    @abc.abstractmethod
    def bands_of(self, tile: PredictedTile) -> np.ndarray:
        """The tile's values, ``(count, h, w)`` in the profile's dtype."""

    def describe(self, dataset: Any) -> None:
        """Write tags, band descriptions, colour tables into the open dataset."""

    def open(self) -> None:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            # A cube without a CRS gives a plain pixel grid, on purpose.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self._dataset = rasterio.open(self._tmp, "w", **self.profile())
        self.describe(self._dataset)

    def write(self, tile: PredictedTile) -> None:
        from rasterio.windows import Window

        window = Window(tile.left, tile.top, tile.width, tile.height)
        self._dataset.write(self.bands_of(tile), window=window)

    def commit(self) -> None:
        self._dataset.close()
        self._dataset = None
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._dataset is not None:
            self._dataset.close()
            self._dataset = None
        self._tmp.unlink(missing_ok=True)


class GeoTiffClassWriter(GeoTiffRasterWriter):
    """The class map as a GeoTIFF of the user's class codes (see the module docstring)."""

    def profile(self) -> dict[str, Any]:
        """One band of codes, nodata :attr:`MapLayout.nodata_code`."""
        return geotiff_profile(self.layout, count=1, dtype=self.layout.code_dtype,
                               nodata=self.layout.nodata_code)

    def bands_of(self, tile: PredictedTile) -> np.ndarray:
        """The tile's codes as one band."""
        return self.layout.codes_of(tile)[None]

    def describe(self, dataset: Any) -> None:
        """Class names and codes in tags, the colour table, a band description."""
        layout = self.layout
        dataset.update_tags(
            CLASS_NAMES=json.dumps(list(layout.class_names)),
            CLASS_CODES=json.dumps(list(layout.class_codes)),
            NODATA_CODE=str(layout.nodata_code),
            **{f"CLASS_{code}": name for code, name in zip(layout.class_codes,
                                                            layout.class_names)},
        )
        dataset.set_band_description(1, "class code")
        if layout.code_dtype.itemsize <= 2:  # GeoTIFF colour tables: 8- and 16-bit bands
            colors = rgba_bytes(layout.n_classes)
            table = {code: tuple(int(v) for v in colors[k])
                     for k, code in enumerate(layout.class_codes)}
            table[layout.nodata_code] = (0, 0, 0, 0)
            dataset.write_colormap(1, table)
