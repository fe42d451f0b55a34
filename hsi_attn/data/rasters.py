"""Lazily read cubes: :func:`open_cube` and the :class:`RasterCube` it returns.

A flight line can be larger than memory, so a cube is opened without reading it and
then read by windows. How lazily depends on the format:

- ENVI (``.hdr`` + data file, BSQ/BIL/BIP, any data type): memory-mapped through
  ``spectral``; a window reads only its bytes.
- GeoTIFF (``.tif``/``.tiff``): read by rasterio windows.
- ``.npy``: memory-mapped with ``np.load(mmap_mode="r")``.
- ``.mat`` and ``.npz``: read whole when opened. They cannot be memory-mapped (MATLAB
  v5 compresses variables, ``.npz`` is a zip archive); save a large cube as ENVI,
  GeoTIFF or ``.npy`` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from hsi_attn.checks import IgnoredSettingWarning
from hsi_attn.data.containers import (
    damaged_file_error,
    mat_shapes,
    npz_shapes,
    pick_variable,
    read_mat_variable,
    read_npz_variable,
)
from hsi_attn.data.envi import ENVI_SUFFIXES, open_envi
from hsi_attn.data.errors import DataFileError
from hsi_attn.data.geotiff import GEOTIFF_SUFFIXES, GeoTiffWindows
from hsi_attn.data.georeference import Georeference
from hsi_attn.data.validation import check_cube, check_labels

__all__ = ["CUBE_FORMATS", "RasterCube", "open_cube", "open_raster"]

CUBE_FORMATS = ".mat (v5/v7/v7.3), ENVI .hdr/.img, GeoTIFF .tif/.tiff, .npy, .npz"
"""The accepted file types, as error messages list them."""

_VARIABLE_SETTINGS = {"cube": "cube_variable (--cube-variable)",
                      "labels": "gt_variable (--gt-variable)"}
"""The configuration setting that names the array inside a file, by what the file holds."""


class WindowSource(Protocol):
    """What a :class:`RasterCube` reads from: a shape, a dtype and windowed reads."""

    shape: tuple[int, int, int]
    dtype: np.dtype

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """``(h, w, B)`` for in-range, step-1 ``rows`` and ``cols``."""

    def close(self) -> None:
        """Release the file."""


class ArrayWindows:
    """Windows of an ``(H, W, B)`` array: a memory map or an array read whole."""

    def __init__(self, array: np.ndarray) -> None:
        self._array: np.ndarray | None = array
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = array.dtype.newbyteorder("=")

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """Copy of the window at native byte order (a memory map's file can then close)."""
        if self._array is None:
            raise ValueError("the cube is closed; open it again with open_cube()")
        return np.array(self._array[rows, cols], dtype=self.dtype, order="C")

    def close(self) -> None:
        """Drop the array (and with it the memory map)."""
        self._array = None


class MappedWindows:
    """Windows of a file read through a memory map made for each read and released after.

    A memory map held open keeps every page it has read resident, so reading a whole
    flight line through one map would grow the process's resident memory to the file's
    size. Mapping the file again for each window (cheap: a system call) and unmapping it
    once the window is copied keeps resident memory to one window.

    Args:
        open_map: Returns a fresh read-only ``(H, W, B)`` view of a memory map of the file.
    """

    def __init__(self, open_map: Callable[[], np.ndarray]) -> None:
        self._open_map: Callable[[], np.ndarray] | None = open_map
        probe = open_map()
        self.shape = tuple(int(n) for n in probe.shape)
        self.dtype = probe.dtype.newbyteorder("=")
        del probe

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """Copy of the window at native byte order; the map is released on return."""
        if self._open_map is None:
            raise ValueError("the cube is closed; open it again with open_cube()")
        mapped = self._open_map()
        try:
            return np.array(mapped[rows, cols], dtype=self.dtype, order="C")
        finally:
            del mapped  # the last reference: numpy unmaps the file

    def close(self) -> None:
        """Forget the file."""
        self._open_map = None


class RasterCube:
    """A hyperspectral cube opened by :func:`open_cube` and read by windows.

    Indexing reads: ``cube[r0:r1, c0:c1]`` (or ``cube[r0:r1, c0:c1, :]``, or with a
    band index last) reads only that window, so the object works where a lazily read
    ``(H, W, B)`` array is expected. Close it when done (GeoTIFF files stay open until
    then), or use it as a context manager.

    Attributes:
        path: The file it was opened from.
        shape: ``(H, W, B)``.
        dtype: The stored data type (at native byte order); reads return it.
        georef: CRS, transform, ENVI map info, wavelengths and nodata of the file.
        band_names: One name per band (ENVI ``band names``, GeoTIFF band
            descriptions), or None.
    """

    def __init__(self, path: Path, source: WindowSource, *, georef: Georeference | None = None,
                 band_names: tuple[str, ...] | None = None) -> None:
        self.path = path
        self._source = source
        self.shape: tuple[int, int, int] = tuple(source.shape)  # type: ignore[assignment]
        self.dtype = np.dtype(source.dtype)
        self.georef = georef if georef is not None else Georeference()
        self.band_names = band_names
        self._closed = False

    @property
    def ndim(self) -> int:
        """Always 3."""
        return 3

    def read(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Read a window as ``(h, w, B)`` at the stored dtype; the default reads all.

        Args:
            rows: Row slice (any step; negative bounds count from the end).
            cols: Column slice.

        Raises:
            ValueError: If the cube is closed.
            DataFileError: If the file is damaged where it is read.
        """
        if self._closed:
            raise ValueError(f"cube {str(self.path)!r} is closed; open it again with open_cube()")
        row_range = range(*rows.indices(self.shape[0]))
        col_range = range(*cols.indices(self.shape[1]))
        if not row_range or not col_range:
            return np.empty((len(row_range), len(col_range), self.shape[2]), dtype=self.dtype)
        row_box, row_local = _bounding(row_range)
        col_box, col_local = _bounding(col_range)
        window = self._source.read(row_box, col_box)
        if row_local is None and col_local is None:
            return window
        return np.ascontiguousarray(window[row_local or slice(None), col_local or slice(None)])

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        if len(keys) > 3 or any(k is Ellipsis for k in keys):
            raise IndexError(
                f"a RasterCube takes [rows, cols] or [rows, cols, bands], got {key!r}"
            )
        rows, cols = (tuple(keys[:2]) + (slice(None), slice(None)))[:2]
        row_slice, drop_row = _as_slice(rows, self.shape[0], "row")
        col_slice, drop_col = _as_slice(cols, self.shape[1], "column")
        data = self.read(row_slice, col_slice)
        if len(keys) == 3:
            data = data[:, :, keys[2]]
        if drop_row and drop_col:
            return data[0, 0]
        if drop_row or drop_col:
            return data[0] if drop_row else data[:, 0]
        return data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self.read()
        return data if dtype is None else data.astype(dtype, copy=False)

    def close(self) -> None:
        """Release the file; reading afterwards raises. Safe to call twice."""
        if not self._closed:
            self._source.close()
            self._closed = True

    def __enter__(self) -> RasterCube:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RasterCube({str(self.path)!r}, shape={self.shape}, dtype={self.dtype}, {state})"


def _bounding(indices: range) -> tuple[slice, slice | None]:
    """The step-1 window covering ``indices``, and how to pick them from it (None: all)."""
    low, high = min(indices), max(indices) + 1
    if indices.step == 1:
        return slice(low, high), None
    stop = indices.stop - low
    return slice(low, high), slice(indices.start - low, None if stop < 0 else stop, indices.step)


def _as_slice(index: Any, size: int, axis: str) -> tuple[slice, bool]:
    if isinstance(index, slice):
        return index, False
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        position = int(index) + size if index < 0 else int(index)
        if not 0 <= position < size:
            raise IndexError(f"{axis} {int(index)} is out of range for size {size}")
        return slice(position, position + 1), True
    raise IndexError(f"a RasterCube {axis} index must be an int or a slice, got {index!r}")


def _open_npy(path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        magic = handle.read(6)
    if magic != b"\x93NUMPY":
        raise DataFileError(
            f"{str(path)!r} is not a NumPy .npy file (it does not start with the .npy "
            "header); save the array with numpy.save, or give the file its real suffix"
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise damaged_file_error(path, "NumPy .npy", exc,
                                 "re-copy it, or save it again with numpy.save") from exc


def _container(path: Path, variable: str | None, ndims: tuple[int, ...], what: str,
               shapes: Callable[[Path], dict[str, tuple[int, ...]]],
               read: Callable[[Path, str], np.ndarray]) -> np.ndarray:
    setting = _VARIABLE_SETTINGS.get(what, "variable=")
    return read(path, pick_variable(shapes(path), path, variable, ndims, what, setting))


def open_raster(path: str | Path, variable: str | None = None, *, what: str = "cube"
                ) -> RasterCube:
    """Open a cube (``what="cube"``) or a label map (``what="labels"``) lazily.

    A label map is returned as a one-band cube; :func:`~hsi_attn.data.readers.load_labels`
    drops the band axis. See :func:`open_cube` for the formats and errors.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    ndims = (3,) if what == "cube" else (2,)
    if variable is not None and suffix not in (".mat", ".npz"):
        warnings.warn(IgnoredSettingWarning(
            f"variable={variable!r} ({_VARIABLE_SETTINGS.get(what, 'variable')}) is ignored: "
            f"{path.name!r} is a {suffix} file, which holds a single array; only .mat and "
            ".npz files hold named arrays"
        ), stacklevel=3)
    if suffix in GEOTIFF_SUFFIXES:
        source = GeoTiffWindows(path)
        return RasterCube(path, source, georef=source.georef, band_names=source.band_names)
    if suffix in ENVI_SUFFIXES:
        image = open_envi(path)
        return RasterCube(path, MappedWindows(image.open_map), georef=image.georef,
                          band_names=image.band_names)
    if suffix == ".npy" and what == "cube":
        check_cube(_open_npy(path), source=f"cube from {str(path)!r}")
        return RasterCube(path, MappedWindows(lambda: np.load(path, mmap_mode="r",
                                                              allow_pickle=False)))
    if suffix == ".npy":
        array = _open_npy(path)
    elif suffix == ".mat":
        array = _container(path, variable, ndims, what, mat_shapes, read_mat_variable)
    elif suffix == ".npz":
        array = _container(path, variable, ndims, what, npz_shapes, read_npz_variable)
    else:
        raise ValueError(
            f"unsupported {what} file type {suffix!r} for {str(path)!r}; accepted: "
            f"{CUBE_FORMATS}"
        )
    if what == "cube":
        check_cube(array, source=f"cube from {str(path)!r}")
    elif array.ndim == 2:
        array = array[:, :, None]
    elif array.ndim != 3:
        check_labels(array, source=f"labels from {str(path)!r}")
    return RasterCube(path, ArrayWindows(array))


def open_cube(path: str | Path, variable: str | None = None) -> RasterCube:
    """Open a hyperspectral cube without reading it.

    Args:
        path: ENVI ``.hdr`` (or its data file), GeoTIFF ``.tif``/``.tiff``, ``.npy``
            (memory-mapped), ``.mat`` (v5/v7/v7.3) or ``.npz``. ``.mat`` and ``.npz``
            cannot be memory-mapped and are read whole here.
        variable: Array name inside a ``.mat``/``.npz`` file, needed only when the
            file holds several 3-D arrays; given for another format, it is ignored
            with an :class:`~hsi_attn.checks.IgnoredSettingWarning`.

    Returns:
        A :class:`RasterCube`; close it, or use it in a ``with`` block.

    Raises:
        FileNotFoundError: If the file, or an ENVI header's data file, is missing.
        DataFileError: If the file is damaged, truncated or not what its suffix says,
            or ``variable`` is not in it (the message lists the names it holds).
        ValueError: For an unsupported suffix or an array that is not 3-D.
    """
    return open_raster(path, variable, what="cube")
