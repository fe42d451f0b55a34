"""Load a scene's fixed split from the literature: locate, verify, read, translate classes.

A fixed split's two maps (training and test) are files listed in the scene's manifest
(:class:`~hsi_attn.data.manifest.FixedSplitSpec`). They are found where the scene's
files are (``root``, ``$HSI_ATTN_DATA``, the cache), as ``<scene>/splits/<file>``,
``<scene>/<file>`` or ``<file>``, checked against their sha256 before they are read,
and downloaded from their public URL only when asked. Their labels are translated into
the scene's class order. The maps' own labels are the protocol's labels: a pixel's
class comes from the map, even where the scene's ground truth leaves it unlabelled or
disagrees.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsi_attn.data.checksum import verify_sha256
from hsi_attn.data.download import download_file
from hsi_attn.data.errors import DatasetNotFoundError
from hsi_attn.data.locate import DATA_ENV, cache_dir, search_folders
from hsi_attn.data.manifest import FileSpec, FixedSplitSpec, SceneManifest, get_manifest
from hsi_attn.data.readers import check_labels, read_mat_variable

logger = logging.getLogger(__name__)

__all__ = ["FixedSplit", "fixed_split_names", "load_fixed_split", "parse_split_name"]

FIXED = "fixed"
"""The split name that asks for a scene's fixed split (``fixed`` or ``fixed:NAME``)."""


@dataclass(frozen=True, eq=False)
class FixedSplit:
    """A fixed split's maps in the scene's class order.

    Attributes:
        spec: What the manifest says about it (citation, published figures...).
        train_gt: ``(H, W)`` int64 training labels ``1..K`` (0 elsewhere).
        test_gt: ``(H, W)`` int64 test labels ``1..K`` (0 elsewhere).
    """

    spec: FixedSplitSpec
    train_gt: np.ndarray
    test_gt: np.ndarray

    @property
    def name(self) -> str:
        """The split's key within its scene."""
        return self.spec.name

    @property
    def labels(self) -> np.ndarray:
        """The protocol's labels: training and test maps together (they do not overlap)."""
        return np.where(self.train_gt > 0, self.train_gt, self.test_gt)


def parse_split_name(split: str) -> tuple[str, str | None]:
    """``"fixed:hong2021"`` -> ``("fixed", "hong2021")``; ``"random"`` -> ``("random", None)``."""
    kind, _, name = split.partition(":")
    return kind, (name or None)


def fixed_split_names(scene: str | SceneManifest) -> list[str]:
    """Names of the fixed splits a registered scene has (empty when it has none)."""
    manifest = scene if isinstance(scene, SceneManifest) else get_manifest(scene)
    return sorted(manifest.fixed_splits)


def _choose(manifest: SceneManifest, name: str | None) -> FixedSplitSpec:
    names = sorted(manifest.fixed_splits)
    if not names:
        raise ValueError(
            f"scene {manifest.name!r} has no fixed split from the literature; use --split "
            "random or --split disjoint (scenes with fixed splits: "
            f"{_scenes_with_fixed_splits()})"
        )
    if name is None:
        if len(names) > 1:
            raise ValueError(
                f"scene {manifest.name!r} has several fixed splits {names}; choose one with "
                f"--split fixed:NAME"
            )
        return manifest.fixed_splits[names[0]]
    if name not in manifest.fixed_splits:
        raise ValueError(
            f"scene {manifest.name!r} has no fixed split {name!r}; it has {names} "
            f"(--split fixed:{names[0]})"
        )
    return manifest.fixed_splits[name]


def _scenes_with_fixed_splits() -> str:
    from hsi_attn.data.manifest import scene_manifests

    found = [f"{scene} ({', '.join(sorted(m.fixed_splits))})"
             for scene, m in sorted(scene_manifests().items()) if m.fixed_splits]
    return ", ".join(found) or "none"


def _find(spec: FileSpec, scene: str, root: str | Path | None) -> Path | None:
    for _, folder, _ in search_folders(root):
        if folder is None:
            continue
        for candidate in (folder / scene / "splits" / spec.name, folder / scene / spec.name,
                          folder / spec.name):
            if candidate.is_file():
                return candidate
    return None


def _read_map(path: Path, spec: FileSpec) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as dataset:
                return dataset.read(1)
    return read_mat_variable(path, spec.variable)


def _translate(labels: np.ndarray, split: FixedSplitSpec, manifest: SceneManifest,
               source: str) -> np.ndarray:
    labels = check_labels(labels, source=source)
    present = {int(v) for v in np.unique(labels) if v != 0}
    allowed = (set(split.class_map) if split.class_map is not None
               else set(range(1, manifest.n_classes + 1)))
    unknown = sorted(present - allowed)
    if unknown:
        raise ValueError(
            f"{source} holds labels {unknown} that the manifest's class map does not define "
            f"(accepted: 0 and {sorted(allowed)}); the file is not the one the manifest "
            "describes"
        )
    if split.class_map is None:
        return labels
    table = np.zeros(max(max(split.class_map), int(labels.max())) + 1, dtype=np.int64)
    for stored, label in split.class_map.items():
        table[stored] = label
    return table[labels]


def load_fixed_split(
    scene: str | SceneManifest,
    name: str | None = None,
    *,
    root: str | Path | None = None,
    download: bool = False,
) -> FixedSplit:
    """Load the fixed split ``name`` of ``scene``, verified against its manifest.

    Args:
        scene: Registered scene name or its manifest.
        name: The split's key; None picks the scene's only fixed split.
        root: Folder searched first (then ``$HSI_ATTN_DATA``, then the cache).
        download: Download missing maps from their public URL (sha256-checked).

    Raises:
        ValueError: When the scene has no fixed split (the message names the scenes
            that have one), or no split ``name`` (it lists the splits it has), or a map's
            shape or labels do not fit the scene.
        DatasetNotFoundError: When a map is in none of the searched places and
            ``download`` is False.
        ChecksumError: When a map's sha256 differs from the manifest's.
    """
    manifest = scene if isinstance(scene, SceneManifest) else get_manifest(scene)
    split = _choose(manifest, name)
    maps = {}
    for role in ("train", "test"):
        spec = split.files[role]
        path = _find(spec, manifest.name, root)
        if path is None:
            if not download:
                raise DatasetNotFoundError(
                    f"fixed split {manifest.name}:{split.name}: {spec.name} not found in "
                    f"--root, ${DATA_ENV} ({manifest.name}/splits/{spec.name}) or the cache; "
                    f"put it there, or pass --download to fetch it from {spec.url}"
                )
            folder = (Path(root).expanduser() if root is not None else cache_dir())
            path = download_file(spec, folder / manifest.name / "splits")
        verify_sha256(path, spec.sha256,
                      hint=f"Replace it with the file from {spec.url}, then try again.")
        source = f"fixed split {manifest.name}:{split.name} {role} map {str(path)!r}"
        labels = _translate(_read_map(path, spec), split, manifest, source)
        if labels.shape != manifest.cube_shape[:2]:
            raise ValueError(
                f"{source} is {labels.shape[0]}x{labels.shape[1]} but scene "
                f"{manifest.name!r} is {manifest.cube_shape[0]}x{manifest.cube_shape[1]}"
            )
        maps[role] = labels
        logger.info("%s: %d pixels (sha256 ok)", source, int((labels > 0).sum()))
    return FixedSplit(spec=split, train_gt=maps["train"], test_gt=maps["test"])
