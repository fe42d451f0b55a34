"""ENVI ``.hdr`` + data file cubes, memory-mapped through ``spectral``.

Any interleave (BSQ, BIL, BIP) and any ENVI data type is opened as a read-only
``(H, W, B)`` memory map, so a window of a flight line reads only its own bytes. The
header's georeferencing and band description are kept verbatim (``map info``,
``coordinate system string``, ``wavelength``, ``data ignore value``) so that ENVI
outputs carry them unchanged; the coordinate system string (an ESRI WKT) also fills
``crs_wkt`` and a north-up ``map info`` the affine ``transform``, so that a GeoTIFF
output of an ENVI cube is georeferenced too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsi_attn.data.errors import DataFileError, one_line
from hsi_attn.data.georeference import Georeference

__all__ = [
    "ENVI_SUFFIXES",
    "EnviImage",
    "envi_header_path",
    "map_info_transform",
    "open_envi",
    "read_envi_header",
]

ENVI_SUFFIXES = (".hdr", ".img", ".dat", ".raw", ".bil", ".bip", ".bsq")
"""Suffixes read as ENVI: the header, or a data file with its header beside it."""

_DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".sli")


@dataclass(frozen=True)
class EnviImage:
    """An opened ENVI image.

    Attributes:
        open_map: Returns a fresh read-only ``(H, W, B)`` memory map of the data file
            (each call maps it anew, so a caller can release it after each read).
        georef: The header's georeferencing, wavelengths and nodata.
        band_names: The header's ``band names``, or None.
        header: Every header field as ``spectral`` parsed it (lowercase keys).
        data_path: The data file.
    """

    open_map: Callable[[], np.ndarray]
    georef: Georeference
    band_names: tuple[str, ...] | None
    header: dict[str, Any]
    data_path: Path


_FILE_ORDER = {0: ("bands", "lines", "samples"), 1: ("lines", "bands", "samples"),
               2: ("lines", "samples", "bands")}
"""Axis order in the data file, by ``spectral``'s interleave code (BSQ, BIL, BIP)."""


def _file_map(data_path: Path, offset: int, lines: int, samples: int, bands: int,
              dtype: np.dtype, interleave: int) -> Callable[[], np.ndarray]:
    """A function returning a fresh read-only ``(H, W, B)`` view of a map of the data file.

    The map is numpy's own, not the ``spectral`` image's (which keeps one open for the
    image's life), so dropping the view unmaps the file.
    """
    sizes = {"lines": lines, "samples": samples, "bands": bands}
    order = _FILE_ORDER[interleave]
    to_hwb = tuple(order.index(axis) for axis in ("lines", "samples", "bands"))

    def open_map() -> np.ndarray:
        mapped = np.memmap(data_path, dtype=dtype, mode="r", offset=offset,
                           shape=tuple(sizes[axis] for axis in order))
        return mapped.transpose(to_hwb)

    return open_map


def envi_header_path(path: Path) -> Path:
    """The header of an ENVI file given as its ``.hdr`` or its data file.

    Raises:
        FileNotFoundError: If a data file has no header beside it.
    """
    if path.suffix.lower() == ".hdr":
        return path
    for header in (path.with_suffix(".hdr"), path.with_name(path.name + ".hdr")):
        if header.exists():
            return header
    raise FileNotFoundError(
        f"ENVI header {str(path.with_suffix('.hdr'))!r} not found for {str(path)!r}; pass "
        "the .hdr file (its data file must sit beside it)."
    )


def read_envi_header(header: Path) -> dict[str, Any]:
    """Every field of an ENVI header, parsed by ``spectral`` (lowercase keys).

    Raises:
        DataFileError: If the file is not an ENVI header or cannot be parsed.
    """
    from spectral.io import envi

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # spectral warns about mixed-case keys
            return dict(envi.read_envi_header(str(header)))
    except (envi.EnviException, UnicodeDecodeError, OSError, ValueError, IndexError) as exc:
        raise DataFileError(
            f"{str(header)!r} is not a readable ENVI header: {one_line(exc) or 'parse error'}; "
            "an ENVI header is a text file whose first line is 'ENVI'. Pass the .hdr that "
            "came with the data file, or re-export the cube from ENVI/GDAL."
        ) from exc


def _raw_field(header: Path, key: str) -> str | None:
    """A brace-delimited header value exactly as written (spectral splits it at commas)."""
    text = header.read_text(encoding="utf-8", errors="replace")
    match = re.search(rf"^\s*{re.escape(key)}\s*=\s*\{{(.*?)\}}\s*$", text,
                      flags=re.IGNORECASE | re.MULTILINE | re.DOTALL)
    if match is not None:
        return match.group(1).strip()
    match = re.search(rf"^\s*{re.escape(key)}\s*=\s*(.*?)\s*$", text,
                      flags=re.IGNORECASE | re.MULTILINE)
    return None if match is None else match.group(1)


