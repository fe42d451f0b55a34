"""The ``Scene``: a hyperspectral cube, its ground truth and what the classes are.

A scene's ground truth is always contiguous (0 = unlabelled, classes ``1..K``), so
splits, training and metrics never see the user's codes; ``class_codes`` says which
code each class had in the user's file, and every output is written with those codes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsi_attn.data.class_names import class_names_for, read_class_names
from hsi_attn.data.georeference import Georeference
from hsi_attn.data.label_coding import LabelCoding
from hsi_attn.data.label_files import read_label_codes
from hsi_attn.data.nodata import nodata_mask
from hsi_attn.data.rasters import open_cube
from hsi_attn.data.validation import check_cube, check_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Scene:
    """A labelled hyperspectral scene.

    Construction validates the arrays: the cube must be 3-D, the ground truth 2-D with
    the same ``(H, W)``, labels in ``0..K`` where ``K = len(class_names)``, and the RGB
    bands inside the band range. ``gt`` is stored as int64.

    Attributes:
        name: Scene name (the manifest name for benchmark scenes).
        cube: ``(H, W, B)`` array, native dtype or float32.
        gt: ``(H, W)`` int64; 0 = unlabelled, classes ``1..K``.
        class_names: Names of classes ``1..K``.
        rgb_bands: 0-based band indices for an RGB preview.
        verified_files: ``(path, sha256)`` of every file checked to build the scene
            (empty for arrays built in memory or user files without a recorded hash).
        class_codes: The user's code of class ``k + 1`` at index ``k``; default
            ``1..K`` (benchmark scenes).
        georef: Where the cube lies and what its bands are (empty for benchmark
            scenes and arrays).
    """

    name: str
    cube: np.ndarray
    gt: np.ndarray
    class_names: tuple[str, ...]
    rgb_bands: tuple[int, int, int]
    verified_files: tuple[tuple[str, str], ...] = ()
    class_codes: tuple[int, ...] = ()
    georef: Georeference = field(default_factory=Georeference)

    def __post_init__(self) -> None:
        cube = check_cube(self.cube, source=f"scene {self.name!r} cube")
        gt = check_labels(self.gt, source=f"scene {self.name!r} gt")
        if cube.shape[:2] != gt.shape:
            raise ValueError(
                f"scene {self.name!r}: cube is {cube.shape[0]}x{cube.shape[1]} (H x W) but gt is "
                f"{gt.shape[0]}x{gt.shape[1]}; the cube and the ground truth must cover the "
                "same pixels. Check that they come from the same scene and that neither is "
                "transposed."
            )
        names = tuple(str(n) for n in self.class_names)
        top = int(gt.max()) if gt.size else 0
        if top > len(names):
            raise ValueError(
                f"scene {self.name!r}: gt holds label {top} but only {len(names)} class names "
                f"were given; labels must be 0 (unlabelled) or 1..{len(names)}"
            )
        bands = tuple(int(b) for b in self.rgb_bands)
        if len(bands) != 3 or not all(0 <= b < cube.shape[2] for b in bands):
            raise ValueError(
                f"scene {self.name!r}: rgb_bands {self.rgb_bands} must be 3 band indices in "
                f"[0, {cube.shape[2]})"
            )
        codes = tuple(int(c) for c in self.class_codes) or tuple(range(1, len(names) + 1))
        if len(codes) != len(names) or len(set(codes)) != len(codes):
            raise ValueError(
                f"scene {self.name!r}: class_codes {list(codes)} must be {len(names)} distinct "
                "codes, one per class name"
            )
        object.__setattr__(self, "cube", cube)
        object.__setattr__(self, "gt", gt)
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "rgb_bands", bands)
        object.__setattr__(self, "class_codes", codes)

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.class_names)

    @property
    def n_bands(self) -> int:
        """Number of spectral bands B."""
        return int(self.cube.shape[2])

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial size ``(H, W)``."""
        return (int(self.cube.shape[0]), int(self.cube.shape[1]))

    def to_codes(self, labels: np.ndarray, *, unlabelled: int = 0) -> np.ndarray:
        """Map classes ``0..K`` (a prediction, the gt) to the user's codes.

        Args:
            labels: Integer classes ``0..K``.
            unlabelled: The code written for class 0.
        """
        table = np.asarray((unlabelled, *self.class_codes), dtype=np.int64)
        return table[np.asarray(labels, dtype=np.int64)]

    def class_counts(self) -> np.ndarray:
        """Labelled pixels per class, ``(K,)`` int64 for classes ``1..K``."""
        return np.bincount(self.gt.ravel(), minlength=self.n_classes + 1)[1:].astype(np.int64)

    def labelled_coords(self) -> np.ndarray:
        """``(n, 2)`` int64 ``(row, col)`` of every labelled pixel, row-major order."""
        return np.argwhere(self.gt > 0).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"Scene(name={self.name!r}, cube={self.cube.shape} {self.cube.dtype}, "
            f"n_classes={self.n_classes}, labelled={int((self.gt > 0).sum())})"
        )

    @classmethod
    def from_arrays(
        cls,
        cube: np.ndarray,
        gt: np.ndarray | None = None,
        *,
        name: str = "custom",
        class_names: tuple[str, ...] | list[str] | None = None,
        rgb_bands: tuple[int, int, int] | None = None,
        class_codes: tuple[int, ...] | list[int] | None = None,
        georef: Georeference | None = None,
    ) -> Scene:
        """Build a scene from in-memory arrays with sensible defaults.

        Args:
            cube: ``(H, W, B)`` array.
            gt: ``(H, W)`` labels (0 = unlabelled); None for an unlabelled scene.
            name: Scene name.
            class_names: Names of classes ``1..K``; default ``class_1..class_K`` with
                ``K = gt.max()``.
            rgb_bands: Preview bands; default three evenly spaced bands.
            class_codes: The user's code of each class; default ``1..K``.
            georef: The cube's georeference; default none.
        """
        cube = check_cube(cube, source=f"scene {name!r} cube")
        if gt is None:
            gt = np.zeros(cube.shape[:2], dtype=np.int64)
        gt = check_labels(gt, source=f"scene {name!r} gt")
        if class_names is None:
            top = int(gt.max()) if gt.size else 0
            class_names = tuple(f"class_{k}" for k in range(1, top + 1))
        if rgb_bands is None:
            b = cube.shape[2]
            rgb_bands = (int(b * 3 // 4), int(b // 2), int(b // 4))
        return cls(name=name, cube=cube, gt=gt, class_names=tuple(class_names),
                   rgb_bands=tuple(rgb_bands),  # type: ignore[arg-type]
                   class_codes=tuple(class_codes or ()),
                   georef=georef if georef is not None else Georeference())


def load_user_scene(
    cube_path: str | Path,
    gt_path: str | Path | None = None,
    *,
    cube_variable: str | None = None,
    gt_variable: str | None = None,
    name: str | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
    rgb_bands: tuple[int, int, int] | None = None,
    class_names_path: str | Path | None = None,
    ignore_label: int = 0,
) -> Scene:
    """Load your own cube (and optional ground truth) as a :class:`Scene`.

    The ground truth's codes are kept as written: the codes present (other than
    ``ignore_label`` and the raster's nodata) become classes ``1..K`` in sorted order,
    and ``Scene.class_codes`` maps them back. Pixels whose spectrum holds no data
    (:func:`~hsi_attn.data.nodata.nodata_mask` with the cube's nodata) are made
    unlabelled, so they are never trained or scored on.

    Args:
        cube_path: ENVI ``.hdr``, GeoTIFF, ``.mat``, ``.npy`` or ``.npz`` cube, bands last.
        gt_path: Label map in any of those formats; None for an unlabelled scene.
        cube_variable: Array name in the cube file when it holds several 3-D arrays.
        gt_variable: Array name in the labels file when it holds several 2-D arrays.
        name: Scene name; default the cube file's stem.
        class_names: Names of classes ``1..K`` in code order; overrides the others.
        rgb_bands: Preview bands; default three evenly spaced bands.
        class_names_path: JSON or CSV file of code -> name (see
            :func:`~hsi_attn.data.class_names.read_class_names`). Default: the ENVI
            header's ``class names`` of ``gt_path``, else each code as text.
        ignore_label: The code of unlabelled pixels.

    Raises:
        ValueError: If the cube and the ground truth differ in ``(H, W)``, either is
            invalid (see :func:`~hsi_attn.data.readers.load_cube`), or the class names
            file misses a code of the ground truth.
    """
    with open_cube(cube_path, variable=cube_variable) as raster:
        cube = check_cube(raster.read(), source=f"cube from {str(cube_path)!r}")
        georef = raster.georef
    name = name or Path(cube_path).stem
    if gt_path is None:
        return Scene.from_arrays(cube, None, name=name, rgb_bands=rgb_bands, georef=georef)
    labels = read_label_codes(gt_path, variable=gt_variable)
    if labels.codes.shape != cube.shape[:2]:
        raise ValueError(
            f"cube {str(cube_path)!r} is {cube.shape[0]}x{cube.shape[1]} (H x W) but labels "
            f"{str(gt_path)!r} are {labels.codes.shape[0]}x{labels.codes.shape[1]}; they must "
            "cover the same pixels (is one of them transposed or from another scene?)"
        )
    _check_codes(labels.codes[~labels.missing], ignore_label, gt_path)
    empty = nodata_mask(cube, georef.nodata)
    missing = labels.missing | empty
    coding = LabelCoding.from_codes(labels.codes, ignore_label=ignore_label, missing=missing)
    gt = coding.encode(labels.codes, missing=missing, source=f"labels {str(gt_path)!r}")
    dropped = int((empty & ~labels.missing & (labels.codes != ignore_label)).sum())
    if dropped:
        logger.warning("%s: %d labelled pixels hold no data in the cube (nodata %s, zero or "
                       "NaN spectra) and are left out", name, dropped, georef.nodata)
    if class_names is None:
        from_file = None if class_names_path is None else read_class_names(class_names_path)
        class_names = class_names_for(coding.class_codes, from_file=from_file,
                                      file_path=class_names_path,
                                      from_header=labels.header_names, ignore_label=ignore_label)
    return Scene.from_arrays(cube, gt, name=name, class_names=class_names, rgb_bands=rgb_bands,
                             class_codes=coding.class_codes, georef=georef)


def _check_codes(codes: np.ndarray, ignore_label: int, gt_path: str | Path) -> None:
    negative = np.unique(codes[(codes < 0) & (codes != ignore_label)])
    if negative.size:
        raise ValueError(
            f"labels {str(gt_path)!r} hold negative codes {negative[:5].tolist()}; if "
            f"{int(negative[0])} marks unlabelled pixels, pass --ignore-label "
            f"{int(negative[0])} (ignore_label={int(negative[0])})"
        )
