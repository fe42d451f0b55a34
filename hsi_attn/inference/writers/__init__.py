"""Map writers of streaming prediction: each output written tile by tile, atomically.

:data:`CLASS_MAP_WRITERS` maps an output suffix to the writer of the class map;
:func:`class_map_writers` gives the writers for ``--out`` (a raster map also gets a PNG
quicklook beside it). :class:`GeoTiffProbabilityWriter` and
:class:`GeoTiffConfidenceWriter` write the per-class probabilities and the confidence.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from hsi_attn.inference.writers.base import (
    MapLayout,
    PredictedTile,
    TileWriter,
    open_writers,
    rgba_bytes,
)
from hsi_attn.inference.writers.envi import EnviClassWriter, envi_header_text
from hsi_attn.inference.writers.geotiff import GeoTiffClassWriter, geotiff_profile
from hsi_attn.inference.writers.numpy_map import NpyClassWriter
from hsi_attn.inference.writers.probabilities import (
    LEVELS,
    GeoTiffConfidenceWriter,
    GeoTiffProbabilityWriter,
    quantize_probabilities,
)
from hsi_attn.inference.writers.quicklook import MAX_SIDE, QuicklookWriter

__all__ = [
    "CLASS_MAP_WRITERS",
    "LEVELS",
    "MAX_SIDE",
    "RASTER_SUFFIXES",
    "EnviClassWriter",
    "GeoTiffClassWriter",
    "GeoTiffConfidenceWriter",
    "GeoTiffProbabilityWriter",
    "MapLayout",
    "NpyClassWriter",
    "PredictedTile",
    "QuicklookWriter",
    "TileWriter",
    "class_map_writers",
    "envi_header_text",
    "geotiff_profile",
    "open_writers",
    "quantize_probabilities",
    "rgba_bytes",
]

CLASS_MAP_WRITERS: Mapping[str, Callable[[Path, MapLayout], TileWriter]] = MappingProxyType({
    ".tif": GeoTiffClassWriter,
    ".tiff": GeoTiffClassWriter,
    ".hdr": EnviClassWriter,
    ".img": EnviClassWriter,
    ".npy": NpyClassWriter,
    ".png": QuicklookWriter,
})
"""Output suffix (lowercase) -> writer of the class map."""

RASTER_SUFFIXES = (".tif", ".tiff")
"""Suffixes accepted for ``--probabilities`` and ``--confidence``."""


def class_map_writers(path: str | os.PathLike[str], layout: MapLayout, *,
                      title: str | None = None) -> list[TileWriter]:
    """The writers of a class map at ``path``: its format's, plus a PNG quicklook beside it.

    Raises:
        ValueError: If the suffix has no writer (the message lists those that do).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CLASS_MAP_WRITERS:
        raise ValueError(
            f"--out {str(path)!r}: no writer for {suffix or 'a name without suffix'}; use one "
            f"of {', '.join(CLASS_MAP_WRITERS)} (GeoTIFF, ENVI classification, NumPy, PNG)"
        )
    if suffix == ".png":
        return [QuicklookWriter(path, layout, title=title)]
    return [CLASS_MAP_WRITERS[suffix](path, layout),
            QuicklookWriter(path.with_suffix(".png"), layout, title=title)]