def _floats(values: Any, n: int) -> tuple[float, ...] | None:
    if values is None:
        return None
    items = values if isinstance(values, list) else [values]
    try:
        parsed = tuple(float(v) for v in items)
    except ValueError:
        return None
    return parsed if len(parsed) == n else None


def map_info_transform(map_info: tuple[str, ...] | None
                       ) -> tuple[float, float, float, float, float, float] | None:
    """The affine transform (rasterio order) of a north-up ENVI ``map info``, or None.

    ``map info`` gives a reference pixel (1-based, ``1.0`` = the upper-left corner of
    the first pixel), its map coordinates and the pixel size. Rotated grids
    (``rotation=`` entry) and unparsable entries give None: the verbatim ``map info``
    still travels to ENVI outputs.
    """
    if map_info is None or len(map_info) < 7:
        return None
    if any(entry.strip().lower().startswith("rotation") for entry in map_info):
        return None
    try:
        ref_x, ref_y, easting, northing, size_x, size_y = (float(v) for v in map_info[1:7])
    except ValueError:
        return None
    return (size_x, 0.0, easting - (ref_x - 1.0) * size_x,
            0.0, -size_y, northing + (ref_y - 1.0) * size_y)


def _georef(header: Path, fields: dict[str, Any], n_bands: int) -> Georeference:
    nodata = fields.get("data ignore value")
    try:
        nodata_value = None if nodata is None else float(nodata)
    except (TypeError, ValueError):
        nodata_value = None
    map_info = fields.get("map info")
    if isinstance(map_info, str):
        map_info = [map_info]
    map_info = None if map_info is None else tuple(str(v) for v in map_info)
    units = fields.get("wavelength units")
    wkt = (_raw_field(header, "coordinate system string")
           if "coordinate system string" in fields else None)
    return Georeference(
        crs_wkt=wkt or None,
        transform=map_info_transform(map_info),
        envi_map_info=map_info,
        envi_coordinate_system=wkt,
        wavelengths=_floats(fields.get("wavelength"), n_bands),
        wavelength_units=None if units is None else str(units),
        nodata=nodata_value,
    )


def open_envi(path: Path) -> EnviImage:
    """Open an ENVI image as a read-only ``(H, W, B)`` memory map.

    Args:
        path: The ``.hdr``, or the data file with its ``.hdr`` beside it.

    Raises:
        FileNotFoundError: If the header or its data file is missing.
        DataFileError: If the header is not one, or the data file is shorter than the
            header says.
    """
    from spectral.io import envi

    header = envi_header_path(path)
    fields = read_envi_header(header)
    data_file = None if path.suffix.lower() == ".hdr" else str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = envi.open(str(header), data_file)
    except envi.EnviDataFileNotFoundError as exc:
        tried = ", ".join(repr(header.with_suffix(s).name) for s in _DATA_SUFFIXES[:4])
        raise FileNotFoundError(
            f"the data file of ENVI header {str(header)!r} is missing: none of {tried}... "
            "sits beside it. Copy the data file (.img/.dat/.raw) next to the header with "
            "the same name, or pass the data file itself."
        ) from exc
    except (envi.EnviException, ValueError, KeyError, TypeError) as exc:
        raise DataFileError(
            f"ENVI header {str(header)!r} cannot be used: {one_line(exc)}; it must give "
            "samples, lines, bands, data type, interleave and byte order. Fix the header "
            "or re-export the cube."
        ) from exc
    data_path = Path(image.filename)
    expected = int(image.offset) + int(image.nrows) * int(image.ncols) * int(
        image.nbands) * np.dtype(image.dtype).itemsize
    actual = data_path.stat().st_size
    if actual < expected:
        raise DataFileError(
            f"ENVI data file {str(data_path)!r} holds {actual} bytes but its header "
            f"{header.name!r} describes {image.nrows} lines x {image.ncols} samples x "
            f"{image.nbands} bands of {np.dtype(image.dtype).name} ({expected} bytes): the "
            "file is truncated or the header belongs to another file. Re-copy the data file."
        )
    open_map = _file_map(data_path, int(image.offset), int(image.nrows), int(image.ncols),
                         int(image.nbands), np.dtype(image.dtype), int(image.interleave))
    names = fields.get("band names")
    band_names = None
    if names is not None:
        items = names if isinstance(names, list) else [names]
        band_names = tuple(str(n) for n in items) if len(items) == image.nbands else None
    return EnviImage(open_map=open_map, georef=_georef(header, fields, int(image.nbands)),
                     band_names=band_names, header=fields, data_path=data_path)
