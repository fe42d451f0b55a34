"""Self-training (hsi_attn.run.self_training): which pixels get pseudo-labels, and runs
that fine-tune on them, interrupted or not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.config import IgnoredSettingWarning, TrainConfig
from hsi_attn.data import Scene
from hsi_attn.engine import Callback, History, load_checkpoint
from hsi_attn.run import prepare_data, train_run
from hsi_attn.run.checkpoint_values import from_checkpoint
from hsi_attn.run.self_training import pseudo_label_pool, select_pseudo_labels
from tests.test_training_run import tiny_config, tiny_scene


def _probabilities(confidence: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(H, W, K)`` probabilities whose argmax is ``labels`` with ``confidence``."""
    rest = (1.0 - confidence) / (n_classes - 1)
    probs = np.repeat(rest[..., None], n_classes, axis=2)
    np.put_along_axis(probs, labels[..., None], confidence[..., None], axis=2)
    return probs


def test_confident_pixels_of_the_pool_are_chosen_most_confident_first() -> None:
    confidence = np.array([[0.99, 0.97, 0.40], [0.98, 0.96, 0.99]])
    labels = np.array([[0, 0, 1], [0, 1, 1]])
    pool = np.array([[True, True, True], [True, True, False]])
    chosen = select_pseudo_labels(_probabilities(confidence, labels, 3), pool,
                                  threshold=0.95, per_class=2)
    # Class 0 has three confident pixels: the two most confident stay. (1, 2) is not in
    # the pool and (0, 2) is not confident.
    assert chosen.coords.tolist() == [[0, 0], [1, 0], [1, 1]]
    assert chosen.labels.tolist() == [0, 0, 1]
    np.testing.assert_allclose(chosen.confidence, [0.99, 0.98, 0.96], rtol=1e-6)
    assert chosen.class_counts(3).tolist() == [2, 1, 0]
    everything = select_pseudo_labels(_probabilities(confidence, labels, 3), pool,
                                      threshold=0.95, per_class=None)
    assert len(everything) == 4


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), threshold=st.floats(0.3, 0.99),
       per_class=st.one_of(st.none(), st.integers(0, 6)))
