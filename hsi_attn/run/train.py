"""One training run end to end: :func:`train_run` and its repetition over seeds.

:func:`train_run` is five steps, each a function below: choose and check the run
directory, prepare (scene -> split -> preprocessing fitted on training pixels only ->
model), fit (early stopping on the validation pixels, never the test pixels), score the
test pixels on a full-scene prediction, and write the outputs. The run directory is
described in :mod:`hsi_attn.run.directory`; how a run starts in it, and how a failed
start is undone, in :mod:`hsi_attn.run.start`.

Under ``torchrun`` every process calls :func:`train_run` with the same arguments: each
prepares the data and the model and trains on its shard
(:class:`~hsi_attn.engine.distributed.DistributedContext`), while rank 0 alone chooses
and writes the run directory and scores the test pixels, and hands the result to the
others, so every process returns the same :class:`RunResult`. When torchrun restarts
the workers (``--max-restarts``), a run whose ``out_dir`` holds a checkpoint resumes.
"""

from __future__ import annotations

import contextlib
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
from torch import nn

from hsi_attn import __version__
from hsi_attn.config import RunConfig
from hsi_attn.data import Scene
from hsi_attn.engine import (
    Callback,
    History,
    fit,
    resolve_device,
    seed_everything,
    selection_callbacks,
    summarize_runs,
)
from hsi_attn.engine.atomic import write_json_atomic
from hsi_attn.engine.distributed import DistributedContext
from hsi_attn.run.checkpoint_values import to_checkpoint
from hsi_attn.run.directory import check_same_settings, choose_run_dir, holds_run
from hsi_attn.run.evaluate import score_test_pixels
from hsi_attn.run.model import build_model
from hsi_attn.run.outputs import run_metrics, write_run_outputs
from hsi_attn.run.prepare import (
    PreparedData,
    check_scene_name,
    load_run_scene,
    prepare_data,
    training_sources,
)
from hsi_attn.run.self_training import fit_self_training
from hsi_attn.run.start import FirstEpoch, remove_run_temp_files, started_run

