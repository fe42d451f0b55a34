"""Load a benchmark scene by name: locate, verify, read, remap labels.

See :mod:`hsi_attn.data.locate` for the search order. Every file is checked against
the sha256 in its manifest before it is read; a file that fails is never used.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hsi_attn.data.checksum import verify_sha256
from hsi_attn.data.download import download_file
from hsi_attn.data.errors import DatasetNotFoundError
from hsi_attn.data.locate import (
    CACHE_ENV,
    DATA_ENV,
    FoundFile,
    SceneLocation,
    cache_dir,
    locate_scene,
)
from hsi_attn.data.manifest import ROLES, FileSpec, SceneManifest, get_manifest
from hsi_attn.data.readers import check_labels, read_mat_variable
from hsi_attn.data.scene import Scene

logger = logging.getLogger(__name__)


def load_scene(
    name: str | SceneManifest,
    root: str | Path | None = None,
    download: bool = False,
    *,
    dtype: npt.DTypeLike | None = None,
) -> Scene:
    """Load a benchmark scene, verified against its manifest.

    Args:
        name: Scene name (see :func:`list_scenes`) or a :class:`SceneManifest` (e.g.
            from :func:`hsi_attn.data.read_manifest` for a scene of your own).
        root: Folder searched first (as ``root/<scene>/<file>`` or ``root/<file>``).
        download: Download missing files from the manifest URLs (sha256-checked) into
            ``root`` if given, else into the user cache folder.
        dtype: None keeps the stored dtype (e.g. uint16); ``"float32"`` converts.

    Returns:
        The :class:`Scene`, with ``gt`` remapped to ``1..K`` where the manifest says so.

    Raises:
        ValueError: For an unknown scene name (with suggestions) or a file whose
            content does not match the manifest (shape, labels).
        ChecksumError: If a file's sha256 differs from the manifest's.
        DatasetNotFoundError: If a file is in none of the searched places and
            ``download`` is False; the message lists every place and the fix.
    """
    manifest = name if isinstance(name, SceneManifest) else get_manifest(name)
    location = locate_scene(manifest, root, for_download=download)
    found: dict[str, FoundFile] = {}
    for role in ROLES:
        hit = location.files[role]
        if hit is None:
            if not download:
                raise DatasetNotFoundError(_not_found_message(manifest, location))
            folder = (Path(root).expanduser() if root is not None else cache_dir()) / manifest.name
            path = download_file(manifest.files[role], folder)
            hit = FoundFile(role, path, manifest.files[role].sha256, "download")
        found[role] = hit

    verified = []
    for role in ROLES:
        hit = found[role]
        spec = manifest.files[role]
        verify_sha256(hit.path, hit.sha256, hint=_checksum_hint(spec, hit))
        logger.info("%s %s: %s (%s, sha256 ok)", manifest.name, role, hit.path, hit.source)
        verified.append((str(hit.path), hit.sha256))

    cube = _read(found["cube"], manifest.files["cube"])
    gt = _read(found["gt"], manifest.files["gt"])
    if tuple(cube.shape) != manifest.cube_shape:
        raise ValueError(
            f"{manifest.name}: cube {found['cube'].path} has shape {cube.shape}, the manifest "
            f"says {manifest.cube_shape}. The manifest and the file disagree; fix the "
            "manifest's cube_shape if you wrote it yourself."
        )
    gt = _remap_labels(check_labels(gt, source=f"{manifest.name} gt"), manifest)
    if dtype is not None:
        cube = cube.astype(dtype, copy=False)
    return Scene(
        name=manifest.name,
        cube=cube,
        gt=gt,
        class_names=manifest.class_names,
        rgb_bands=manifest.rgb_bands,
        verified_files=tuple(verified),
    )


def _read(hit: FoundFile, spec: FileSpec) -> np.ndarray:
    if hit.path.suffix.lower() == ".npy":
        array = np.load(hit.path, allow_pickle=False)
    else:
        array = read_mat_variable(hit.path, spec.variable)
    return np.ascontiguousarray(array)


def _remap_labels(gt: np.ndarray, manifest: SceneManifest) -> np.ndarray:
    present = [int(v) for v in np.unique(gt) if v != 0]
    if manifest.label_map is None:
        allowed = set(range(1, manifest.n_classes + 1))
    else:
        allowed = set(manifest.label_map)
    unknown = sorted(set(present) - allowed)
    if unknown:
        raise ValueError(
            f"{manifest.name}: gt holds labels {unknown[:10]} that the manifest does not "
            f"define (accepted: 0 and {sorted(allowed)}). The file is not the one the "
            "manifest describes, or the manifest's label_map is incomplete."
        )
    if manifest.label_map is None:
        return gt
    table = np.zeros(max(manifest.label_map) + 1, dtype=np.int64)
    for stored, label in manifest.label_map.items():
        table[stored] = label
    return table[gt]


def _checksum_hint(spec: FileSpec, hit: FoundFile) -> str:
    if hit.source.startswith("package"):
        return (
            f"This is the copy shipped by {hit.source}; reinstall that package, or put the "
            f"official {spec.name} ({spec.url}) in a folder named by {DATA_ENV}."
        )
    return (
        f"Replace it with the official file from {spec.url} (or delete it and run with "
        f"download=True / --download), then try again."
    )


def _not_found_message(manifest: SceneManifest, location: SceneLocation) -> str:
    missing = " and ".join(manifest.files[r].name for r in location.missing)
    tried = "\n".join(
        f"  - {manifest.files[role].name} in {line}"
        for role in location.missing
        for line in location.tried[role]
    )
    cube = manifest.files["cube"]
    return (
        f"scene {manifest.name!r}: {missing} not found. Places tried, in order:\n{tried}\n"
        f"  - download: not requested (download=False)\n"
        f"Fix it with one of:\n"
        f"  - export {DATA_ENV}=/path/to/folder holding {manifest.name}/{cube.name} "
        f"(or {cube.name} directly)\n"
        f"  - hsi-attn train --scene {manifest.name} --download   (or "
        f"load_scene({manifest.name!r}, download=True)); files go to {cache_dir()} "
        f"(set {CACHE_ENV} to change it)\n"
        f"  - download by hand from {cube.url} and {manifest.files['gt'].url}"
    )
