"""Read hyperspectral cubes and label maps whole, from the formats users have.

Supported: MATLAB ``.mat`` (v5/v7 through scipy, v7.3/HDF5 through h5py with the
axis order corrected), ENVI ``.hdr``/``.img`` (through ``spectral``), GeoTIFF
(through rasterio), ``.npy`` and ``.npz``. :func:`load_cube` returns an ``(H, W, B)``
array at its stored dtype and :func:`load_labels` an ``(H, W)`` int64 array. To read a
large cube by windows instead, use :func:`~hsi_attn.data.rasters.open_cube`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hsi_attn.data.containers import is_mat_v73, mat_shapes, read_mat_variable
from hsi_attn.data.label_files import read_label_codes
from hsi_attn.data.rasters import open_raster
from hsi_attn.data.validation import check_cube, check_labels

__all__ = [
    "check_cube",
    "check_labels",
    "is_mat_v73",
    "load_cube",
    "load_labels",
    "mat_shapes",
    "read_mat_variable",
]


def load_cube(path: str | Path, variable: str | None = None) -> np.ndarray:
    """Load a user's hyperspectral cube as ``(H, W, B)`` at its stored dtype.

    Args:
        path: ``.mat`` (v5/v7/v7.3), ENVI ``.hdr`` (or its ``.img``), GeoTIFF, ``.npy``
            or ``.npz``.
        variable: Array name inside a ``.mat``/``.npz`` file. Required only when the file
            holds several 3-D arrays; otherwise the single 3-D array is used. Given
            with a file of one array (``.npy``, ENVI, GeoTIFF), it is ignored with an
            :class:`~hsi_attn.checks.IgnoredSettingWarning`.

    Returns:
        The cube, bands last.

    Raises:
        FileNotFoundError: If the file (or an ENVI header's data file) does not exist.
        DataFileError: If the file is damaged or ``variable`` is not in it.
        ValueError: For an unsupported suffix, an ambiguous file or a non-3-D array.
    """
    with open_raster(path, variable, what="cube") as cube:
        data = cube.read()
    return np.ascontiguousarray(check_cube(data, source=f"cube from {str(path)!r}"))


def load_labels(path: str | Path, variable: str | None = None) -> np.ndarray:
    """Load a ground-truth map as ``(H, W)`` int64 (0 = unlabelled).

    Pixels at the raster's nodata value (GeoTIFF nodata, ENVI ``data ignore value``)
    are unlabelled. The codes are returned as stored; to map sparse codes such as
    ``{1, 10, 12}`` to classes ``1..3``, see
    :class:`~hsi_attn.data.label_coding.LabelCoding` and :func:`load_user_scene`.

    Args:
        path: ``.mat``, ENVI ``.hdr`` (single band), GeoTIFF (single band), ``.npy`` or
            ``.npz``.
        variable: Array name inside a ``.mat``/``.npz`` file, needed only when the file
            holds several 2-D arrays (ignored, with a warning, for other formats).

    Raises:
        FileNotFoundError: If the file does not exist.
        DataFileError: If the file is damaged or ``variable`` is not in it.
        ValueError: For an unsupported suffix, an ambiguous file, or invalid labels.
    """
    labels = read_label_codes(path, variable)
    return np.ascontiguousarray(check_labels(labels.codes, source=f"labels from {str(path)!r}"))
