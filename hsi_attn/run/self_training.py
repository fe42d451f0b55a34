"""Self-training: fine-tune on the model's own confident predictions, round by round.

After the first fit, each round predicts the whole scene (the dense path makes this
about 50 ms for Indian Pines on two cores), gives the confident pixels of a pool their
predicted class (a *pseudo-label*), and fine-tunes the model on the training pixels
plus those for ``self_training_epochs`` epochs with a fresh learning-rate schedule.
Model selection stays on the validation pixels, which are never pseudo-labelled: each
round keeps its best validation epoch, and the final model is the best of the rounds'
(ties go to the earlier round), so rounds that do not help on the validation pixels
are not kept; round 0 is the plain run.

Which pixels may be pseudo-labelled (``pseudo_label_pool``):

- ``"unlabelled"``: pixels without a label in the ground truth. Test pixels are never
  among them, so the test metrics stay inductive (their spectra still reach the model
  through the patches of neighbouring unlabelled pixels).
- ``"scene"``: every pixel outside the training and validation sets, test pixels
  included. Their labels are never read, but the model adapts to their spectra: a
  transductive protocol (as when a practitioner maps the very cube they label), which
  results must name.

Pixels without data (:func:`~hsi_attn.data.nodata.nodata_mask`) are never pseudo-labelled.

A self-training run resumes like any run: each round's checkpoint (``checkpoint.pt``)
records the round, its pseudo-labels and the earlier rounds' history, so an
interrupted round continues with the same pseudo-labels.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hsi_attn.config import RunConfig
from hsi_attn.data.nodata import nodata_mask
from hsi_attn.engine import Callback, History, fit, selection_callbacks, selection_score
from hsi_attn.engine.checkpoint import load_checkpoint, save_checkpoint
from hsi_attn.engine.distributed import DistributedContext
from hsi_attn.run.checkpoint_values import from_checkpoint, to_checkpoint
from hsi_attn.run.evaluate import scene_probabilities
from hsi_attn.run.prepare import PreparedData, training_sources

__all__ = ["PseudoLabels", "fit_self_training", "pseudo_label_pool", "select_pseudo_labels"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PseudoLabels:
    """Pixels labelled by the model itself.

    Attributes:
        coords: ``(n, 2)`` int64 ``(row, col)``, row-major order.
        labels: ``(n,)`` int64 predicted classes ``0..K-1``.
        confidence: ``(n,)`` float32 predicted probability of that class.
    """

    coords: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))

    def class_counts(self, n_classes: int) -> np.ndarray:
        """Pseudo-labels per class ``(K,)``."""
        return np.bincount(self.labels, minlength=n_classes)


def pseudo_label_pool(data: PreparedData, pool: str) -> np.ndarray:
    """The ``(H, W)`` mask of the pixels that may get a pseudo-label.

    Args:
        data: The prepared scene and split.
        pool: ``"unlabelled"`` (no label in the ground truth) or ``"scene"`` (every
            pixel outside the training and validation sets).

    Raises:
        ValueError: On another pool name.
    """
    scene = data.scene
    if pool == "unlabelled":
        mask = scene.gt == 0
    elif pool == "scene":
        mask = np.ones(scene.shape, dtype=bool)
    else:
        raise ValueError(f"pseudo_label_pool must be 'unlabelled' or 'scene', got {pool!r}")
    for coords in (data.split.train, data.split.val):
        mask[coords[:, 0], coords[:, 1]] = False
    return mask & ~nodata_mask(scene.cube, scene.georef.nodata)


def select_pseudo_labels(probabilities: np.ndarray, pool: np.ndarray, *, threshold: float,
                         per_class: int | None) -> PseudoLabels:
    """The confident pixels of ``pool``, at most ``per_class`` per predicted class.

    Args:
        probabilities: ``(H, W, K)`` class probabilities of every pixel.
        pool: ``(H, W)`` bool mask of the pixels that may be chosen.
        threshold: Smallest probability of the predicted class to be chosen.
        per_class: Keep the most confident this many per class (ties: row-major
            order); None keeps them all.

    Returns:
        The chosen pixels, in row-major order.
    """
    confidence = probabilities.max(axis=2)
    predicted = probabilities.argmax(axis=2)
    rows, cols = np.nonzero(pool & (confidence >= threshold))
    labels, conf = predicted[rows, cols].astype(np.int64), confidence[rows, cols]
    keep = np.arange(len(rows))
    if per_class is not None:
        # Most confident first within each class; the stable sort breaks ties in
        # row-major order.
        order = np.lexsort((-conf, labels))
        rank = np.empty(len(order), dtype=np.int64)
        starts = np.searchsorted(labels[order], labels[order], side="left")
        rank[order] = np.arange(len(order)) - starts
        keep = np.nonzero(rank < per_class)[0]
    coords = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    return PseudoLabels(coords=coords, labels=labels[keep],
                        confidence=conf[keep].astype(np.float32))


def fit_self_training(
    config: RunConfig,
    data: PreparedData,
    model: nn.Module,
    *,
    checkpoint_path: Path,
    device: torch.device,
    resume: bool,
    callbacks: Sequence[Callback],
    extra: dict[str, Any],
    context: DistributedContext,
) -> tuple[History, int]:
    """The first fit, then ``config.train.self_training_rounds`` rounds of self-training.

    Args:
        config: The run's configuration (``self_training_rounds`` > 0).
        data: The prepared scene and split.
        model: The freshly built model, trained in place.
        checkpoint_path: The run's ``checkpoint.pt``, written by every round.
        device: Where to train.
        resume: Continue the interrupted run whose checkpoint is at ``checkpoint_path``.
        callbacks: Extra callbacks, given to every round's fit.
        extra: Caller data stored in every checkpoint.
        context: This process's place among several; self-training runs in one.

    Returns:
        The history of every round (``round`` column; ``epoch`` counts across rounds,
        ``pseudo_labels`` says how many pixels each round added; ``is_best`` is cleared
        in the rounds after the one kept) and the number of training samples seen in
        all epochs. The model holds the kept round's weights.

    Raises:
        ValueError: Under ``torchrun`` (the rounds' scene predictions run in one process).
    """
    if context.is_distributed:
        raise ValueError("self-training runs in one process; train without torchrun, or "
                         "with --self-training-rounds 0")
    train_cfg = config.train
    saved_round, saved = _saved_round(checkpoint_path) if resume else (0, None)
    history, samples, best = History(), 0, None
    if saved is not None:
        history = History.from_records(saved["history"])
        samples, best = int(saved["samples"]), saved.get("best")
    pseudo: PseudoLabels | None = None
    for round_ in range(saved_round, train_cfg.self_training_rounds + 1):
        resuming = resume and round_ == saved_round
        if round_ > 0:
            pseudo = (_stored_labels(saved) if resuming and saved is not None
                      else _next_labels(config, data, model, device, round_))
        round_cfg = (train_cfg if round_ == 0
                     else dataclasses.replace(train_cfg, epochs=train_cfg.self_training_epochs))
        extra_train = None if pseudo is None else (pseudo.coords, pseudo.labels)
        train_source, val_source = training_sources(config, data, device,
                                                    extra_train=extra_train)
        state = {"round": round_, "history": [dict(r) for r in history], "samples": samples,
                 **({"best": best} if best is not None else {})}
        if pseudo is not None:
            state.update(coords=pseudo.coords, labels=pseudo.labels,
                         confidence=pseudo.confidence)
        rounds = fit(model, train_source, config=round_cfg, val_data=val_source,
                     callbacks=[*selection_callbacks(round_cfg.patience), *callbacks],
                     device=device, checkpoint_path=checkpoint_path, resume=resuming,
                     extra={**extra, "self_training": to_checkpoint(state)})
        offset = len(history)
        for record in rounds:
            history.append({**record, "epoch": offset + record["epoch"], "round": round_,
                            "pseudo_labels": len(pseudo) if pseudo is not None else 0})
        samples += len(train_source) * round_cfg.batch_size * len(rounds)
        best = _better_round(best, round_, rounds, model)
    if best is not None and best["round"] != train_cfg.self_training_rounds:
        logger.info("self-training: round %d has the best validation OA; keeping it",
                    best["round"])
        model.load_state_dict(best["weights"])
        for record in history:
            if record["round"] > best["round"]:
                record["is_best"] = 0
        _keep_in_checkpoint(checkpoint_path, best["weights"])
    return history, samples


def _keep_in_checkpoint(path: Path, weights: dict[str, torch.Tensor]) -> None:
    """Put the kept round's weights in the run's checkpoint, which prediction and
    evaluation load (it holds the last round's until now)."""
    payload = load_checkpoint(path, map_location="cpu")
    payload["model"] = weights
    save_checkpoint(path, payload)


def _better_round(best: dict[str, Any] | None, round_: int, records: History,
                  model: nn.Module) -> dict[str, Any] | None:
    """``best`` or this round, whichever kept the better validation epoch (OA, then loss)."""
    kept = next((r for r in reversed(records) if r.get("is_best")), None)
    if kept is None:
        return best
    score = list(selection_score(kept))
    if best is not None and tuple(score) <= tuple(best["score"]):
        return best
    weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {"round": round_, "score": score, "weights": weights}


def _next_labels(config: RunConfig, data: PreparedData, model: nn.Module,
                 device: torch.device, round_: int) -> PseudoLabels:
    train_cfg = config.train
    probabilities = scene_probabilities(model, data, config, device)
    pool = pseudo_label_pool(data, train_cfg.pseudo_label_pool)
    chosen = select_pseudo_labels(probabilities, pool,
                                  threshold=train_cfg.pseudo_label_threshold,
                                  per_class=train_cfg.pseudo_labels_per_class)
    logger.info("self-training round %d: %d pseudo-labels (p >= %g, pool %s), per class %s",
                round_, len(chosen), train_cfg.pseudo_label_threshold,
                train_cfg.pseudo_label_pool, chosen.class_counts(data.n_classes).tolist())
    return chosen


def _saved_round(path: Path) -> tuple[int, dict[str, Any] | None]:
    """The round an interrupted run's checkpoint belongs to, and what it stored."""
    payload = load_checkpoint(path, map_location="cpu")
    stored = payload.get("extra", {}).get("self_training")
    if stored is None:
        return 0, None
    stored = from_checkpoint(stored)
    return int(stored["round"]), stored


def _stored_labels(saved: dict[str, Any]) -> PseudoLabels:
    return PseudoLabels(coords=np.asarray(saved["coords"], dtype=np.int64),
                        labels=np.asarray(saved["labels"], dtype=np.int64),
                        confidence=np.asarray(saved["confidence"], dtype=np.float32))
