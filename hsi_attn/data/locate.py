"""Where a scene's files are looked for, in a fixed order, without reading them.

Order, for each file of a scene (the cube and the ground truth):

1. the explicit ``root`` argument;
2. the folder named by the ``HSI_ATTN_DATA`` environment variable;
3. the user cache folder (``HSI_ATTN_CACHE`` if set, else the platform cache, e.g.
   ``~/.cache/hsi_attn``), where downloads are stored;
4. copies shipped inside installed packages, as listed in the manifest (Indian Pines:
   ``tensorly``'s ``.npy`` arrays).

Inside a folder a file is looked for as ``<folder>/<scene>/<file>`` then
``<folder>/<file>``. Downloading (the fifth place) happens in
:func:`hsi_attn.data.load_scene` only when asked.

An explicit ``root`` that does not exist is an error (a typo there would otherwise
silently fall through to the other places), unless it is where a download will go.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hsi_attn.data.manifest import ROLES, FileSpec, SceneManifest, get_manifest

DATA_ENV = "HSI_ATTN_DATA"
"""Environment variable naming a folder of scene files."""
CACHE_ENV = "HSI_ATTN_CACHE"
"""Environment variable overriding the user cache folder (where downloads go)."""


def cache_dir() -> Path:
    """The user cache folder for scene files: ``$HSI_ATTN_CACHE`` or the platform cache."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import pooch

    return Path(pooch.os_cache("hsi_attn"))


@dataclass(frozen=True)
class FoundFile:
    """A scene file that exists on disk (not yet verified).

    Attributes:
        role: ``"cube"`` or ``"gt"``.
        path: Where it is.
        sha256: The hash it must have.
        source: Which place it was found in (``"root"``, ``"HSI_ATTN_DATA"``,
            ``"cache"`` or ``"package tensorly"``).
    """

    role: str
    path: Path
    sha256: str
    source: str


@dataclass(frozen=True)
class SceneLocation:
    """What :func:`locate_scene` found for one scene.

    ``str(location)`` is a one-line summary for listings such as ``hsi-attn scenes``.

    Attributes:
        name: Scene name.
        files: Role -> the file found, or None when it is in no searched place.
        tried: Role -> every place checked for that file before it was found (or all
            of them when it was not), in order, with why it did not count.
    """

    name: str
    files: Mapping[str, FoundFile | None]
    tried: Mapping[str, tuple[str, ...]]

    @property
    def available(self) -> bool:
        """True when every file was found locally (hashes are checked at load time)."""
        return all(found is not None for found in self.files.values())

    @property
    def missing(self) -> tuple[str, ...]:
        """Roles (``"cube"``, ``"gt"``) with no local file."""
        return tuple(role for role, found in self.files.items() if found is None)

    def __str__(self) -> str:
        parts = []
        for role, found in self.files.items():
            parts.append(f"{role}: {found.path} [{found.source}]" if found else f"{role}: missing")
        state = "available" if self.available else "not available"
        return f"{self.name}: {state} ({'; '.join(parts)})"


def _resolve(scene: str | SceneManifest) -> SceneManifest:
    return scene if isinstance(scene, SceneManifest) else get_manifest(scene)


def check_root(root: str | Path | None, *, for_download: bool = False) -> Path | None:
    """``root`` as a path, if it names an existing folder (or None when not given).

    Args:
        root: The folder searched first, as the user gave it.
        for_download: Downloads will go into ``root``, which creates it: a missing
            folder is accepted.

    Raises:
        FileNotFoundError: If ``root`` is given but is not an existing folder; the
            message names it and the fix.
    """
    if root is None:
        return None
    folder = Path(root).expanduser()
    if not folder.is_dir() and not (for_download and not folder.exists()):
        state = "is not a folder" if folder.exists() else "does not exist"
        env = os.environ.get(DATA_ENV)
        places = f"{DATA_ENV}={env}" if env else f"${DATA_ENV}"
        raise FileNotFoundError(
            f"the data folder --root {str(folder)!r} {state}; pass the folder that holds "
            f"your scene files, or leave --root out to search {places} and the cache "
            f"({cache_dir()})"
        )
    return folder


def search_folders(root: str | Path | None, *, for_download: bool = False
                   ) -> list[tuple[str, Path | None, str]]:
    """The folders searched, in order, as ``(label, folder or None, note)``.

    Raises:
        FileNotFoundError: If ``root`` is given but is not an existing folder (see
            :func:`check_root`).
    """
    folder = check_root(root, for_download=for_download)
    env = os.environ.get(DATA_ENV)
    return [
        ("root", folder, "" if root is not None else "not given"),
        (DATA_ENV, Path(env).expanduser() if env else None, "" if env else "not set"),
        ("cache", cache_dir(), ""),
    ]


def package_folder(package: str) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _find_file(spec: FileSpec, scene: str, role: str, folders: list[tuple[str, Path | None, str]],
               tried: list[str]) -> FoundFile | None:
    for label, folder, note in folders:
        if folder is None:
            tried.append(f"{label}: {note}")
            continue
        for candidate in (folder / scene / spec.name, folder / spec.name):
            if candidate.is_file():
                return FoundFile(role, candidate, spec.sha256, label)
            tried.append(f"{label}: {candidate} (no such file)")
    for copy in spec.package_copies:
        folder = package_folder(copy.package)
        label = f"package {copy.package}"
        if folder is None:
            tried.append(f"{label}: not installed (pip install {copy.package})")
            continue
        candidate = folder / copy.path
        if candidate.is_file():
            return FoundFile(role, candidate, copy.sha256, label)
        tried.append(f"{label}: {candidate} (no such file)")
    return None


def locate_scene(scene: str | SceneManifest, root: str | Path | None = None, *,
                 for_download: bool = False) -> SceneLocation:
    """Find a scene's files locally without reading or downloading them; never raises
    for a missing file.

    Args:
        scene: Scene name (see :func:`hsi_attn.data.list_scenes`) or a manifest.
        root: Optional folder searched first; it must exist unless ``for_download``.
        for_download: Missing files will be downloaded into ``root``, so ``root`` may
            not exist yet.

    Returns:
        A :class:`SceneLocation`; ``.available`` says whether every file is present and
        ``str()`` of it is a one-line summary.

    Raises:
        ValueError: For an unknown scene name (with suggestions).
        FileNotFoundError: If ``root`` is given but is not an existing folder (and not
            ``for_download``).
    """
    manifest = _resolve(scene)
    folders = search_folders(root, for_download=for_download)
    files: dict[str, FoundFile | None] = {}
    tried: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        lines: list[str] = []
        files[role] = _find_file(manifest.files[role], manifest.name, role, folders, lines)
        tried[role] = tuple(lines)
    return SceneLocation(name=manifest.name, files=files, tried=tried)
