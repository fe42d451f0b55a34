"""Data layer: scenes, manifests, leakage-free splits, preprocessing and patches.

Public entry points:

- :func:`load_scene`, :func:`list_scenes`, :func:`locate_scene` for benchmark scenes;
- :func:`load_cube`, :func:`load_labels`, :func:`load_user_scene` for your own cubes;
- :mod:`hsi_attn.data.splits` for random, spatially disjoint and user-mask splits;
- :mod:`hsi_attn.data.preprocess` for normalisation/PCA fitted on training pixels;
- :mod:`hsi_attn.data.patches` for patch batches gathered without copying the scene.
"""

from __future__ import annotations

from hsi_attn.data.catalog import load_scene
from hsi_attn.data.errors import ChecksumError, DatasetNotFoundError
from hsi_attn.data.locate import CACHE_ENV, DATA_ENV, SceneLocation, cache_dir, locate_scene
from hsi_attn.data.manifest import (
    FileSpec,
    PackageCopy,
    SceneManifest,
    get_manifest,
    list_scenes,
    read_manifest,
)
from hsi_attn.data.readers import load_cube, load_labels
from hsi_attn.data.scene import Scene, load_user_scene

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "ChecksumError",
    "DatasetNotFoundError",
    "FileSpec",
    "PackageCopy",
    "Scene",
    "SceneLocation",
    "SceneManifest",
    "cache_dir",
    "get_manifest",
    "list_scenes",
    "load_cube",
    "load_labels",
    "load_scene",
    "load_user_scene",
    "locate_scene",
    "read_manifest",
]
