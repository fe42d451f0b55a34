"""Files that hold named arrays: MATLAB ``.mat`` (v5/v7 and v7.3/HDF5) and NumPy ``.npz``.

Neither can be memory-mapped (``.mat`` v5 compresses its variables, ``.npz`` is a zip
archive), so a variable is always read whole, and only the one asked for. Shapes are
listed from the file headers without reading the data, to pick the variable and to
name the others when the one asked for is not there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hsi_attn.data.errors import DataFileError, one_line

__all__ = [
    "damaged_file_error",
    "is_mat_v73",
    "mat_shapes",
    "npz_shapes",
    "pick_variable",
    "read_mat_variable",
    "read_npz_variable",
]

_NUMERIC_MAT_CLASSES = {
    "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "logical",
}


def damaged_file_error(path: Path, kind: str, exc: BaseException, hint: str) -> DataFileError:
    """The one-line error for a file that exists but that its reader cannot parse.

    Args:
        path: The file.
        kind: What the file should be (``"MATLAB .mat"``, ``"GeoTIFF"``...).
        exc: What the reader raised, quoted as the reason.
        hint: The next step for the user.
    """
    if path.is_file() and path.stat().st_size == 0:
        return DataFileError(f"{kind} file {str(path)!r} is empty (0 bytes); {hint}")
    reason = one_line(exc) or type(exc).__name__
    if exc.__cause__ is not None and one_line(exc.__cause__):
        reason = f"{reason}: {one_line(exc.__cause__)}"
    return DataFileError(
        f"cannot read {kind} file {str(path)!r}: {reason} ({type(exc).__name__}); the file "
        f"is damaged, truncated or not a {kind} file; {hint}"
    )


_MAT_HINT = "re-copy it, or save it again from MATLAB (save -v7 or -v7.3)"
_NPZ_HINT = "re-copy it, or save it again with numpy.savez"


def is_mat_v73(path: str | Path) -> bool:
    """True when ``path`` is a MATLAB v7.3 file (an HDF5 container)."""
    import h5py

    return bool(h5py.is_hdf5(str(path)))


def mat_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every numeric array in a ``.mat`` file, without reading the data.

    Shapes of v7.3 (HDF5) arrays are given in MATLAB order (h5py sees them reversed).

    Raises:
        DataFileError: If the file is empty, truncated or not a MATLAB file.
    """
    path = Path(path)
    try:
        if is_mat_v73(path):
            import h5py

            with h5py.File(str(path), "r") as handle:
                return {
                    key: tuple(int(v) for v in reversed(item.shape))
                    for key, item in handle.items()
                    if not key.startswith("#") and isinstance(item, h5py.Dataset)
                    and item.dtype.kind in "biuf"
                }
        from scipy.io import whosmat

        return {
            name: tuple(int(v) for v in shape)
            for name, shape, matlab_class in whosmat(str(path))
            if matlab_class in _NUMERIC_MAT_CLASSES
        }
    except MemoryError:
        raise
    except Exception as exc:  # scipy and h5py raise many types for a damaged file
        raise damaged_file_error(path, "MATLAB .mat", exc, _MAT_HINT) from exc


def _missing_variable(path: Path, variable: str, shapes: dict[str, tuple[int, ...]],
                      setting: str) -> DataFileError:
    held = ", ".join(f"{k!r} {shapes[k]}" for k in sorted(shapes)) or "no numeric arrays"
    return DataFileError(
        f"{str(path)!r} holds no array named {variable!r}; it holds {held}. Pass one of "
        f"those names as {setting}."
    )


def read_mat_variable(path: str | Path, variable: str) -> np.ndarray:
    """Read one variable from a ``.mat`` file (v5/v7 or v7.3), and only that one.

    v7.3 (HDF5) files store arrays in MATLAB's column-major order, so h5py sees the
    axes reversed; they are transposed back here so that both container versions
    give the same ``(H, W, B)`` / ``(H, W)`` arrays.

    Raises:
        DataFileError: If ``variable`` is not in the file (the message lists what is
            there), or the file is damaged.
    """
    path = Path(path)
    shapes = mat_shapes(path)
    if variable not in shapes:
        raise _missing_variable(path, variable, shapes, "variable=")
    try:
        if is_mat_v73(path):
            import h5py

            with h5py.File(str(path), "r") as handle:
                return np.ascontiguousarray(np.asarray(handle[variable][()]).T)
        from scipy.io import loadmat

        return loadmat(str(path), variable_names=[variable])[variable]
    except MemoryError:
        raise
    except Exception as exc:  # a truncated variable fails only when its data is read
        raise damaged_file_error(path, "MATLAB .mat", exc, _MAT_HINT) from exc


def npz_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every array in a ``.npz`` archive, without reading the data.

    Raises:
        DataFileError: If the archive is damaged or holds pickled objects.
    """
    path = Path(path)
    shapes = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                with archive.zip.open(f"{key}.npy") as handle:
                    version = np.lib.format.read_magic(handle)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shapes[key] = tuple(reader(handle)[0])
    except MemoryError:
        raise
    except Exception as exc:  # zipfile and numpy raise many types for a damaged file
        raise damaged_file_error(path, "NumPy .npz", exc, _NPZ_HINT) from exc
    return shapes


def read_npz_variable(path: str | Path, variable: str) -> np.ndarray:
    """Read one array from a ``.npz`` archive.

    Raises:
        DataFileError: If ``variable`` is not in the archive, or the archive is damaged.
    """
    path = Path(path)
    shapes = npz_shapes(path)
    if variable not in shapes:
        raise _missing_variable(path, variable, shapes, "variable=")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive[variable]
    except MemoryError:
        raise
    except Exception as exc:
        raise damaged_file_error(path, "NumPy .npz", exc, _NPZ_HINT) from exc


def pick_variable(shapes: dict[str, tuple[int, ...]], path: Path, variable: str | None,
                  ndims: tuple[int, ...], what: str, setting: str) -> str:
    """The name of the array to read: ``variable``, or the only one with a fitting ndim.

    Args:
        shapes: Name -> shape of the arrays in the file.
        path: The file, for messages.
        variable: The name the user gave, or None to choose by ndim.
        ndims: Acceptable numbers of dimensions.
        what: What the array is (``"cube"``, ``"labels"``), for messages.
        setting: How the user names the array (``"cube_variable (--cube-variable)"``).

    Raises:
        DataFileError: If ``variable`` is not in the file, or no or several arrays fit.
    """
    if variable is not None:
        if variable not in shapes:
            raise _missing_variable(path, variable, shapes, setting)
        return variable
    candidates = [k for k, shape in shapes.items() if len(shape) in ndims]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataFileError(
            f"{str(path)!r} holds no {'/'.join(map(str, ndims))}-D array to use as {what}: "
            f"found {shapes}. Check that this is the {what} file."
        )
    raise DataFileError(
        f"{str(path)!r} holds several arrays that could be the {what}: "
        f"{ {k: shapes[k] for k in candidates} }. Pass variable=<name> ({setting}) to "
        "choose one."
    )
