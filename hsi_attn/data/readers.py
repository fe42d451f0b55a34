"""Read hyperspectral cubes and label maps from the formats users have.

Supported: MATLAB ``.mat`` (v5/v7 through scipy, v7.3/HDF5 through h5py with the
axis order corrected), ENVI ``.hdr``/``.img`` (through ``spectral``), ``.npy`` and
``.npz``. :func:`load_cube` returns an ``(H, W, B)`` array at its stored dtype and
:func:`load_labels` an ``(H, W)`` int64 array.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hsi_attn.checks import IgnoredSettingWarning

logger = logging.getLogger(__name__)

_VARIABLE_SETTINGS = {"cube": "cube_variable, --cube-variable",
                      "labels": "gt_variable, --gt-variable"}
"""The configuration setting that names the array inside a file, by what the file holds."""

_MAT_SUFFIXES = (".mat",)
_ENVI_SUFFIXES = (".hdr", ".img", ".dat", ".raw", ".bil", ".bip", ".bsq")


def is_mat_v73(path: str | Path) -> bool:
    """True when ``path`` is a MATLAB v7.3 file (an HDF5 container)."""
    import h5py

    return bool(h5py.is_hdf5(str(path)))


_NUMERIC_MAT_CLASSES = {
    "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "logical",
}


def mat_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every numeric array in a ``.mat`` file, without reading the data.

    Shapes of v7.3 (HDF5) arrays are given in MATLAB order (h5py sees them reversed).
    """
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


def read_mat_variable(path: str | Path, variable: str) -> np.ndarray:
    """Read one variable from a ``.mat`` file (v5/v7 or v7.3), and only that one.

    v7.3 (HDF5) files store arrays in MATLAB's column-major order, so h5py sees the
    axes reversed; they are transposed back here so that both container versions
    give the same ``(H, W, B)`` / ``(H, W)`` arrays.

    Raises:
        KeyError: If ``variable`` is not in the file; the message lists what is there.
    """
    shapes = mat_shapes(path)
    if variable not in shapes:
        raise KeyError(
            f"variable {variable!r} not found in {str(path)!r}; it holds "
            f"{sorted(shapes) or 'no numeric arrays'}. Pass variable= with one of those names."
        )
    if is_mat_v73(path):
        import h5py

        with h5py.File(str(path), "r") as handle:
            return np.ascontiguousarray(np.asarray(handle[variable][()]).T)
    from scipy.io import loadmat

    return loadmat(str(path), variable_names=[variable])[variable]


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    shapes = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            with archive.zip.open(f"{key}.npy") as handle:
                version = np.lib.format.read_magic(handle)
                reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shapes[key] = tuple(reader(handle)[0])
    return shapes


def _read_npz(path: Path, variable: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        return archive[variable]


def _pick(shapes: dict[str, tuple[int, ...]], path: Path, variable: str | None,
          ndims: tuple[int, ...], what: str) -> str:
    """The name of the array to read: ``variable``, or the only one with a fitting ndim."""
    if variable is not None:
        if variable not in shapes:
            raise KeyError(
                f"variable {variable!r} not found in {str(path)!r}; it holds {sorted(shapes)}."
            )
        return variable
    candidates = [k for k, shape in shapes.items() if len(shape) in ndims]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValueError(
            f"{str(path)!r} holds no {'/'.join(map(str, ndims))}-D array to use as {what}: "
            f"found {shapes}."
        )
    raise ValueError(
        f"{str(path)!r} holds several arrays that could be the {what}: "
        f"{ {k: shapes[k] for k in candidates} }. Pass variable=<name> to choose one."
    )


def _read_envi(path: Path) -> np.ndarray:
    from spectral.io import envi

    header = path if path.suffix.lower() == ".hdr" else path.with_suffix(".hdr")
    if not header.exists():
        raise FileNotFoundError(
            f"ENVI header {str(header)!r} not found for {str(path)!r}; pass the .hdr file "
            "(its data file must sit beside it)."
        )
    image_file = None if path.suffix.lower() == ".hdr" else str(path)
    image = envi.open(str(header), image_file)
    return np.array(image.open_memmap(interleave="bip"))


def _read_any(path: str | Path, variable: str | None, ndims: tuple[int, ...], what: str
              ) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[], np.ndarray]] = {
        ".mat": lambda: read_mat_variable(
            path, _pick(mat_shapes(path), path, variable, ndims, what)
        ),
        ".npz": lambda: _read_npz(path, _pick(_npz_shapes(path), path, variable, ndims, what)),
        ".npy": lambda: np.load(path, allow_pickle=False),
    }
    for envi_suffix in _ENVI_SUFFIXES:
        readers[envi_suffix] = lambda: _read_envi(path)
    if suffix not in readers:
        raise ValueError(
            f"unsupported {what} file type {suffix!r} for {str(path)!r}; accepted: "
            f".mat (v5/v7/v7.3), ENVI .hdr/.img, .npy, .npz"
        )
    if variable is not None and suffix not in (".mat", ".npz"):
        setting = _VARIABLE_SETTINGS.get(what, "variable")
        warnings.warn(IgnoredSettingWarning(
            f"variable={variable!r} ({setting}) is ignored: {path.name!r} is a {suffix} file, "
            f"which holds a single array; only .mat and .npz files hold named arrays"
        ), stacklevel=3)
    return readers[suffix]()


