"""The test metrics of a trained run: right after training, and later from its directory.

:func:`score_test_pixels` is the last step of a run: it predicts the whole scene and
scores the test pixels (which training never saw). :func:`evaluate_run` recomputes the
test metrics of a finished run from its run directory.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hsi_attn.config import RunConfig
from hsi_attn.data import Scene
from hsi_attn.data.batches import PatchSource, dihedral
from hsi_attn.engine import classification_metrics, predict_logits, resolve_device
from hsi_attn.inference.tta import dihedral_average
from hsi_attn.run.directory import load_run_config
from hsi_attn.run.predict import predict_probabilities
from hsi_attn.run.prepare import PreparedData, labels_at, load_run_scene, patch_sampler
from hsi_attn.run.trained import load_trained_run

__all__ = ["TestScore", "evaluate_run", "scene_probabilities", "score_test_pixels"]


@dataclass(frozen=True)
class TestScore:
    """The full-scene prediction of a trained model and the test pixels' metrics.

    Attributes:
        prediction: ``(H, W)`` int64 classes ``1..K`` of every pixel (the scene's
            ``to_codes`` gives the user's codes).
        metrics: :func:`~hsi_attn.engine.classification_metrics` of the test pixels.
        predict_seconds: Wall time of the full-scene prediction.
    """

    prediction: np.ndarray
    metrics: dict[str, Any]
    predict_seconds: float


def score_test_pixels(model: nn.Module, data: PreparedData, config: RunConfig,
                      device: torch.device) -> TestScore:
    """Predict every pixel of ``data``'s cube and score the test pixels.

    With ``config.train.tta`` the map is averaged over the 8 flips and quarter turns of
    the scene (:mod:`hsi_attn.inference.tta`).
    """
    started = time.perf_counter()
    probs = scene_probabilities(model, data, config, device)
    predict_seconds = time.perf_counter() - started
    prediction = probs.argmax(axis=2).astype(np.int64) + 1
    test = data.split.test
    metrics = classification_metrics(
        data.labels(test), prediction[test[:, 0], test[:, 1]] - 1, data.n_classes,
        class_names=data.scene.class_names, class_codes=data.scene.class_codes,
    )
    return TestScore(prediction=prediction, metrics=metrics, predict_seconds=predict_seconds)


def scene_probabilities(model: nn.Module, data: PreparedData, config: RunConfig,
                        device: torch.device) -> np.ndarray:
    """Class probabilities ``(H, W, K)`` of every pixel of ``data``'s preprocessed cube.

    Averaged over the 8 flips and quarter turns of the scene when ``config.train.tta``
    is set (:mod:`hsi_attn.inference.tta`).
    """
    def predict(cube: np.ndarray) -> np.ndarray:
        return predict_probabilities(
            model, cube, patch_size=config.model.patch_size, pad_mode=config.data.pad_mode,
            batch_size=config.train.eval_batch_size, device=device,
        )

    return dihedral_average(predict, data.cube) if config.train.tta else predict(data.cube)


def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    scene: Scene | None = None,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    device: str | None = None,
    tta: bool | None = None,
) -> dict[str, Any]:
    """Recompute the test metrics of a trained run on its saved test pixels.

    Args:
        run_dir: The run directory.
        scene: The scene object, for runs trained on an in-memory scene.
        root: Where to look for the scene.
        download: Download the scene if missing.
        device: Device override (default: the run's configured device).
        tta: Average each test pixel's probabilities over the 8 flips and quarter
            turns of its window (:mod:`hsi_attn.inference.tta`); None: as the run was
            configured (``config.train.tta``).

    Returns:
        :func:`~hsi_attn.engine.classification_metrics` of the test pixels.
    """
    run_dir = Path(run_dir)
    config, _ = load_run_config(run_dir)
    target = resolve_device(device if device is not None else config.train.device)
    loaded = load_trained_run(run_dir, target)
    the_scene = load_run_scene(config, scene, root, download)
    extra = loaded.extra
    n_bands_in, n_classes = int(extra["n_bands_in"]), int(extra["n_classes"])
    if the_scene.n_bands != n_bands_in or the_scene.n_classes != n_classes:
        raise ValueError(
            f"scene {the_scene.name!r} ({the_scene.n_bands} bands, {the_scene.n_classes} classes) "
            f"is not the scene this run was trained on ({extra['n_bands_in']} bands, "
            f"{extra['n_classes']} classes)"
        )
    # Runs from before class codes were recorded used codes 1..K.
    trained_codes = [int(c) for c in extra.get("class_codes") or range(1, n_classes + 1)]
    if list(the_scene.class_codes) != trained_codes:
        raise ValueError(
            f"scene {the_scene.name!r} has class codes {list(the_scene.class_codes)} but the "
            f"run was trained on codes {trained_codes}; evaluate on ground truth with the "
            "same legend (and the same --ignore-label)"
        )
    cube = np.ascontiguousarray(loaded.preprocessor.transform(the_scene.cube), dtype=np.float32)
    test = np.array(extra["split"]["test"], dtype=np.int64)  # writable copy
    sampler = patch_sampler(config, cube, target)
    source = PatchSource.from_cube(sampler, test, labels_at(the_scene.gt, test),
                                   batch_size=config.train.eval_batch_size, shuffle=False)
    copies = 8 if (config.train.tta if tta is None else tta) else 1
    batches: Any = source.batches(None)
    if copies > 1:
        batches = _dihedral_batches(batches)
    predictions = [
        logits.view(-1, copies, logits.shape[1]).softmax(dim=2).mean(dim=1).argmax(dim=1).cpu()
        for logits in predict_logits(loaded.model, batches, device=target)
    ]
    return classification_metrics(
        source.labels.numpy(), torch.cat(predictions).numpy(), int(extra["n_classes"]),
        class_names=list(extra["class_names"]), class_codes=trained_codes,
    )


def _dihedral_batches(batches: Any) -> Any:
    """Each batch of N windows as 8N: every window under the 8 symmetries, in turn."""
    for patches, labels in batches:
        ops = torch.arange(8).repeat(len(patches))
        yield dihedral(patches.repeat_interleave(8, dim=0), ops), labels
