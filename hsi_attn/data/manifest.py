"""Scene manifests: everything the package knows about a benchmark scene, as data.

One JSON file per scene ships in ``hsi_attn.data_manifests`` (the repository's
``data_manifests/`` folder). Adding a scene means adding a manifest, not code. A
manifest records, for the cube and the ground truth:

- the file name, the official URL, the sha256 and the ``.mat`` variable name;
- optional copies shipped inside an installed Python package (e.g. tensorly's
  Indian Pines ``.npy`` arrays), each with its own sha256;

and for the scene: the cube shape, the class names, a label remapping where the
stored labels are not ``1..K`` (Salinas-A stores 1, 10..14), RGB band indices
(0-based) for display, and the fixed splits of the literature (:class:`FixedSplitSpec`:
their training and test maps as files, the map's class order, the citation and the
published figures on them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hsi_attn.registry import lookup, make_registry

MANIFEST_PACKAGE = "hsi_attn.data_manifests"
ROLES = ("cube", "gt")
"""The files every scene has: the hyperspectral cube and its ground-truth labels."""


@dataclass(frozen=True)
class PackageCopy:
    """A copy of a scene file shipped inside an installed Python package.

    Attributes:
        package: Top-level import name of the package (e.g. ``"tensorly"``).
        path: Path of the file inside the package folder (``.npy``).
        sha256: Expected sha256 of that file.
    """

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class FileSpec:
    """One file of a scene.

    Attributes:
        name: File name on disk (and in the download URL).
        url: Official download URL.
        sha256: Expected sha256 of the file.
        variable: Name of the array inside the ``.mat`` file (empty for a file of
            one array, such as a single-image ``.tif``).
        bytes: File size in bytes, when known (informative).
        package_copies: Copies of the same array inside installed packages.
    """

    name: str
    url: str
    sha256: str
    variable: str
    bytes: int | None = None
    package_copies: tuple[PackageCopy, ...] = ()


@dataclass(frozen=True)
class FixedSplitSpec:
    """A fixed training/test split that published results use, as files.

    Attributes:
        name: Key of the split within its scene (``--split fixed:NAME``).
        title: One line describing it (pixel counts).
        citation: Who made it and which papers use it.
        source: Where the files come from (repository and commit).
        files: ``{"train": FileSpec, "test": FileSpec}``; the maps are ``(H, W)`` with
            0 = not in the set, otherwise the map's own class label. ``variable`` names
            the array of a ``.mat`` map and is empty for a single-image ``.tif``.
        class_map: The map's class label -> the scene's class ``1..K``, when the map's
            class order is not the scene's; None when it is.
        published: Published figures on this split, each ``{"method", "oa", "source"}``
            (``oa`` in percent), shown beside the project's own.
    """

    name: str
    title: str
    citation: str
    source: str
    files: Mapping[str, FileSpec]
    class_map: Mapping[int, int] | None = None
    published: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class SceneManifest:
    """A benchmark scene described as data.

    Attributes:
        name: Registry key (lowercase), e.g. ``"indian_pines"``.
        title: Human-readable name.
        sensor: Acquiring sensor.
        cube_shape: ``(H, W, B)`` of the real cube.
        class_names: Names of classes ``1..K``, in order.
        rgb_bands: 0-based band indices for an RGB preview.
        files: ``{"cube": FileSpec, "gt": FileSpec}``.
        label_map: Stored label -> class number ``1..K`` when the stored labels are not
            already ``1..K``; None otherwise. Stored labels absent from the map (other
            than 0) are an error.
        class_counts: Labelled pixels per class in the real scene (informative).
        source_page: Where the scene is published.
        fixed_splits: The scene's fixed splits from the literature, by name.
    """

    name: str
    title: str
    sensor: str
    cube_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    rgb_bands: tuple[int, int, int]
    files: Mapping[str, FileSpec]
    label_map: Mapping[int, int] | None = None
    class_counts: tuple[int, ...] | None = None
    source_page: str = ""
    fixed_splits: Mapping[str, FixedSplitSpec] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.class_names)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "<dict>") -> SceneManifest:
        """Build and validate a manifest from its JSON form.

        Args:
            data: The parsed JSON object.
            origin: Where it came from, for error messages.

        Raises:
            ValueError: On a missing key, a wrong shape or inconsistent class data.
        """
        try:
            files = {role: _file_spec(data["files"][role]) for role in ROLES}
            label_map = data.get("label_map")
            manifest = cls(
                name=str(data["name"]),
                title=str(data.get("title", data["name"])),
                sensor=str(data.get("sensor", "")),
                cube_shape=tuple(int(v) for v in data["cube_shape"]),  # type: ignore[arg-type]
                class_names=tuple(str(c) for c in data["class_names"]),
                rgb_bands=tuple(int(b) for b in data["rgb_bands"]),  # type: ignore[arg-type]
                files=files,
                label_map=(
                    None
                    if label_map is None
                    else {int(k): int(v) for k, v in label_map.items()}
                ),
                class_counts=(
                    None
                    if data.get("class_counts") is None
                    else tuple(int(c) for c in data["class_counts"])
                ),
                source_page=str(data.get("source_page", "")),
                fixed_splits={
                    str(key): _fixed_split_spec(str(key), value)
                    for key, value in (data.get("fixed_splits") or {}).items()
                },
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"manifest {origin} is malformed ({type(exc).__name__}: {exc}). Required keys: "
                "name, cube_shape, class_names, rgb_bands, files.cube and files.gt "
                "(each with name, url, sha256, variable)."
            ) from exc
        manifest._check(origin)
        return manifest

    def _check(self, origin: str) -> None:
        if len(self.cube_shape) != 3 or min(self.cube_shape) < 1:
            raise ValueError(f"manifest {origin}: cube_shape {self.cube_shape} must be (H, W, B)")
        if len(self.rgb_bands) != 3 or not all(0 <= b < self.cube_shape[2] for b in self.rgb_bands):
            raise ValueError(
                f"manifest {origin}: rgb_bands {self.rgb_bands} must be 3 band indices "
                f"in [0, {self.cube_shape[2]})"
            )
        k = self.n_classes
        if self.label_map is not None and sorted(self.label_map.values()) != list(range(1, k + 1)):
            raise ValueError(
                f"manifest {origin}: label_map values {sorted(self.label_map.values())} must "
                f"be exactly 1..{k} (one per class name)"
            )
        for split in self.fixed_splits.values():
            if split.class_map is not None and not set(split.class_map.values()) <= set(
                range(1, k + 1)
            ):
                raise ValueError(
                    f"manifest {origin}: fixed split {split.name!r} maps to classes "
                    f"{sorted(split.class_map.values())}, outside 1..{k}"
                )
        if self.class_counts is not None and len(self.class_counts) != k:
            raise ValueError(
                f"manifest {origin}: {len(self.class_counts)} class_counts for {k} classes"
            )


def _fixed_split_spec(name: str, data: Mapping[str, Any]) -> FixedSplitSpec:
    class_map = data.get("class_map")
    return FixedSplitSpec(
        name=name,
        title=str(data.get("title", name)),
        citation=str(data.get("citation", "")),
        source=str(data.get("source", "")),
        files={role: _file_spec(data["files"][role]) for role in ("train", "test")},
        class_map=None if class_map is None else {int(k): int(v) for k, v in class_map.items()},
        published=tuple(dict(entry) for entry in data.get("published", ())),
    )


def _file_spec(data: Mapping[str, Any]) -> FileSpec:
    copies = tuple(
        PackageCopy(package=str(c["package"]), path=str(c["path"]), sha256=str(c["sha256"]))
        for c in data.get("package_copies", ())
    )
    return FileSpec(
        name=str(data["name"]),
        url=str(data["url"]),
        sha256=str(data["sha256"]).lower(),
        variable=str(data.get("variable") or ""),
        bytes=None if data.get("bytes") is None else int(data["bytes"]),
        package_copies=copies,
    )


def read_manifest(path: str | Path) -> SceneManifest:
    """Read a manifest JSON file (e.g. one you wrote for your own scene).

    Args:
        path: Path to the ``.json`` file.

    Returns:
        The validated manifest; pass it to :func:`hsi_attn.data.load_scene`.
    """
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        return SceneManifest.from_dict(json.load(handle), origin=str(path))


def scene_manifests() -> Mapping[str, SceneManifest]:
    """Every manifest shipped with the package, keyed by scene name (read-only)."""
    folder = resources.files(MANIFEST_PACKAGE)
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            entries.append(
                (str(data.get("name", "")), SceneManifest.from_dict(data, origin=item.name))
            )
    return make_registry(entries, kind="scene")


def get_manifest(name: str) -> SceneManifest:
    """Return the shipped manifest of scene ``name``.

    Raises:
        ValueError: For an unknown name; the message suggests close matches and lists
            every available scene.
    """
    return lookup(scene_manifests(), name, kind="scene")


def list_scenes() -> list[str]:
    """Names of every scene that has a shipped manifest, sorted."""
    return sorted(scene_manifests())