def check_cube(cube: np.ndarray, *, source: str = "cube") -> np.ndarray:
    """Validate a hyperspectral cube: numeric, 3-D ``(H, W, B)``, non-empty.

    Raises:
        ValueError: On another number of dimensions, an empty axis or a non-numeric dtype.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(
            f"{source} has {cube.ndim} dims with shape {cube.shape}; a hyperspectral cube "
            "must be 3-D (H, W, B) with bands last. Reshape a flat (H*W, B) matrix to "
            "(H, W, B), or add a band axis with cube[..., None] for a single band."
        )
    if min(cube.shape) < 1:
        raise ValueError(f"{source} has an empty axis: shape {cube.shape}")
    if cube.dtype.kind not in "biuf":
        raise ValueError(f"{source} has non-numeric dtype {cube.dtype}; expected ints or floats")
    return cube


def check_labels(labels: np.ndarray, *, source: str = "labels") -> np.ndarray:
    """Validate a label map and return it as ``(H, W)`` int64.

    Float labels are accepted when every value is a whole number (MATLAB stores
    labels as double). A trailing singleton axis (ENVI classification files) is dropped.

    Raises:
        ValueError: On a non-2-D map, non-integer values, NaN, or negative labels.
    """
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[2] == 1:
        labels = labels[:, :, 0]
    if labels.ndim != 2:
        raise ValueError(
            f"{source} has shape {labels.shape}; ground truth must be a 2-D (H, W) map of "
            "integer class labels (0 = unlabelled, 1..K = classes)"
        )
    if labels.dtype.kind == "b" or labels.dtype.kind not in "iuf":
        raise ValueError(f"{source} has dtype {labels.dtype}; expected integer class labels")
    if labels.dtype.kind == "f" and (
        not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels))
    ):
        raise ValueError(
            f"{source} holds non-integer or non-finite values; labels must be whole "
            "numbers (0 = unlabelled, 1..K = classes)"
        )
    if labels.size and labels.min() < 0:
        negative = np.unique(labels[labels < 0])[:5].tolist()
        raise ValueError(
            f"{source} holds negative labels {negative}; labels must be 0 (unlabelled) or "
            "1..K. If -1 marks unlabelled pixels, map it to 0 first (labels[labels < 0] = 0)."
        )
    return labels.astype(np.int64, copy=False)


def load_cube(path: str | Path, variable: str | None = None) -> np.ndarray:
    """Load a user's hyperspectral cube as ``(H, W, B)`` at its stored dtype.

    Args:
        path: ``.mat`` (v5/v7/v7.3), ENVI ``.hdr`` (or its ``.img``), ``.npy`` or ``.npz``.
        variable: Array name inside a ``.mat``/``.npz`` file. Required only when the file
            holds several 3-D arrays; otherwise the single 3-D array is used. Given
            with a file of one array (``.npy``, ENVI), it is ignored with an
            :class:`~hsi_attn.checks.IgnoredSettingWarning`.

    Returns:
        The cube, bands last.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: For an unsupported suffix, an ambiguous file or a non-3-D array.
    """
    cube = _read_any(path, variable, (3,), "cube")
    return np.ascontiguousarray(check_cube(cube, source=f"cube from {str(path)!r}"))


def load_labels(path: str | Path, variable: str | None = None) -> np.ndarray:
    """Load a ground-truth map as ``(H, W)`` int64 (0 = unlabelled).

    Args:
        path: ``.mat``, ENVI ``.hdr`` (single band), ``.npy`` or ``.npz``.
        variable: Array name inside a ``.mat``/``.npz`` file, needed only when the file
            holds several 2-D arrays (ignored, with a warning, for ``.npy`` and ENVI).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: For an unsupported suffix, an ambiguous file, or invalid labels.
    """
    labels = _read_any(path, variable, (2,), "labels")
    return np.ascontiguousarray(check_labels(labels, source=f"labels from {str(path)!r}"))
