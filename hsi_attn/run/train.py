"""One training run end to end: :func:`train_run` and its repetition over seeds.

:func:`train_run` does scene -> split -> preprocessing (fitted on training pixels only)
-> model -> :func:`~hsi_attn.engine.fit` (early stopping on the validation pixels,
never the test pixels) -> test metrics -> full-scene prediction, and writes the run
directory described in :mod:`hsi_attn.run.directory`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsi_attn import __version__
from hsi_attn.config import RunConfig
from hsi_attn.data import Scene
from hsi_attn.engine import (
    BestModel,
    Callback,
    EarlyStopping,
    History,
    classification_metrics,
    fit,
    resolve_device,
    seed_everything,
    summarize_runs,
)
from hsi_attn.engine.atomic import save_npy_atomic, write_json_atomic
from hsi_attn.run.checkpoint_values import to_checkpoint
from hsi_attn.run.directory import check_out_dir, config_diff, default_run_dir, load_run_config
from hsi_attn.run.figures import write_run_figures
from hsi_attn.run.model import build_model, model_profile
from hsi_attn.run.predict import predict_probabilities
from hsi_attn.run.prepare import (
    check_scene_name,
    labels_at,
    load_run_scene,
    prepare_data,
    training_sources,
)

__all__ = ["RunResult", "train_run", "train_runs"]

logger = logging.getLogger(__name__)

_MAY_CHANGE_ON_RESUME = ("device", "compile", "eval_batch_size", "precision")


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
    check_scene_name(config, scene)
    out = Path(out_dir) if out_dir is not None else default_run_dir(config)
    check_out_dir(out, resume=resume, overwrite=overwrite)
    if resume:
        saved_config, _ = load_run_config(out)
        # The device may change between an interruption and its resumption.
        saved_config = dataclasses.replace(saved_config, train=dataclasses.replace(
            saved_config.train, **{k: getattr(config.train, k) for k in _MAY_CHANGE_ON_RESUME}))
        if saved_config != config:
            diff = config_diff(saved_config, config)
            raise ValueError(
                f"cannot resume {str(out)!r} with different settings ({diff}); "
                "repeat the original options or start a new run"
            )
    device = resolve_device(config.train.device)
    logger.info("training %s + %s on %s (%s) -> %s", config.model.name, config.model.attention,
                config.data.scene, device, out)
    seed_everything(config.train.seed)
    the_scene = load_run_scene(config, scene, root, download)
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
    extra = to_checkpoint({
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
        labels_at(gt, test), prediction[test[:, 0], test[:, 1]] - 1, n_classes,
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
        "profile": model_profile(model, n_bands, config.model.patch_size),
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
    write_run_figures(out, prediction, the_scene, test_metrics, config)
    logger.info("run written to %s", out)
    return RunResult(out_dir=out, metrics=metrics, history=history, prediction=prediction)


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
