"""Preparing data for a run: load the scene, split it, fit the preprocessing.

What a training run and an Optuna trial share: :func:`prepare_data` checks that the
run fits the scene and the machine (:mod:`hsi_attn.run.fit_checks`), splits the scene
and fits the preprocessing (standardisation, PCA) on the training pixels only;
:func:`training_sources` turns the result into training and validation batches.

The settings themselves were checked when the configuration was built
(:mod:`hsi_attn.config`); a registered scene's name is checked by
:func:`check_scene_name`, before any work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hsi_attn.config import DataConfig, RunConfig
from hsi_attn.data import Scene, get_manifest, load_scene, load_user_scene, splits
from hsi_attn.data.batches import PatchSource
from hsi_attn.data.fixed_splits import load_fixed_split, parse_split_name
from hsi_attn.data.mixup import Mixup
from hsi_attn.data.patches import PatchSampler
from hsi_attn.data.preprocess import Preprocessor, fit_preprocessor
from hsi_attn.data.spectral_jitter import SpectralJitter, SpectrallyJittered
from hsi_attn.data.splits import Split
from hsi_attn.engine.sources import BatchSource
from hsi_attn.run.fit_checks import check_run_fits

__all__ = ["PreparedData", "check_scene_name", "labels_at", "load_run_scene", "patch_sampler",
           "prepare_data", "split_scene", "training_sources"]


@dataclass(frozen=True, eq=False)
class PreparedData:
    """A scene split and preprocessed for one run configuration.

    What a training run and an Optuna trial share: the split, and a cube whose
    preprocessing (standardisation, PCA) was fitted on the training pixels only.

    Attributes:
        scene: The scene as loaded.
        split: Training, validation and test pixel coordinates.
        preprocessor: The fitted preprocessing.
        cube: ``(H, W, B')`` float32 preprocessed cube.
    """

    scene: Scene
    split: Split
    preprocessor: Preprocessor
    cube: np.ndarray

    @property
    def n_bands(self) -> int:
        """Bands after preprocessing."""
        return int(self.cube.shape[2])

    @property
    def n_classes(self) -> int:
        """Number of classes K of the scene."""
        return int(self.scene.n_classes)

    def labels(self, coords: np.ndarray) -> np.ndarray:
        """Labels ``0..K-1`` of the pixels at ``coords`` ``(n, 2)``."""
        return labels_at(self.scene.gt, coords)


def check_scene_name(config: RunConfig, scene: Scene | None) -> None:
    """Fail fast, before any work, on an unknown registered scene name (with close matches).

    The configuration does not check it: a run on your own cube (``--cube``) or on a
    :class:`~hsi_attn.data.Scene` passed in memory names its scene freely.
    """
    if scene is None and config.data.cube_path is None:
        get_manifest(config.data.scene)


def load_run_scene(config: RunConfig, scene: Scene | None, root: str | os.PathLike[str] | None,
                   download: bool) -> Scene:
    """The scene a run trains on: ``scene`` if given, else your cube or a registered scene.

    With a fixed split (``--split fixed[:NAME]``) the scene comes back labelled by the
    split's own maps (:meth:`~hsi_attn.data.Scene.with_fixed_split`).

    Raises:
        ValueError: If ``--cube`` is given without ``--gt``; for a fixed split on a
            scene that has none (the message lists the splits it has), or on your own cube.
    """
    if scene is None:
        scene = _load(config, root, download)
    kind, name = parse_split_name(config.data.split)
    if kind != "fixed" or (scene.fixed_split is not None
                           and name in (None, scene.fixed_split.name)):
        return scene
    if config.data.cube_path is not None:
        raise ValueError(
            f"--split {config.data.split} needs a registered scene with a fixed split, but "
            f"this run uses your own cube {config.data.cube_path!r}; use --split random or "
            "--split disjoint, or split_from_masks() with your own training and test maps"
        )
    return scene.with_fixed_split(load_fixed_split(scene.name, name, root=root,
                                                   download=download))


def _load(config: RunConfig, root: str | os.PathLike[str] | None, download: bool) -> Scene:
    data = config.data
    if data.cube_path is not None:
        if data.gt_path is None:
            raise ValueError(
                f"training on your own cube {data.cube_path!r} needs its ground truth: "
                f"pass --gt FILE (class codes; {data.ignore_label} = unlabelled, see "
                "--ignore-label)"
            )
        # A cube is called by its file stem unless --scene names it.
        name = data.scene if data.scene != DataConfig.scene else Path(data.cube_path).stem
        return load_user_scene(data.cube_path, data.gt_path, cube_variable=data.cube_variable,
                               gt_variable=data.gt_variable, name=name,
                               class_names_path=data.class_names_path,
                               ignore_label=data.ignore_label)
    return load_scene(data.scene, root=root, download=download)


def _split_fixed(config: RunConfig, scene: Scene) -> Split:
    fixed = scene.fixed_split
    if fixed is None:
        raise ValueError(
            f"--split {config.data.split}: scene {scene.name!r} was not loaded with its fixed "
            "split; load it with hsi_attn.run.load_run_scene (or Scene.with_fixed_split)"
        )
    return splits.split_fixed(fixed.train_gt, fixed.test_gt, val_size=config.data.val_size,
                              seed=config.train.seed, patch_size=config.model.patch_size,
                              name=f"{scene.name}:{fixed.name}")


_SPLITS: dict[str, Callable[[RunConfig, Scene], Split]] = {
    "random": lambda config, scene: splits.split_random(
        scene.gt, config.data.train_size, val_size=config.data.val_size,
        seed=config.train.seed),
    "disjoint": lambda config, scene: splits.split_disjoint(
        scene.gt, config.data.train_size, patch_size=config.model.patch_size,
        seed=config.train.seed, val_size=config.data.val_size, guard=config.data.split_guard),
    "fixed": _split_fixed,
}
"""Split kind (``DataConfig.split`` before any ``:NAME``) -> how the scene's pixels are split."""


def split_scene(config: RunConfig, scene: Scene) -> Split:
    """The split ``config.data`` asks for, seeded with ``config.train.seed``."""
    return _SPLITS[parse_split_name(config.data.split)[0]](config, scene)


def prepare_data(config: RunConfig, scene: Scene, *, device: torch.device | None = None
                 ) -> PreparedData:
    """Check that the run fits, split ``scene`` and fit the preprocessing on its training
    pixels only.

    Args:
        config: Uses ``config.data``, ``config.train.seed`` and, for the disjoint split
            (whose guard band depends on it), ``config.model.patch_size``; the model and
            batch sizes for the memory estimate.
        scene: The loaded scene.
        device: Where the network will run, for the memory estimate; default
            ``config.train.device``.

    Raises:
        ValueError: If the ground truth has a single class, the patch is wider than the
            image allows, the run needs more memory than is available
            (:class:`~hsi_attn.run.fit_checks.InsufficientMemoryError`), or the
            validation set is empty (model selection, early stopping and Optuna trials
            are all scored on validation pixels).
    """
    check_run_fits(config, scene, device=device)
    split = split_scene(config, scene)
    if len(split.val) == 0:
        raise ValueError(
            f"the validation set is empty (val_size={config.data.val_size!r}); model "
            "selection, early stopping and tuning trials need validation pixels, so use a "
            "positive --val-size"
        )
    preprocessor = fit_preprocessor(
        scene.cube, split.train, normalization=config.data.normalization,
        pca=config.data.pca, seed=config.train.seed, nonfinite=_nonfinite_policy(scene),
    )
    cube = np.ascontiguousarray(preprocessor.transform(scene.cube), dtype=np.float32)
    return PreparedData(scene=scene, split=split, preprocessor=preprocessor, cube=cube)


def _nonfinite_policy(scene: Scene) -> str:
    """``"mask"`` when NaN/Inf lie only in unlabelled pixels, else ``"raise"``.

    A user's cube may mark pixels without data with NaN; those pixels are unlabelled
    (:func:`~hsi_attn.data.load_user_scene`), so they are never trained or scored on,
    and masking them keeps their neighbours' patches finite. NaN in a labelled pixel
    stays an error.
    """
    if scene.cube.dtype.kind != "f":
        return "raise"
    nonfinite = ~np.isfinite(scene.cube).all(axis=2)
    return "mask" if nonfinite.any() and not (nonfinite & (scene.gt > 0)).any() else "raise"


def training_sources(
    config: RunConfig, data: PreparedData, device: torch.device, *,
    extra_train: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[BatchSource, PatchSource]:
    """Shuffled training batches (flipped and rotated, spectrally jittered and mixed, as
    configured) and in-order validation batches.

    Args:
        config: The run's configuration.
        data: The prepared scene and split.
        device: Where the patches are cut.
        extra_train: ``(coords (n, 2), labels (n,) 0..K-1)`` trained on beside the
            training pixels (self-training's pseudo-labels).
    """
    sampler = patch_sampler(config, data.cube, device)
    train_cfg = config.train
    split = data.split
    coords, labels = split.train, data.labels(split.train)
    if extra_train is not None:
        coords = np.concatenate([coords, np.asarray(extra_train[0], dtype=np.int64)])
        labels = np.concatenate([labels, np.asarray(extra_train[1], dtype=np.int64)])
    train_source = PatchSource.from_cube(sampler, coords, labels,
                                         batch_size=train_cfg.batch_size, shuffle=True,
                                         drop_last=True, augment=train_cfg.augment)
    val_source = PatchSource.from_cube(sampler, split.val, data.labels(split.val),
                                       batch_size=train_cfg.eval_batch_size, shuffle=False)
    source: BatchSource = train_source
    if train_cfg.spectral_augment:
        jitter = SpectralJitter.scaled(train_cfg.spectral_augment)
        source = SpectrallyJittered(source, data.preprocessor, jitter)
    if train_cfg.mixup:
        source = Mixup(source, train_cfg.mixup, data.n_classes)
    return source, val_source


def patch_sampler(config: RunConfig, cube: np.ndarray, device: torch.device) -> PatchSampler:
    return PatchSampler(cube, config.model.patch_size, pad_mode=config.data.pad_mode,
                        device=device)


def labels_at(gt: np.ndarray, coords: np.ndarray) -> np.ndarray:
    return gt[coords[:, 0], coords[:, 1]].astype(np.int64) - 1
