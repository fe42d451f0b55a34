"""One training run end to end, and the run directory it leaves behind.

:func:`train_run` does scene -> split -> preprocessing (fitted on training pixels only)
-> model -> :func:`~hsi_attn.engine.fit` (early stopping on the validation pixels,
never the test pixels) -> test metrics -> full-scene prediction, and writes::

    RUN_DIR/
      config.json     RunConfig + command, hsi_attn/torch versions, device
      checkpoint.pt   model, optimiser, scheduler, RNG states, history, config,
                      preprocessing state and the split (everything to re-evaluate)
      history.csv     one row per epoch
      metrics.json    OA, AA, kappa, per-class accuracy, confusion matrix, timing
      prediction.npy  (H, W) int64 full-scene labels 1..K
      map.png         ground truth | prediction | prediction on labelled pixels
      confusion.png   row-normalised confusion matrix

:func:`evaluate_run` recomputes the test metrics from a run directory and
:func:`predict_cube` classifies a new cube with a trained run.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hsi_attn import __version__
from hsi_attn.config import RunConfig
from hsi_attn.engine import (
    BestModel,
    Callback,
    CheckpointError,
    EarlyStopping,
    History,
    classification_metrics,
    fit,
    load_checkpoint,
    predict_logits,
    resolve_device,
    seed_everything,
    summarize_runs,
)
from hsi_attn.data import Scene, list_scenes, load_cube, load_scene, load_user_scene, splits
from hsi_attn.data.splits import Split
from hsi_attn.data.patches import PatchSampler
from hsi_attn.data.preprocess import Preprocessor, fit_preprocessor
from hsi_attn.engine.atomic import save_npy_atomic, write_json_atomic
from hsi_attn.evaluation_mode import evaluation_mode
from hsi_attn.inference import predict_scene
from hsi_attn.layers import list_attention
from hsi_attn.models import create_model, list_models, profile
from hsi_attn.plots import plot_classification_map, plot_confusion, save_figure
from hsi_attn.registry import lookup, make_registry

__all__ = [
    "RUN_FILES",
    "PatchSource",
    "PreparedData",
    "RunDirectoryError",
    "RunResult",
    "build_model",
    "default_run_dir",
    "evaluate_run",
    "load_run_config",
    "predict_cube",
    "prepare_data",
    "split_scene",
    "train_run",
    "train_runs",
    "training_sources",
]

logger = logging.getLogger(__name__)

_MAY_CHANGE_ON_RESUME = ("device", "compile", "eval_batch_size", "precision")

RUN_FILES = (
    "config.json", "metrics.json", "history.csv", "checkpoint.pt",
    "prediction.npy", "map.png", "confusion.png",
)


class RunDirectoryError(FileNotFoundError):
    """A run directory is missing, incomplete, or would be overwritten."""


@dataclass(frozen=True)
class RunResult:
    """What :func:`train_run` produced.

    Attributes:
        out_dir: The run directory.
        metrics: The content of ``metrics.json``.
        history: Per-epoch records.
        prediction: ``(H, W)`` full-scene labels ``1..K``.
    """

    out_dir: Path
    metrics: dict[str, Any]
    history: History
    prediction: np.ndarray


def default_run_dir(config: RunConfig, base: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<scene>-<model>-<attention>-seed<seed>``."""
    model, seed = config.model, config.train.seed
    return Path(base) / f"{config.data.scene}-{model.name}-{model.attention}-seed{seed}"


# ----------------------------------------------------------------------------- data