def test_pseudo_labels_respect_pool_threshold_and_cap(seed: int, threshold: float,
                                                      per_class: int | None) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(9, 7, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    pool = rng.random((9, 7)) < 0.7
    chosen = select_pseudo_labels(probs, pool, threshold=threshold, per_class=per_class)
    rows, cols = chosen.coords.T
    assert pool[rows, cols].all()
    assert (chosen.confidence >= np.float32(threshold) - 1e-7).all()
    assert (chosen.labels == probs[rows, cols].argmax(axis=1)).all()
    assert np.all(np.diff(rows * 7 + cols) > 0)  # row-major, no pixel twice
    confidence = probs.max(axis=2)
    eligible = pool & (confidence >= threshold)
    picked = np.zeros(pool.shape, dtype=bool)
    picked[rows, cols] = True
    for k in range(4):
        of_k = eligible & (probs.argmax(axis=2) == k)
        kept, dropped = confidence[of_k & picked], confidence[of_k & ~picked]
        assert len(kept) == (of_k.sum() if per_class is None else min(per_class, of_k.sum()))
        if len(kept) and len(dropped):  # nothing dropped is more confident than a kept one
            assert dropped.max() <= kept.min()


def test_the_unlabelled_pool_never_holds_a_labelled_pixel_and_the_scene_pool_does() -> None:
    scene = tiny_scene()
    cube = scene.cube.copy()
    cube[0, 0] = 0.0  # a pixel without data
    gt = scene.gt.copy()
    gt[0, 0] = 0
    scene = Scene.from_arrays(cube, gt, name="tiny", class_names=scene.class_names)
    data = prepare_data(tiny_config(), scene)
    taken = np.zeros(scene.shape, dtype=bool)
    for coords in (data.split.train, data.split.val):
        taken[coords[:, 0], coords[:, 1]] = True
    unlabelled = pseudo_label_pool(data, "unlabelled")
    assert not (unlabelled & (scene.gt > 0)).any()
    assert unlabelled.sum() == (scene.gt == 0).sum() - 1  # all but the no-data pixel
    whole = pseudo_label_pool(data, "scene")
    assert not (whole & taken).any() and not whole[0, 0]
    test = data.split.test
    assert whole[test[:, 0], test[:, 1]].all()
    assert whole.sum() == scene.gt.size - taken.sum() - 1
    with pytest.raises(ValueError, match="pseudo_label_pool must be"):
        pseudo_label_pool(data, "test")


def _self_training(**train: object) -> dict[str, object]:
    return {"self_training_rounds": 2, "self_training_epochs": 2,
            "pseudo_label_threshold": 0.5, **train}


@pytest.fixture(scope="module")
def self_trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("st") / "run"
    train_run(tiny_config(**_self_training(pseudo_label_pool="scene")), out,
              scene=tiny_scene(), command="test")
    return out


def test_a_self_training_run_records_its_rounds(self_trained: Path) -> None:
    import json

    metrics = json.loads((self_trained / "metrics.json").read_text())
    rounds = metrics["self_training"]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert [r["epochs"] for r in rounds] == [2, 2, 2] and metrics["epochs_run"] == 6
    assert rounds[0]["pseudo_labels"] == 0 and rounds[1]["pseudo_labels"] > 0
    assert metrics["self_training"]["transductive"] is True
    kept = metrics["self_training"]["kept_round"]
    assert rounds[kept]["best_epoch"] == metrics["best_epoch"]
    assert rounds[kept]["best_val_oa"] == max(r["best_val_oa"] for r in rounds)
    from hsi_attn.cli.report import metrics_text

    assert (f"self-training (scene pool, transductive): round 1 +{rounds[1]['pseudo_labels']}"
            in metrics_text(metrics)) and f"kept round {kept}" in metrics_text(metrics)
    history = History.from_csv(self_trained / "history.csv")
    assert history.column("epoch") == [1, 2, 3, 4, 5, 6]
    assert history.column("round") == [0, 0, 1, 1, 2, 2]
    # The last round's pseudo-labels are in the checkpoint: never a training or
    # validation pixel, and (this run's pool is the scene) some test pixels.
    stored = from_checkpoint(load_checkpoint(self_trained / "checkpoint.pt")["extra"]
                             ["self_training"])
    assert stored["round"] == 2 and len(stored["labels"]) == rounds[2]["pseudo_labels"]
    split = from_checkpoint(load_checkpoint(self_trained / "checkpoint.pt")["extra"]["split"])
    pixels = {tuple(p) for p in stored["coords"].tolist()}
    assert not pixels & {tuple(p) for p in np.concatenate([split["train"], split["val"]]).tolist()}
    assert pixels & {tuple(p) for p in split["test"].tolist()}


def test_the_unlabelled_pool_keeps_test_pixels_out(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train_run(tiny_config(**_self_training()), out, scene=tiny_scene())
    assert result.metrics["self_training"]["transductive"] is False
    stored = from_checkpoint(load_checkpoint(out / "checkpoint.pt")["extra"]["self_training"])
    gt = tiny_scene().gt
    assert len(stored["labels"]) > 0
    assert (gt[stored["coords"][:, 0], stored["coords"][:, 1]] == 0).all()


def test_the_round_with_the_better_validation_epoch_is_kept() -> None:
    from torch import nn

    from hsi_attn.run.self_training import _better_round

    model = nn.Linear(2, 2)

    def records(*scores: tuple[float, float]) -> History:
        return History({"epoch": i + 1, "val_oa": oa, "val_loss": loss, "is_best": int(i == 0)}
                       for i, (oa, loss) in enumerate(scores))

    first = _better_round(None, 0, records((0.8, 0.5), (0.9, 0.1)), model)
    assert first is not None and first["round"] == 0 and first["score"] == [0.8, -0.5]
    worse = _better_round(first, 1, records((0.7, 0.2)), model)
    assert worse is first  # a round whose kept epoch is worse does not replace it
    tie = _better_round(first, 1, records((0.8, 0.5)), model)
    assert tie is first  # ties go to the earlier round
    better = _better_round(first, 2, records((0.8, 0.4)), model)
    assert better is not None and better["round"] == 2  # same OA, lower loss
    assert better["weights"].keys() == model.state_dict().keys()


class _WorseAfterRound0(Callback):
    """Scores every self-training round's epochs as useless, before BestModel sees them."""

    order = 5  # before BestModel (10)

    def __init__(self) -> None:
        self.fits = 0

    def on_train_begin(self, state) -> None:  # type: ignore[no-untyped-def]
        self.fits += 1

    def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if self.fits > 1:
            state.history[-1]["val_oa"] = 0.0


def test_an_earlier_kept_round_is_what_the_run_directory_predicts_with(tmp_path: Path) -> None:
    from hsi_attn.run import evaluate_run

    out = tmp_path / "run"
    result = train_run(tiny_config(**_self_training(pseudo_label_pool="scene")), out,
                       scene=tiny_scene(), callbacks=[_WorseAfterRound0()])
    assert result.metrics["self_training"]["kept_round"] == 0
    assert result.metrics["best_epoch"] <= 2  # an epoch of round 0
    plain = train_run(tiny_config(), tmp_path / "plain", scene=tiny_scene())
    np.testing.assert_array_equal(result.prediction, plain.prediction)
    # The checkpoint holds the kept round's weights (the plain run's), not the last round's.
    kept = load_checkpoint(out / "checkpoint.pt")["model"]
    for name, tensor in load_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"].items():
        assert torch.equal(kept[name], tensor), name
    again = evaluate_run(out, scene=tiny_scene())
    assert again["oa"] == result.metrics["test"]["oa"]
    assert again["per_class"] == result.metrics["test"]["per_class"]


class _CtrlCIn(Callback):
    """Raises KeyboardInterrupt in the second epoch of the given round, as Ctrl-C would."""

    def __init__(self, round_: int) -> None:
        self.round, self.fits = round_, 0

    def on_train_begin(self, state) -> None:  # type: ignore[no-untyped-def]
        self.fits += 1

    def on_batch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if self.fits == self.round + 1 and state.epoch == 2 and state.batch == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("cut_round", [0, 1])
def test_an_interrupted_self_training_run_resumes_to_the_same_result(
        self_trained: Path, tmp_path: Path, cut_round: int) -> None:
    config = tiny_config(**_self_training(pseudo_label_pool="scene"))
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_run(config, out, scene=tiny_scene(), callbacks=[_CtrlCIn(cut_round)])
    stored = load_checkpoint(out / "checkpoint.pt")["extra"]["self_training"]
    assert stored["round"] == cut_round
    result = train_run(config, out, scene=tiny_scene(), resume=True)
    full = History.from_csv(self_trained / "history.csv")
    for key in ("epoch", "round", "pseudo_labels", "train_loss", "val_oa", "lr"):
        assert result.history.column(key) == full.column(key), key
    np.testing.assert_array_equal(result.prediction, np.load(self_trained / "prediction.npy"))


def test_self_training_options_without_rounds_are_reported_as_ignored() -> None:
    with pytest.warns(IgnoredSettingWarning,
                      match="pseudo_label_threshold.*self_training_rounds is 0"):
        TrainConfig(pseudo_label_threshold=0.8)
    with pytest.raises(ValueError, match="pseudo_label_threshold"):
        TrainConfig(self_training_rounds=1, pseudo_label_threshold=1.0)
    assert dataclasses.replace(TrainConfig(), self_training_rounds=1).self_training_rounds == 1
