"""Ground-truth files read as the user wrote them: raw codes, nodata, class names.

:func:`read_label_codes` returns the integer codes of a label map (any integers,
before they are mapped to classes ``1..K`` by a
:class:`~hsi_attn.data.label_coding.LabelCoding`), which pixels the raster marks as
nodata (GeoTIFF nodata, ENVI ``data ignore value``), and the names an ENVI
classification header gives its codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsi_attn.data.class_names import envi_class_names
from hsi_attn.data.envi import ENVI_SUFFIXES, envi_header_path, read_envi_header
from hsi_attn.data.georeference import Georeference
from hsi_attn.data.rasters import open_raster
from hsi_attn.data.validation import check_label_map

__all__ = ["LabelFile", "read_label_codes"]


@dataclass(frozen=True, eq=False)
class LabelFile:
    """A label map as stored.

    Attributes:
        codes: ``(H, W)`` int64 codes as written (0 where ``missing``).
        missing: ``(H, W)`` bool, True where the raster's nodata value is.
        georef: The file's georeference (its ``nodata`` included).
        header_names: Code -> name from an ENVI header's ``class names``, or None.
    """

    codes: np.ndarray
    missing: np.ndarray
    georef: Georeference
    header_names: dict[int, str] | None


def read_label_codes(path: str | Path, variable: str | None = None) -> LabelFile:
    """Read a label map's codes, nodata pixels and ENVI class names.

    Args:
        path: ``.mat``, ENVI ``.hdr``, GeoTIFF (single band), ``.npy`` or ``.npz``.
        variable: Array name inside a ``.mat``/``.npz`` file with several 2-D arrays.

    Raises:
        FileNotFoundError: If the file does not exist.
        DataFileError: If it is damaged or ``variable`` is not in it.
        ValueError: If the map is not 2-D (or one band), not integer-valued outside
            its nodata pixels.
    """
    path = Path(path)
    source = f"labels from {str(path)!r}"
    with open_raster(path, variable, what="labels") as raster:
        data = raster.read()
        georef = raster.georef
    data = check_label_map(data, source=source)
    missing = np.zeros(data.shape, dtype=bool)
    if georef.nodata is not None:
        missing = np.isnan(data) if np.isnan(georef.nodata) else data == georef.nodata
    if data.dtype.kind == "f":
        valid = data[~missing]
        if not np.all(np.isfinite(valid)) or not np.all(valid == np.round(valid)):
            raise ValueError(
                f"{source} holds non-integer or non-finite values; class codes must be "
                "whole numbers (mark pixels without data with the raster's nodata value)"
            )
    codes = np.where(missing, 0, data).astype(np.int64)
    header_names = None
    if path.suffix.lower() in ENVI_SUFFIXES:
        header_names = envi_class_names(read_envi_header(envi_header_path(path)))
    return LabelFile(codes=codes, missing=missing, georef=georef, header_names=header_names)