class PatchSource:
    """A :class:`~hsi_attn.engine.BatchSource` of patches gathered around coordinates.

    Args:
        sampler: A :class:`hsi_attn.data.patches.PatchSampler` over the preprocessed cube.
        coords: ``(n, 2)`` int64 pixel coordinates.
        labels: ``(n,)`` int64 labels ``0..K-1``.
        batch_size: Patches per batch.
        shuffle: Shuffle with the loop's generator each epoch.
        drop_last: Drop an incomplete last batch (training: keeps BatchNorm batches > 1).
        augment: Apply a random element of the dihedral group (flips and 90 degree
            rotations of the spatial window) to each patch, drawn from the generator.
    """

    def __init__(self, sampler: PatchSampler, coords: np.ndarray, labels: np.ndarray, *,
                 batch_size: int, shuffle: bool, drop_last: bool = False,
                 augment: bool = False) -> None:
        if len(coords) == 0:
            raise ValueError("a patch source needs at least one pixel; check the split sizes")
        self.sampler = sampler
        # Checked once here, not per batch; copied because split arrays are read-only.
        self.coords = sampler.check_coords(np.array(coords, dtype=np.int64))
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and len(coords) > batch_size
        self.augment = augment

    def __len__(self) -> int:
        n = len(self.coords)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batches(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(patches (b, 1, B, p, p), labels (b,))``."""
        n = len(self.coords)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            patches = self.sampler.gather(self.coords[index.to(self.coords.device)], check=False)
            if self.augment:
                patches = _dihedral(patches, torch.randint(0, 8, (len(index),),
                                                           generator=generator))
            yield patches, self.labels[index]


def _dihedral(patches: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Apply op ``k`` (rotate by ``k % 4`` quarter turns, transpose if ``k >= 4``) per patch."""
    out = patches.clone()
    ops = ops.to(patches.device)
    for k in range(1, 8):
        chosen = ops == k
        if bool(chosen.any()):
            window = patches[chosen]
            if k >= 4:
                window = window.transpose(-1, -2)
            out[chosen] = torch.rot90(window, k % 4, dims=(-2, -1))
    return out


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
        return _labels_at(self.scene.gt, coords)


def _load_scene(config: RunConfig, scene: Scene | None, root: str | os.PathLike[str] | None,
                download: bool) -> Scene:
    if scene is not None:
        return scene
    data = config.data
    if data.cube_path is not None:
        if data.gt_path is None:
            raise ValueError(
                f"training on your own cube {data.cube_path!r} needs its ground truth: "
                "pass --gt FILE (0 = unlabelled, classes 1..K)"
            )
        return load_user_scene(data.cube_path, data.gt_path, cube_variable=data.cube_variable,
                               gt_variable=data.gt_variable, name=data.scene)
    return load_scene(data.scene, root=root, download=download)


def _check_names(config: RunConfig, *, registered_scene: bool) -> None:
    """Fail fast, before any data is read, on unknown scene, model or attention names."""
    if registered_scene:
        lookup(make_registry([(n, n) for n in list_scenes()], kind="scene"),
               config.data.scene, kind="scene")
    lookup(make_registry([(n, n) for n in list_models()], kind="model"),
           config.model.name, kind="model")
    lookup(make_registry([(n, n) for n in list_attention()], kind="attention"),
           config.model.attention, kind="attention")


def split_scene(config: RunConfig, gt: np.ndarray) -> Split:
    """The split ``config.data`` asks for, seeded with ``config.train.seed``.

    Raises:
        ValueError: On an unknown split name.
    """
    data = config.data
    if data.split == "random":
        return splits.split_random(gt, data.train_size, val_size=data.val_size,
                                   seed=config.train.seed)
    if data.split == "disjoint":
        return splits.split_disjoint(gt, data.train_size, patch_size=config.model.patch_size,
                                     seed=config.train.seed, val_size=data.val_size)
    raise ValueError(f"unknown split {data.split!r}. Accepted: random, disjoint.")


def prepare_data(config: RunConfig, scene: Scene) -> PreparedData:
    """Split ``scene`` and fit the preprocessing on its training pixels only.

    Args:
        config: Uses ``config.data``, ``config.train.seed`` and, for the disjoint split
            (whose guard band depends on it), ``config.model.patch_size``.
        scene: The loaded scene.

    Raises:
        ValueError: On an unknown split, or an empty validation set (model selection,
            early stopping and Optuna trials are all scored on validation pixels).
    """
    split = split_scene(config, scene.gt)
    if len(split.val) == 0:
        raise ValueError(
            f"the validation set is empty (val_size={config.data.val_size!r}); model "
            "selection, early stopping and tuning trials need validation pixels, so use a "
            "positive --val-size"
        )
    preprocessor = fit_preprocessor(
        scene.cube, split.train, normalization=config.data.normalization,
        pca=config.data.pca, seed=config.train.seed,
    )
    cube = np.ascontiguousarray(preprocessor.transform(scene.cube), dtype=np.float32)
    return PreparedData(scene=scene, split=split, preprocessor=preprocessor, cube=cube)


def training_sources(
    config: RunConfig, data: PreparedData, device: torch.device
) -> tuple[PatchSource, PatchSource]:
    """Shuffled (augmented, if configured) training batches and in-order validation batches."""
    sampler = _sampler(config, data.cube, device)
    train_cfg = config.train
    split = data.split
    train_source = PatchSource(sampler, split.train, data.labels(split.train),
                               batch_size=train_cfg.batch_size, shuffle=True, drop_last=True,
                               augment=train_cfg.augment)
    val_source = PatchSource(sampler, split.val, data.labels(split.val),
                             batch_size=train_cfg.eval_batch_size, shuffle=False)
    return train_source, val_source


def _sampler(config: RunConfig, cube: np.ndarray, device: torch.device) -> PatchSampler:
    return PatchSampler(cube, config.model.patch_size, pad_mode=config.data.pad_mode,
                        device=device)


def _labels_at(gt: np.ndarray, coords: np.ndarray) -> np.ndarray:
    return gt[coords[:, 0], coords[:, 1]].astype(np.int64) - 1


# ---------------------------------------------------------------------------- model


def build_model(config: RunConfig, n_bands: int, n_classes: int) -> nn.Module:
    """The model ``config.model`` describes, checked with one tiny forward pass.

    Raises:
        ValueError: On unknown names or a patch size the model cannot take.
    """
    model_cfg = config.model
    model = create_model(
        model_cfg.name, n_bands=n_bands, n_classes=n_classes, patch_size=model_cfg.patch_size,
        attention=model_cfg.attention, attention_kwargs=model_cfg.attention_kwargs(),
    )
    _check_forward(model, config, n_bands, n_classes)
    return model


def _check_forward(model: nn.Module, config: RunConfig, n_bands: int, n_classes: int) -> None:
    """Run one tiny forward so a misfit patch size fails now, with a readable message."""
    p = config.model.patch_size
    probe = torch.zeros(2, 1, n_bands, p, p)
    try:
        with evaluation_mode(model), torch.no_grad():
            out = model(probe)
    except RuntimeError as exc:
        raise ValueError(
            f"model {config.model.name!r} cannot take {p}x{p} patches of {n_bands} bands "
            f"({str(exc).splitlines()[0]}); try a larger --patch-size such as 9, or fewer "
            "PCA components"
        ) from None
    if tuple(out.shape) != (2, n_classes):
        raise ValueError(
            f"model {config.model.name!r} returned shape {tuple(out.shape)} for 2 patches; "
            f"expected (2, {n_classes})"
        )


def _model_profile(model: nn.Module, n_bands: int, patch_size: int) -> dict[str, Any]:
    info = profile(model, (1, 1, n_bands, patch_size, patch_size))
    return {k: v for k, v in dict(info).items() if isinstance(v, (int, float, str))}


# ---------------------------------------------------------------------- prediction


def predict_probabilities(
    model: nn.Module,
    cube: np.ndarray,
    *,
    patch_size: int,
    pad_mode: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Class probabilities ``(H, W, K)`` for every pixel of a preprocessed cube.

    Delegates to :func:`hsi_attn.inference.predict_scene` (dense one-pass inference for
    models that have an exact dense form, batched per-patch inference otherwise).
    """
    probs = predict_scene(model, cube, patch_size=patch_size, batch_size=batch_size,
                          device=device, pad_mode=pad_mode)
    return np.asarray(probs, dtype=np.float32)


# --------------------------------------------------------------------- run directory


def _check_out_dir(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pick one")
    existing = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"--out {str(out_dir)!r} is a file, not a directory")
    if resume:
        missing = [f for f in ("config.json", "checkpoint.pt") if f not in existing]
        if missing:
            raise RunDirectoryError(
                f"cannot resume: {str(out_dir)!r} has no {' or '.join(missing)}; "
                "start the run without --resume"
            )
        return
    if existing and not overwrite:
        raise RunDirectoryError(
            f"run directory {str(out_dir)!r} is not empty ({', '.join(existing[:4])}"
            f"{', ...' if len(existing) > 4 else ''}); pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out"
        )
    if overwrite:
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)


def load_run_config(run_dir: str | os.PathLike[str]) -> tuple[RunConfig, dict[str, Any]]:
    """Read ``config.json`` of a run: the RunConfig and the whole saved dict.

    Raises:
        RunDirectoryError: If the directory or its config.json is missing.
        ValueError: If config.json is not valid.
    """
    import json

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(
            f"run directory {str(run_dir)!r} does not exist; train one with hsi-attn train --out"
        )
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunDirectoryError(f"{str(run_dir)!r} is not a run directory: it has no config.json")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        sections = {k: saved[k] for k in ("data", "model", "train") if k in saved}
        config = RunConfig.from_dict(sections)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{str(path)!r} is not valid run configuration JSON ({exc})") from None
    return config, saved


def _to_plain(value: Any) -> Any:
    # numpy -> torch so the checkpoint loads with weights_only=True.
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True, order="C"))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value)
    return value


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.numpy().copy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def train_run(
    config: RunConfig,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    scene: Scene | None = None,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Iterable[Callback] = (),
    command: str | None = None,
) -> RunResult:
    """Train, evaluate and predict one run, writing its run directory.

    Args:
        config: The run's configuration.
        out_dir: Run directory (default :func:`default_run_dir`). Must be empty unless
            ``resume`` or ``overwrite``.
        scene: A :class:`hsi_attn.data.Scene` to use instead of loading ``config.data.scene``.
        root: Folder to look for the scene in (see :func:`hsi_attn.data.load_scene`).
        download: Download the scene if it is not found.
        resume: Continue the interrupted run in ``out_dir`` (same settings required).
        overwrite: Replace the run files already in ``out_dir``.
        callbacks: Extra training callbacks (progress bar, logging, pruning...).
        command: The command line, recorded in config.json.

    Raises:
        RunDirectoryError: If ``out_dir`` holds a run and neither flag is given.
        ValueError: On bad settings (unknown names, misfit patch size, ...).
    """
    _check_names(config, registered_scene=scene is None and config.data.cube_path is None)
    out = Path(out_dir) if out_dir is not None else default_run_dir(config)
    _check_out_dir(out, resume=resume, overwrite=overwrite)
    if resume:
        saved_config, _ = load_run_config(out)
        # The device may change between an interruption and its resumption.
        saved_config = dataclasses.replace(saved_config, train=dataclasses.replace(
            saved_config.train, **{k: getattr(config.train, k) for k in _MAY_CHANGE_ON_RESUME}))
        if saved_config != config:
            diff = _config_diff(saved_config, config)
            raise ValueError(
                f"cannot resume {str(out)!r} with different settings ({diff}); "
                "repeat the original options or start a new run"
            )
    device = resolve_device(config.train.device)
    logger.info("training %s + %s on %s (%s) -> %s", config.model.name, config.model.attention,
                config.data.scene, device, out)
    seed_everything(config.train.seed)
    the_scene = _load_scene(config, scene, root, download)
    prepared = prepare_data(config, the_scene)
    n_classes, n_bands = prepared.n_classes, prepared.n_bands
    seed_everything(config.train.seed)
    model = build_model(config, n_bands, n_classes)
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json_atomic(out / "config.json", {
            **config.to_dict(), "command": command, "hsi_attn_version": __version__,
            "torch_version": torch.__version__, "device": str(device),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        })

    split, gt = prepared.split, the_scene.gt
    train_cfg = config.train
    train_source, val_source = training_sources(config, prepared, device)
    built_in: list[Callback] = [BestModel()]
    if train_cfg.patience is not None:
        built_in.append(EarlyStopping(train_cfg.patience))
    extra = _to_plain({
        "scene": the_scene.name, "class_names": list(the_scene.class_names),
        "n_bands_in": the_scene.n_bands, "n_bands": n_bands, "n_classes": n_classes,
        "preprocessor": prepared.preprocessor.state_dict(),
        "split": {"train": split.train, "val": split.val, "test": split.test},
        "run": config.to_dict(),
    })
    logger.info(
        "%s: %d train / %d val / %d test pixels, %d bands -> %d, %d classes",
        the_scene.name, len(split.train), len(split.val), len(split.test),
        the_scene.n_bands, n_bands, n_classes,
    )
    started = time.perf_counter()
    history = fit(model, train_source, config=train_cfg, val_data=val_source,
                  callbacks=[*built_in, *callbacks], device=device,
                  checkpoint_path=out / "checkpoint.pt", resume=resume, extra=extra)
    fit_seconds = time.perf_counter() - started
    history.to_csv(out / "history.csv")

    started = time.perf_counter()
    probs = predict_probabilities(
        model, prepared.cube, patch_size=config.model.patch_size, pad_mode=config.data.pad_mode,
        batch_size=train_cfg.eval_batch_size, device=device,
    )
    predict_seconds = time.perf_counter() - started
    prediction = probs.argmax(axis=2).astype(np.int64) + 1
    test = split.test
    test_metrics = classification_metrics(
        _labels_at(gt, test), prediction[test[:, 0], test[:, 1]] - 1, n_classes,
        class_names=the_scene.class_names,
    )
    epochs_run = len(history)
    # The epoch BestModel kept (highest val_oa, ties to the lower val_loss).
    best = next((r for r in reversed(history) if r.get("is_best")), None)
    metrics = {
        "scene": the_scene.name, "model": config.model.name, "attention": config.model.attention,
        "seed": train_cfg.seed, "device": str(device),
        "n_train": len(split.train), "n_val": len(split.val), "n_test": len(test),
        "epochs_run": epochs_run,
        "best_epoch": best["epoch"] if best else None,
        "best_val_oa": best["val_oa"] if best else None,
        "test": test_metrics,
        "profile": _model_profile(model, n_bands, config.model.patch_size),
        "timing": {
            "fit_seconds": fit_seconds,
            "train_samples_per_second": (
                len(train_source) * train_cfg.batch_size * len(history)
                / max(sum(r.get("train_seconds") or 0.0 for r in history), 1e-9)
            ),
            "predict_seconds": predict_seconds,
            "predict_pixels_per_second": prediction.size / max(predict_seconds, 1e-9),
        },
    }
    write_json_atomic(out / "metrics.json", metrics)
    save_npy_atomic(out / "prediction.npy", prediction)
    _write_figures(out, prediction, the_scene, test_metrics, config)
    logger.info("run written to %s", out)
    return RunResult(out_dir=out, metrics=metrics, history=history, prediction=prediction)


def _write_figures(out: Path, prediction: np.ndarray, scene: Scene, metrics: dict[str, Any],
                   config: RunConfig) -> None:
    title = (f"{scene.name} | {config.model.name} + {config.model.attention} | "
             f"OA {100 * (metrics['oa'] or 0):.2f}%  AA {100 * (metrics['aa'] or 0):.2f}%  "
             f"kappa {metrics['kappa'] or 0:.4f}")
    save_figure(plot_classification_map(prediction, scene.class_names, gt=scene.gt, title=title),
                out / "map.png")
    save_figure(plot_confusion(metrics["confusion"], scene.class_names, title=title),
                out / "confusion.png")


def _config_diff(old: RunConfig, new: RunConfig) -> str:
    changes = []
    for section in ("data", "model", "train"):
        a, b = dataclasses.asdict(getattr(old, section)), dataclasses.asdict(getattr(new, section))
        changes += [f"{section}.{k}: {a[k]!r} -> {b[k]!r}" for k in a if a[k] != b[k]]
    return "; ".join(changes) or "none"


def train_runs(
    config: RunConfig,
    seeds: Sequence[int],
    out_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> tuple[list[RunResult], dict[str, Any]]:
    """Repeat :func:`train_run` over ``seeds`` and summarise mean ± std.

    With ``out_dir`` the runs go to ``out_dir/seed<seed>`` and the summary to
    ``out_dir/summary.json``; without it each run gets its :func:`default_run_dir`.

    Returns:
        The runs and the summary from :func:`~hsi_attn.engine.summarize_runs`.
    """
    if not seeds:
        raise ValueError("give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    results = []
    for seed in seeds:
        seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
        target = Path(out_dir) / f"seed{seed}" if out_dir is not None else None
        results.append(train_run(seeded, target, **kwargs))
    summary = summarize_runs([r.metrics["test"] for r in results])
    summary["seeds"] = list(seeds)
    summary["runs"] = [str(r.out_dir) for r in results]
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "summary.json", summary)
    return results, summary


# ------------------------------------------------------------------ existing runs


@dataclass(frozen=True)
class _LoadedRun:
    config: RunConfig
    model: nn.Module
    extra: dict[str, Any]
    preprocessor: Preprocessor
    finished: bool


def _load_run(run_dir: Path, device: torch.device) -> _LoadedRun:
    config, _ = load_run_config(run_dir)
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    try:
        extra = _to_numpy(payload["extra"])
        n_bands, n_classes = int(extra["n_bands"]), int(extra["n_classes"])
        preprocessor = Preprocessor.from_state_dict(extra["preprocessor"])
        model = build_model(config, n_bands, n_classes)
        model.load_state_dict(payload["model"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint in {str(run_dir)!r} does not match its config.json or is incomplete "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); retrain the run"
        ) from None
    if not payload.get("finished"):
        logger.warning("the run in %s did not finish; using its last checkpoint", run_dir)
    model.to(device).eval()
    return _LoadedRun(config, model, extra, preprocessor, bool(payload.get("finished")))


def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    scene: Scene | None = None,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    device: str | None = None,
) -> dict[str, Any]:
    """Recompute the test metrics of a trained run on its saved test pixels.

    Args:
        run_dir: The run directory.
        scene: The scene object, for runs trained on an in-memory scene.
        root: Where to look for the scene.
        download: Download the scene if missing.
        device: Device override (default: the run's configured device).

    Returns:
        :func:`~hsi_attn.engine.classification_metrics` of the test pixels.
    """
    run_dir = Path(run_dir)
    config, _ = load_run_config(run_dir)
    target = resolve_device(device if device is not None else config.train.device)
    loaded = _load_run(run_dir, target)
    the_scene = _load_scene(config, scene, root, download)
    extra = loaded.extra
    n_bands_in, n_classes = int(extra["n_bands_in"]), int(extra["n_classes"])
    if the_scene.n_bands != n_bands_in or the_scene.n_classes != n_classes:
        raise ValueError(
            f"scene {the_scene.name!r} ({the_scene.n_bands} bands, {the_scene.n_classes} classes) "
            f"is not the scene this run was trained on ({extra['n_bands_in']} bands, "
            f"{extra['n_classes']} classes)"
        )
    cube = np.ascontiguousarray(loaded.preprocessor.transform(the_scene.cube), dtype=np.float32)
    test = np.array(extra["split"]["test"], dtype=np.int64)  # writable copy
    sampler = _sampler(config, cube, target)
    source = PatchSource(sampler, test, _labels_at(the_scene.gt, test),
                         batch_size=config.train.eval_batch_size, shuffle=False)
    predictions = [logits.argmax(dim=1).cpu() for logits in
                   predict_logits(loaded.model, source.batches(None), device=target)]
    return classification_metrics(
        source.labels.numpy(), torch.cat(predictions).numpy(), int(extra["n_classes"]),
        class_names=list(extra["class_names"]),
    )


def predict_cube(
    run_dir: str | os.PathLike[str],
    cube_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    variable: str | None = None,
    overwrite: bool = False,
    device: str | None = None,
) -> np.ndarray:
    """Classify every pixel of a new cube with a trained run and write the map.

    Args:
        run_dir: The trained run directory.
        cube_path: ``.mat``, ENVI ``.hdr``, ``.npy`` or ``.npz`` cube ``(H, W, B)``.
        out_path: ``.npy`` (labels; a ``.png`` map is written beside it) or ``.png``.
        variable: Array name inside the cube file, when it holds several.
        overwrite: Replace existing output files.
        device: Device override.

    Returns:
        ``(H, W)`` int64 labels ``1..K``.

    Raises:
        ValueError: If the cube's band count differs from the run's, or the output
            suffix is not .npy/.png.
        FileExistsError: If an output exists and ``overwrite`` is False.
    """
    run_dir, out_path = Path(run_dir), Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise ValueError(f"--out {str(out_path)!r} must end in .npy (labels + map) or .png (map)")
    targets = [out_path] if suffix == ".png" else [out_path, out_path.with_suffix(".png")]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exists; pass --overwrite or choose "
                              "another --out")
    config, _ = load_run_config(run_dir)
    target = resolve_device(device if device is not None else config.train.device)
    loaded = _load_run(run_dir, target)
    cube = load_cube(cube_path, variable)
    expected = int(loaded.extra["n_bands_in"])
    if cube.ndim != 3 or cube.shape[2] != expected:
        raise ValueError(
            f"cube {str(cube_path)!r} has shape {cube.shape} ({cube.shape[-1]} bands) but the run "
            f"{str(run_dir)!r} was trained on {expected}-band {loaded.extra['scene']} data; "
            "give a cube from the same sensor with bands last"
        )
    transformed = np.ascontiguousarray(loaded.preprocessor.transform(cube), dtype=np.float32)
    probs = predict_probabilities(
        loaded.model, transformed, patch_size=config.model.patch_size,
        pad_mode=config.data.pad_mode, batch_size=config.train.eval_batch_size, device=target,
    )
    labels = probs.argmax(axis=2).astype(np.int64) + 1
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        save_npy_atomic(out_path, labels)
    title = f"{Path(cube_path).name} | {config.model.name} + {config.model.attention}"
    save_figure(plot_classification_map(labels, list(loaded.extra["class_names"]), title=title),
                targets[-1])
    return labels
