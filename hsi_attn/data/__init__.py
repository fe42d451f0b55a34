"""Data layer: scenes, manifests, leakage-free splits, preprocessing and patches.

Public entry points:

- :func:`load_scene`, :func:`list_scenes`, :func:`locate_scene` for benchmark scenes;
- :func:`load_cube`, :func:`load_labels`, :func:`load_user_scene` for your own cubes,
  :func:`open_cube` (a :class:`RasterCube` read by windows) for cubes larger than
  memory, and :func:`nodata_mask` for the pixels that hold no data;
- :class:`LabelCoding` (the user's class codes <-> classes ``1..K``),
  :func:`read_label_codes` and :func:`read_class_names` for ground truth as written;
- :mod:`hsi_attn.data.splits` for random, spatially disjoint and user-mask splits,
  :func:`leakage` to measure patch overlap, :class:`SpatialKFold` for CV;
- :mod:`hsi_attn.data.preprocess` for normalisation/PCA fitted on training pixels;
- :mod:`hsi_attn.data.patches` for patches gathered without copying the scene, and
  :class:`PatchSource` (:mod:`hsi_attn.data.batches`), the one batch source of training.

scipy, scikit-learn and pooch are imported only by the functions that need them.
"""

from __future__ import annotations

from hsi_attn.data.batches import PatchSource
from hsi_attn.data.catalog import load_scene
from hsi_attn.data.class_names import UnusedClassNamesWarning, read_class_names
from hsi_attn.data.errors import ChecksumError, DataFileError, DatasetNotFoundError
from hsi_attn.data.georeference import Georeference
from hsi_attn.data.label_coding import LabelCoding
from hsi_attn.data.label_files import LabelFile, read_label_codes
from hsi_attn.data.leakage import leakage, leakage_report
from hsi_attn.data.locate import CACHE_ENV, DATA_ENV, SceneLocation, cache_dir, locate_scene
from hsi_attn.data.manifest import (
    FileSpec,
    PackageCopy,
    SceneManifest,
    get_manifest,
    list_scenes,
    read_manifest,
)
from hsi_attn.data.nodata import nodata_mask
from hsi_attn.data.patches import (
    PAD_MODES,
    PatchSampler,
    iter_scene_batches,
    scene_coords,
)
from hsi_attn.data.patches_geometry import check_patch_size
from hsi_attn.data.preprocess import (
    NORMALIZATIONS,
    NonFiniteWarning,
    Preprocessor,
    fit_preprocessor,
)
from hsi_attn.data.rasters import RasterCube, open_cube
from hsi_attn.data.readers import load_cube, load_labels
from hsi_attn.data.scene import Scene, load_user_scene
from hsi_attn.data.splits import (
    SpatialKFold,
    Split,
    SplitWarning,
    split_disjoint,
    split_from_masks,
    split_random,
)

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "NORMALIZATIONS",
    "PAD_MODES",
    "ChecksumError",
    "DataFileError",
    "DatasetNotFoundError",
    "FileSpec",
    "Georeference",
    "LabelCoding",
    "LabelFile",
    "NonFiniteWarning",
    "PackageCopy",
    "PatchSampler",
    "PatchSource",
    "RasterCube",
    "Preprocessor",
    "Scene",
    "SceneLocation",
    "SceneManifest",
    "SpatialKFold",
    "Split",
    "SplitWarning",
    "UnusedClassNamesWarning",
    "cache_dir",
    "check_patch_size",
    "fit_preprocessor",
    "get_manifest",
    "iter_scene_batches",
    "leakage",
    "leakage_report",
    "list_scenes",
    "load_cube",
    "load_labels",
    "load_scene",
    "load_user_scene",
    "locate_scene",
    "nodata_mask",
    "open_cube",
    "read_class_names",
    "read_label_codes",
    "read_manifest",
    "scene_coords",
    "split_disjoint",
    "split_from_masks",
    "split_random",
]
