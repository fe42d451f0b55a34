"""GeoTIFF cubes through rasterio: windowed reads, bands moved to the last axis.

A GeoTIFF is opened once and read by :class:`~rasterio.windows.Window`, never whole,
so a flight line larger than memory is read tile by tile. Its CRS (as WKT), affine
transform, nodata, band descriptions and per-band ``wavelength`` tags (GDAL's ENVI
convention) are kept for the outputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hsi_attn.data.containers import damaged_file_error
from hsi_attn.data.georeference import Georeference

__all__ = ["GEOTIFF_SUFFIXES", "GeoTiffWindows"]

GEOTIFF_SUFFIXES = (".tif", ".tiff")
"""Suffixes read as GeoTIFF."""

_HINT = "re-copy it, or re-export it (gdal_translate -of GTiff)"


def _georef(dataset: Any) -> Georeference:
    transform = dataset.transform
    georeferenced = dataset.crs is not None or not transform.is_identity
    units = None
    wavelengths: list[float] | None = []
    for band in range(1, dataset.count + 1):
        tags = dataset.tags(band)
        try:
            wavelengths.append(float(tags["wavelength"]))  # type: ignore[union-attr]
        except (KeyError, ValueError):
            wavelengths = None
            break
        units = tags.get("wavelength_units", units)
    return Georeference(
        crs_wkt=None if dataset.crs is None else dataset.crs.to_wkt(),
        transform=tuple(transform)[:6] if georeferenced else None,  # type: ignore[arg-type]
        wavelengths=tuple(wavelengths) if wavelengths else None,
        wavelength_units=units if wavelengths else None,
        nodata=dataset.nodata,
    )


class GeoTiffWindows:
    """An open GeoTIFF read by windows as ``(h, w, B)`` arrays.

    Args:
        path: The ``.tif``/``.tiff`` file.

    Raises:
        DataFileError: If GDAL cannot open the file as a raster.
    """

    def __init__(self, path: Path) -> None:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._dataset = rasterio.open(path)
        except RasterioError as exc:
            raise damaged_file_error(path, "GeoTIFF", exc, _HINT) from exc
        self.path = path
        dataset = self._dataset
        self.shape = (int(dataset.height), int(dataset.width), int(dataset.count))
        self.dtype = np.result_type(*dataset.dtypes)
        self.georef = _georef(dataset)
        descriptions = tuple(dataset.descriptions)
        self.band_names = (tuple(str(d) for d in descriptions)
                           if descriptions and all(descriptions) else None)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """Read rows ``rows`` and columns ``cols`` (step 1, in range) as ``(h, w, B)``.

        Raises:
            DataFileError: If the file's data is damaged where it is read.
        """
        from rasterio.errors import RasterioError
        from rasterio.windows import Window

        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        try:
            bands = self._dataset.read(window=window, out_dtype=self.dtype)
        except RasterioError as exc:
            raise damaged_file_error(self.path, "GeoTIFF", exc, _HINT) from exc
        return np.ascontiguousarray(np.moveaxis(bands, 0, -1))

    def close(self) -> None:
        """Close the dataset (safe to call twice)."""
        self._dataset.close()