__all__ = ["RunResult", "train_run", "train_runs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What :func:`train_run` produced.

    Attributes:
        out_dir: The run directory.
        metrics: The content of ``metrics.json``.
        history: Per-epoch records.
        prediction: ``(H, W)`` full-scene prediction in the scene's class codes
            (``1..K`` for benchmark scenes), as saved in ``prediction.npy``.
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
        out_dir: Run directory. Must be empty unless ``resume`` or ``overwrite``. Default
            :func:`~hsi_attn.run.directory.default_run_dir`, or the next free name after
            it when that holds an earlier run.
        scene: A :class:`hsi_attn.data.Scene` to use instead of loading ``config.data.scene``.
        root: Folder to look for the scene in (see :func:`hsi_attn.data.load_scene`).
        download: Download the scene if it is not found.
        resume: Continue the interrupted run in ``out_dir`` (same settings required).
        overwrite: Replace the run files already in ``out_dir``.
        callbacks: Extra training callbacks (progress bar, logging, pruning...).
        command: The command line, recorded in config.json.

    Raises:
        RunDirectoryError: If ``out_dir`` holds a run and neither flag is given.
        ValueError: On bad settings (unknown names, misfit patch size, ...). Whatever
            fails before the first epoch is done leaves nothing in ``out_dir`` that
            blocks the corrected rerun.
    """
    context = DistributedContext.from_environment()
    device = context.device(resolve_device(config.train.device))
    if context.restart_count and out_dir is not None and holds_run(Path(out_dir)):
        logger.info("torchrun restart %d: resuming the run in %s", context.restart_count, out_dir)
        resume, overwrite = True, False
    elif context.max_restarts and out_dir is None:
        raise ValueError("torchrun --max-restarts needs --out DIR, so that a restart resumes "
                         "the same run instead of starting a new one")
    with context.process_group(device):
        out = context.on_main(lambda: _choose_directory(config, out_dir, scene=scene,
                                                        resume=resume, overwrite=overwrite))
        data = config.data.cube_path or config.data.scene
        logger.info("training %s + %s on %s (%s) -> %s", config.model.name,
                    config.model.attention, data, device, out)
        prepared, model = _prepare(config, scene, root, download)
        record = {**_config_record(config, command, device), "world_size": context.world_size}
        start = (started_run(out, record, resume=resume, overwrite=overwrite) if context.is_main
                 else contextlib.nullcontext(FirstEpoch()))
        with start as first_epoch:
            history, fit_seconds, train_samples = _fit(
                config, prepared, model, out, device=device, resume=resume,
                callbacks=[*callbacks, first_epoch], context=context,
            )

        def finish() -> tuple[dict[str, Any], np.ndarray]:
            score = score_test_pixels(model, prepared, config, device)
            metrics = run_metrics(config, prepared, model, history=history, score=score,
                                  device=device, fit_seconds=fit_seconds,
                                  train_samples=train_samples)
            write_run_outputs(out, config, prepared, history=history, metrics=metrics,
                              score=score)
            remove_run_temp_files(out)
            logger.info("run written to %s", out)
            return metrics, prepared.scene.to_codes(score.prediction)

        metrics, prediction = context.on_main(finish)
    return RunResult(out_dir=out, metrics=metrics, history=history, prediction=prediction)


def _choose_directory(config: RunConfig, out_dir: str | os.PathLike[str] | None, *,
                      scene: Scene | None, resume: bool, overwrite: bool) -> Path:
    """Step 1: fail fast on unknown names and on a run directory this run may not use."""
    check_scene_name(config, scene)
    out = choose_run_dir(config, out_dir, resume=resume, overwrite=overwrite)
    if resume:
        check_same_settings(out, config)
    return out


def _prepare(config: RunConfig, scene: Scene | None, root: str | os.PathLike[str] | None,
             download: bool) -> tuple[PreparedData, nn.Module]:
    """Step 2: the scene split and preprocessed, and the model built and probed."""
    seed_everything(config.train.seed)
    prepared = prepare_data(config, load_run_scene(config, scene, root, download))
    seed_everything(config.train.seed)  # the initial weights do not depend on the data path
    return prepared, build_model(config, prepared.n_bands, prepared.n_classes)


def _config_record(config: RunConfig, command: str | None, device: torch.device) -> dict[str, Any]:
    """The content of ``config.json``: the settings and where and how they ran."""
    return {
        **config.to_dict(), "command": command, "hsi_attn_version": __version__,
        "torch_version": torch.__version__, "device": str(device),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _fit(config: RunConfig, prepared: PreparedData, model: nn.Module, out: Path, *,
         device: torch.device, resume: bool, callbacks: Sequence[Callback],
         context: DistributedContext) -> tuple[History, float, int]:
    """Step 3: train with model selection on the validation pixels, checkpointing to ``out``.

    With ``self_training_rounds`` the first fit is followed by the rounds of
    :func:`~hsi_attn.run.self_training.fit_self_training`.

    Returns:
        The history, the training wall time and the samples trained on in all epochs.
    """
    scene, split = prepared.scene, prepared.split
    extra = to_checkpoint({
        "scene": scene.name, "class_names": list(scene.class_names),
        "class_codes": list(scene.class_codes), "georef": scene.georef.to_dict(),
        "n_bands_in": scene.n_bands, "n_bands": prepared.n_bands,
        "n_classes": prepared.n_classes, "preprocessor": prepared.preprocessor.state_dict(),
        "split": {"train": split.train, "val": split.val, "test": split.test},
        "run": config.to_dict(),
    })
    logger.info(
        "%s: %d train / %d val / %d test pixels, %d bands -> %d, %d classes",
        scene.name, len(split.train), len(split.val), len(split.test),
        scene.n_bands, prepared.n_bands, prepared.n_classes,
    )
    started = time.perf_counter()
    if config.train.self_training_rounds:
        history, samples = fit_self_training(
            config, prepared, model, checkpoint_path=out / "checkpoint.pt", device=device,
            resume=resume, callbacks=callbacks, extra=extra, context=context)
        return history, time.perf_counter() - started, samples
    train_source, val_source = training_sources(config, prepared, device)
    history = fit(model, train_source, config=config.train, val_data=val_source,
                  callbacks=[*selection_callbacks(config.train.patience), *callbacks],
                  device=device, checkpoint_path=out / "checkpoint.pt", resume=resume,
                  extra=extra, distributed=context)
    samples = len(train_source) * config.train.batch_size * len(history)
    return history, time.perf_counter() - started, samples


def train_runs(
    config: RunConfig,
    seeds: Sequence[int],
    out_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> tuple[list[RunResult], dict[str, Any]]:
    """Repeat :func:`train_run` over ``seeds`` and summarise mean ± std.

    With ``out_dir`` the runs go to ``out_dir/seed<seed>`` and the summary to
    ``out_dir/summary.json``; without it each run gets its default name (see
    :func:`~hsi_attn.run.directory.choose_run_dir`).

    Returns:
        The runs and the summary from :func:`~hsi_attn.engine.summarize_runs`.
    """
    if not seeds:
        raise ValueError("give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    results = []
    context = DistributedContext.from_environment()
    # One process group for all the runs (each train_run uses it).
    with context.process_group(context.device(resolve_device(config.train.device))):
        for seed in seeds:
            seeded = dataclasses.replace(config,
                                         train=dataclasses.replace(config.train, seed=seed))
            target = Path(out_dir) / f"seed{seed}" if out_dir is not None else None
            results.append(train_run(seeded, target, **kwargs))
    summary = summarize_runs([r.metrics["test"] for r in results])
    summary["seeds"] = list(seeds)
    summary["runs"] = [str(r.out_dir) for r in results]
    if out_dir is not None and context.is_main:
        write_json_atomic(Path(out_dir) / "summary.json", summary)
    return results, summary
