"""What a finished run writes: ``metrics.json``, ``history.csv``, the prediction, figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from hsi_attn.config import RunConfig
from hsi_attn.data import leakage_report
from hsi_attn.engine import History, selection_score
from hsi_attn.engine.atomic import save_npy_atomic, write_json_atomic
from hsi_attn.run.evaluate import TestScore
from hsi_attn.run.figures import write_run_figures
from hsi_attn.run.model import model_profile
from hsi_attn.run.prepare import PreparedData

__all__ = ["run_metrics", "write_run_outputs"]


def run_metrics(config: RunConfig, data: PreparedData, model: nn.Module, *, history: History,
                score: TestScore, device: torch.device, fit_seconds: float,
                train_samples: int) -> dict[str, Any]:
    """The content of ``metrics.json``.

    Args:
        config: The run's configuration.
        data: The prepared scene.
        model: The trained model (profiled for parameters and FLOPs).
        history: The training history.
        score: The test pixels' metrics and the full-scene prediction.
        device: Where the run trained.
        fit_seconds: Wall time of training.
        train_samples: Samples trained on, over all epochs.
    """
    split, train_cfg = data.split, config.train
    # The epoch BestModel kept (highest val_oa, ties to the lower val_loss).
    best = next((r for r in reversed(history) if r.get("is_best")), None)
    train_seconds = sum(r.get("train_seconds") or 0.0 for r in history)
    extra = {"self_training": self_training_rounds(history, train_cfg.pseudo_label_pool)
             } if train_cfg.self_training_rounds else {}
    return {
        "scene": data.scene.name, "class_codes": list(data.scene.class_codes),
        "model": config.model.name,
        "attention": config.model.attention, "seed": train_cfg.seed, "device": str(device),
        "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test),
        "protocol": split_protocol(data, config.model.patch_size),
        "epochs_run": len(history),
        "best_epoch": best["epoch"] if best else None,
        "best_val_oa": best["val_oa"] if best else None,
        "test": score.metrics,
        "profile": model_profile(model, data.n_bands, config.model.patch_size),
        "timing": {
            "fit_seconds": fit_seconds,
            "train_samples_per_second": (
                train_samples / max(train_seconds, 1e-9)
            ),
            "predict_seconds": score.predict_seconds,
            "predict_pixels_per_second": (
                score.prediction.size / max(score.predict_seconds, 1e-9)
            ),
        },
        **extra,
    }


def self_training_rounds(history: History, pool: str) -> dict[str, Any]:
    """Each self-training round's pseudo-labels, epochs and best validation epoch, and
    the round whose weights were kept (the best on the validation pixels).

    Round 0 is the first fit, on the training pixels alone.
    """
    rounds = []
    for round_ in sorted({int(r["round"]) for r in history}):
        records = [r for r in history if r["round"] == round_]
        # The round's best epoch by BestModel's rule, the first of equals (is_best is
        # cleared in the rounds after the kept one, so it cannot say).
        scored = [r for r in records if r.get("val_oa") is not None]
        best = max(scored, key=lambda r: (*selection_score(r), -r["epoch"]), default=None)
        rounds.append({"round": round_, "pseudo_labels": int(records[0]["pseudo_labels"]),
                       "epochs": len(records),
                       "best_epoch": best["epoch"] if best else None,
                       "best_val_oa": best["val_oa"] if best else None})
    kept = next((r for r in reversed(history) if r.get("is_best")), None)
    return {"pool": pool, "transductive": pool == "scene", "rounds": rounds,
            "kept_round": int(kept["round"]) if kept else None}


def split_protocol(data: PreparedData, patch_size: int) -> dict[str, Any]:
    """How the run's pixels were split, and how much its patches leak between the sets.

    ``leakage`` is :func:`hsi_attn.data.leakage_report`: for each ordered pair of sets,
    the fraction of the second set's pixels that lie inside a patch of the first
    (random splits leak most; the disjoint split's guard band makes train->test 0).
    A fixed split also records its citation and the published figures on it.
    """
    split = data.split
    record: dict[str, Any] = {
        "split": split.method, "info": _plain(dict(split.info)),
        "leakage": dict(leakage_report(split, patch_size)),
    }
    fixed = data.scene.fixed_split
    if split.method == "fixed" and fixed is not None:
        record.update(name=fixed.name, title=fixed.spec.title, citation=fixed.spec.citation,
                      published=[dict(entry) for entry in fixed.spec.published])
    return record


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and tuples turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def write_run_outputs(out: Path, config: RunConfig, data: PreparedData, *, history: History,
                      metrics: dict[str, Any], score: TestScore) -> None:
    """Write the run's results into its directory, each file atomically.

    ``prediction.npy`` holds the scene's class codes (the ground truth's own values;
    ``1..K`` for benchmark scenes), as do the metrics' per-class ``code`` entries and
    the figures' legends.
    """
    history.to_csv(out / "history.csv")
    write_json_atomic(out / "metrics.json", metrics)
    save_npy_atomic(out / "prediction.npy", data.scene.to_codes(score.prediction))
    write_run_figures(out, score.prediction, data.scene, score.metrics, config)
