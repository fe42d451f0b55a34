"""The ``Scene``: a hyperspectral cube, its ground truth and what the classes are."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hsi_attn.data.readers import check_cube, check_labels, load_cube, load_labels

if TYPE_CHECKING:
    from hsi_attn.data.fixed_splits import FixedSplit


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
        fixed_split: The fixed split from the literature whose labels ``gt`` holds
            (see :meth:`with_fixed_split`), or None.
    """

    name: str
    cube: np.ndarray
    gt: np.ndarray
    class_names: tuple[str, ...]
    rgb_bands: tuple[int, int, int]
    verified_files: tuple[tuple[str, str], ...] = ()
    fixed_split: FixedSplit | None = None

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
        object.__setattr__(self, "cube", cube)
        object.__setattr__(self, "gt", gt)
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "rgb_bands", bands)

    def with_fixed_split(self, fixed: FixedSplit) -> Scene:
        """This scene labelled by a fixed split: ``gt`` becomes the split's own labels
        (its training and test maps), which are the protocol's labels even where the
        scene's ground truth leaves a pixel unlabelled.

        Raises:
            ValueError: If the split's maps do not cover this scene's pixels.
        """
        if fixed.train_gt.shape != self.shape:
            raise ValueError(
                f"fixed split {fixed.name!r} covers {fixed.train_gt.shape} pixels but scene "
                f"{self.name!r} is {self.shape}; it belongs to another scene"
            )
        return replace(self, gt=fixed.labels, fixed_split=fixed)

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
    ) -> Scene:
        """Build a scene from in-memory arrays with sensible defaults.

        Args:
            cube: ``(H, W, B)`` array.
            gt: ``(H, W)`` labels (0 = unlabelled); None for an unlabelled scene.
            name: Scene name.
            class_names: Names of classes ``1..K``; default ``class_1..class_K`` with
                ``K = gt.max()``.
            rgb_bands: Preview bands; default three evenly spaced bands.
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
                   rgb_bands=tuple(rgb_bands))  # type: ignore[arg-type]


def load_user_scene(
    cube_path: str | Path,
    gt_path: str | Path | None = None,
    *,
    cube_variable: str | None = None,
    gt_variable: str | None = None,
    name: str | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
    rgb_bands: tuple[int, int, int] | None = None,
) -> Scene:
    """Load your own cube (and optional ground truth) as a :class:`Scene`.

    Args:
        cube_path: ``.mat``, ENVI ``.hdr``, ``.npy`` or ``.npz`` cube, bands last.
        gt_path: Label map in any of those formats; None for an unlabelled scene.
        cube_variable: Array name in the cube file when it holds several 3-D arrays.
        gt_variable: Array name in the labels file when it holds several 2-D arrays.
        name: Scene name; default the cube file's stem.
        class_names: Names of classes ``1..K``; default ``class_1..class_K``.
        rgb_bands: Preview bands; default three evenly spaced bands.

    Raises:
        ValueError: If the cube and the ground truth differ in ``(H, W)``, or either is
            invalid (see :func:`load_cube`, :func:`load_labels`).
    """
    cube = load_cube(cube_path, variable=cube_variable)
    gt = None if gt_path is None else load_labels(gt_path, variable=gt_variable)
    if gt is not None and gt.shape != cube.shape[:2]:
        raise ValueError(
            f"cube {str(cube_path)!r} is {cube.shape[0]}x{cube.shape[1]} (H x W) but labels "
            f"{str(gt_path)!r} are {gt.shape[0]}x{gt.shape[1]}; they must cover the same "
            "pixels (is one of them transposed or from another scene?)"
        )
    return Scene.from_arrays(
        cube, gt, name=name or Path(cube_path).stem, class_names=class_names,
        rgb_bands=rgb_bands,
    )
