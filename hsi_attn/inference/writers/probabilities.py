"""Per-class probabilities and confidence as GeoTIFFs of bytes scaled to 0..255.

Probabilities are stored as uint8 levels ``q`` with ``p = q / 255`` (the GeoTIFF's scale
``1/255`` and offset 0, which GDAL and QGIS apply): four times smaller than float32 and
well supported, unlike float16 GeoTIFFs. Each pixel's levels are rounded by largest
remainder, so they sum to exactly 255: the stored probabilities sum to 1 exactly, and
each is within 1/255 of the network's. Band k is class k, described by its name;
pixels without data are masked (an internal mask band), since every level is a valid
probability.

The confidence map is the largest probability of each pixel, same scale; a valid pixel
is at least 1/K, so 0 is free to be its nodata value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsi_attn.inference.writers.base import PredictedTile
from hsi_attn.inference.writers.geotiff import GeoTiffRasterWriter, geotiff_profile

__all__ = ["GeoTiffConfidenceWriter", "GeoTiffProbabilityWriter", "LEVELS",
           "quantize_probabilities"]

LEVELS = 255
"""Probability 1 is stored as this byte value (scale 1/255)."""


def quantize_probabilities(probabilities: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """Round ``(..., K)`` probabilities to integer levels that sum to ``levels`` per pixel.

    Largest-remainder rounding: every value is floored, then the pixel's missing levels
    go to its largest remainders. Each level is within 1 of ``p * levels``.

    Returns:
        ``(..., K)`` uint8 (``levels <= 255``) levels.
    """
    scaled = np.asarray(probabilities, dtype=np.float32) * np.float32(levels)
    floor = np.floor(scaled)
    remainder = scaled - floor
    missing = levels - floor.sum(axis=-1, keepdims=True).astype(np.int64)
    # The rank of each remainder within its pixel, largest first: the top `missing` get +1.
    order = np.argsort(-remainder, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1]), axis=-1)
    out = floor.astype(np.int64) + (rank < missing)
    return np.clip(out, 0, levels).astype(np.uint8)


class GeoTiffProbabilityWriter(GeoTiffRasterWriter):
    """K bands of probabilities scaled 0..255, masked where there is no data."""

    def profile(self) -> dict[str, Any]:
        """K uint8 bands, no nodata value (a mask band instead)."""
        return geotiff_profile(self.layout, count=self.layout.n_classes, dtype=np.uint8,
                               nodata=None)

    def bands_of(self, tile: PredictedTile) -> np.ndarray:
        """The tile's probability levels, band first (0 where no data)."""
        levels = quantize_probabilities(tile.probabilities)
        levels[~tile.valid] = 0
        return np.moveaxis(levels, 2, 0)

    def write(self, tile: PredictedTile) -> None:
        """Write the levels and the tile's part of the mask."""
        from rasterio.windows import Window

        super().write(tile)
        window = Window(tile.left, tile.top, tile.width, tile.height)
        self._dataset.write_mask(tile.valid.astype(np.uint8) * 255, window=window)

    def describe(self, dataset: Any) -> None:
        """Band k named after class k, scale 1/255, class codes in the tags."""
        layout = self.layout
        for k, (code, name) in enumerate(zip(layout.class_codes, layout.class_names), 1):
            dataset.set_band_description(k, name)
            dataset.update_tags(k, CLASS_CODE=str(code), CLASS_NAME=name)
        dataset.scales = (1.0 / LEVELS,) * layout.n_classes
        dataset.offsets = (0.0,) * layout.n_classes
        dataset.update_tags(CONTENT="class probabilities", SCALE=f"1/{LEVELS}",
                            CLASS_CODES=str(list(layout.class_codes)))


class GeoTiffConfidenceWriter(GeoTiffRasterWriter):
    """One band: each pixel's largest probability scaled 0..255, nodata 0."""

    def profile(self) -> dict[str, Any]:
        """One uint8 band, nodata 0."""
        return geotiff_profile(self.layout, count=1, dtype=np.uint8, nodata=0)

    def bands_of(self, tile: PredictedTile) -> np.ndarray:
        """The tile's largest probability, at least 1 where there is data."""
        top = np.rint(tile.probabilities.max(axis=2) * LEVELS)
        levels = np.clip(top, 1, LEVELS).astype(np.uint8)
        levels[~tile.valid] = 0
        return levels[None]

    def describe(self, dataset: Any) -> None:
        """Band description, scale 1/255."""
        dataset.set_band_description(1, "confidence (largest class probability)")
        dataset.scales = (1.0 / LEVELS,)
        dataset.offsets = (0.0,)
        dataset.update_tags(CONTENT="confidence: largest class probability",
                            SCALE=f"1/{LEVELS}")
