"""Behaviour of the training loop: learning, seeding, resume, callbacks, stopping."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from hsi_attn.config import TrainConfig
from hsi_attn.data import PatchSource
from hsi_attn.engine import (
    BestModel,
    Callback,
    EarlyStopping,
    History,
    StopTraining,
    fit,
    load_checkpoint,
    seed_everything,
    selection_callbacks,
)

N_BANDS, PATCH, N_CLASSES = 6, 3, 3


class TinyNet(nn.Module):
    """Smallest 3D-CNN with dropout (so resume must restore the torch RNG too)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 8, kernel_size=(3, 3, 3))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(8, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x)).mean(dim=(2, 3, 4))
        return self.head(self.drop(h))


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randn(n, 1, N_BANDS, PATCH, PATCH, generator=g) + 2.0 * y.view(-1, 1, 1, 1, 1).float()
    return x, y


def _sources() -> tuple[PatchSource, PatchSource]:
    x, y = _data(96, seed=1)
    xv, yv = _data(30, seed=2)
    return (
        PatchSource.from_tensors(x, y, batch_size=16, shuffle=True),
        PatchSource.from_tensors(xv, yv, batch_size=64),
    )


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(epochs=4, batch_size=16, lr=0.02, device="cpu", seed=3)
    return dataclasses.replace(base, **changes)


def _train(config: TrainConfig, **kwargs: object) -> tuple[TinyNet, History]:
    seed_everything(config.seed)
    model = TinyNet()
    train, val = _sources()
    history = fit(model, train, config=config, val_data=val, **kwargs)
    return model, history


def test_fit_learns_and_records_history() -> None:
    _, history = _train(_config(epochs=6))
    assert [r["epoch"] for r in history] == list(range(1, 7))
    for key in ("train_loss", "train_acc", "val_loss", "val_oa", "lr", "seconds"):
        assert all(isinstance(r[key], float) and math.isfinite(r[key]) for r in history), key
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_oa"] > 0.6


def test_same_seed_same_history_and_other_seed_differs() -> None:
    _, first = _train(_config())
    _, second = _train(_config())
    _, other = _train(_config(seed=4))
    assert first.column("train_loss") == second.column("train_loss")
    assert first.column("val_loss") == second.column("val_loss")
    assert first.column("train_loss") != other.column("train_loss")


class _InterruptAt(Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if state.epoch == self.epoch and state.batch == self.batch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_resume_after_ctrl_c_equals_uninterrupted_run(tmp_path: Path, scheduler: str) -> None:
    config = _config(epochs=5, scheduler=scheduler)
    full_model, full = _train(config, checkpoint_path=tmp_path / "full.pt",
                              callbacks=[BestModel()])
    path = tmp_path / "cut.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(config, checkpoint_path=path, callbacks=[BestModel(), _InterruptAt(3, 2)])
    assert load_checkpoint(path)["epoch"] == 2  # last completed epoch is on disk
    resumed_model, resumed = _train(config, checkpoint_path=path, resume=True,
                                    callbacks=[BestModel()])
    for key in ("train_loss", "train_acc", "val_loss", "val_oa", "lr", "is_best"):
        assert resumed.column(key) == full.column(key), key
    for name, tensor in full_model.state_dict().items():
        assert torch.equal(tensor, resumed_model.state_dict()[name]), name
    final = load_checkpoint(path)
    assert final["finished"] is True and final["epoch"] == 5


def test_resume_interrupted_in_first_epoch(tmp_path: Path) -> None:
    config = _config(epochs=2)
    _, full = _train(config)
    path = tmp_path / "cut.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(config, checkpoint_path=path, callbacks=[_InterruptAt(1, 1)])
    assert load_checkpoint(path)["epoch"] == 0
    _, resumed = _train(config, checkpoint_path=path, resume=True)
    assert resumed.column("train_loss") == full.column("train_loss")


def test_resume_with_changed_settings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(_config(), checkpoint_path=path, callbacks=[_InterruptAt(2, 1)])
    with pytest.raises(ValueError, match=r"lr: 0.02 -> 0.5"):
        _train(_config(lr=0.5), checkpoint_path=path, resume=True)


def test_resume_of_finished_run_returns_its_history(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    model, history = _train(_config(epochs=2), checkpoint_path=path)
    again_model, again = _train(_config(epochs=2), checkpoint_path=path, resume=True)
    assert again.column("train_loss") == history.column("train_loss")
    assert torch.equal(again_model.head.weight, model.head.weight)


class _Pruned(Exception):
    pass


class _PruneAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.ended: bool | None = None

    def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if state.epoch == self.epoch:
            raise _Pruned(f"pruned at {state.epoch}")

    def on_train_end(self, state) -> None:  # type: ignore[no-untyped-def]
        self.ended = state.completed


def test_callback_exception_propagates_after_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    pruner = _PruneAt(2)
    with pytest.raises(_Pruned, match="pruned at 2"):
        _train(_config(), checkpoint_path=path, callbacks=[pruner])
    saved = load_checkpoint(path)
    assert saved["epoch"] == 2 and saved["finished"] is False
    assert len(saved["history"]) == 2
    assert pruner.ended is False  # on_train_end still ran, told training did not complete


class _StopAt(Callback):
    def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if state.epoch == 2:
            raise StopTraining("enough")


def test_stop_training_signal_ends_after_the_epoch() -> None:
    _, history = _train(_config(epochs=6), callbacks=[_StopAt()])
    assert len(history) == 2


def test_early_stopping_uses_validation_and_patience() -> None:
    # lr=0 means nothing improves after epoch 1, so patience 2 stops at epoch 3.
    _, history = _train(_config(epochs=10, lr=1e-12, scheduler="none"),
                        callbacks=[EarlyStopping(patience=2), BestModel()])
    assert len(history) == 3
    assert history.column("is_best") == [1, 0, 0]


def test_best_model_restores_best_weights() -> None:
    class Snapshot(Callback):
        order = 15  # after BestModel marks the record

        def __init__(self) -> None:
            self.weights: dict[int, torch.Tensor] = {}

        def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
            self.weights[state.epoch] = state.model.head.weight.detach().clone()

    snap = Snapshot()
    model, history = _train(_config(epochs=5, lr=0.2), callbacks=[BestModel(), snap])
    best = history.best("val_oa")
    assert best is not None
    ties = [r for r in history if r["val_oa"] == best["val_oa"]]
    chosen = min(ties, key=lambda r: (r["val_loss"], r["epoch"]))
    assert torch.equal(model.head.weight, snap.weights[chosen["epoch"]])


def test_selection_callbacks_keep_the_best_and_stop_on_patience() -> None:
    assert [type(cb) for cb in selection_callbacks(None)] == [BestModel]
    built = selection_callbacks(2)
    assert [type(cb) for cb in built] == [BestModel, EarlyStopping]
    assert built[1].patience == 2 and built[0].restore
    with pytest.raises(ValueError, match="patience must be >= 1"):
        selection_callbacks(0)
    # The same selection as assembling the two callbacks by hand, epoch for epoch.
    config = _config(epochs=10, lr=1e-12, scheduler="none")
    _, by_hand = _train(config, callbacks=[BestModel(), EarlyStopping(patience=2)])
    _, assembled = _train(config, callbacks=selection_callbacks(2))
    for key in ("train_loss", "val_loss", "val_oa", "is_best"):
        assert assembled.column(key) == by_hand.column(key), key
    assert len(assembled) == 3


def test_selection_without_restore_leaves_the_last_weights() -> None:
    class LastWeights(Callback):
        def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
            self.weights = state.model.head.weight.detach().clone()

    last = LastWeights()
    model, history = _train(_config(epochs=4, lr=0.2),
                            callbacks=[*selection_callbacks(None, restore_best=False), last])
    assert "is_best" in history[0]
    assert torch.equal(model.head.weight, last.weights)


def test_class_weights_and_options_run() -> None:
    config = _config(epochs=1, class_weights=True, label_smoothing=0.1, optimizer="sgd",
                     scheduler="step", grad_clip=None)
    _, history = _train(config)
    assert len(history) == 1 and math.isfinite(history[0]["train_loss"])


def test_bad_settings_raise_clear_errors() -> None:
    # The configuration refuses bad values when it is built, before any training.
    with pytest.raises(ValueError, match=r"optimizer \(--optimizer\) must be one of adamw.*'adamx'"):
        _config(optimizer="adamx")
    with pytest.raises(ValueError, match=r"epochs \(--epochs\) must be an integer >= 1, got 0"):
        _config(epochs=0)
    with pytest.raises(ValueError, match="'fp16' needs a CUDA or MPS"):
        _train(_config(precision="fp16"))


def test_non_finite_loss_is_reported() -> None:
    with pytest.raises(ValueError, match="loss became"):
        _train(_config(lr=1e30, grad_clip=None, scheduler="none", optimizer="sgd", epochs=3))


def test_bf16_autocast_on_cpu_trains() -> None:
    _, history = _train(_config(epochs=1, precision="bf16"))
    assert math.isfinite(history[0]["train_loss"])


def test_history_csv_round_trip(tmp_path: Path) -> None:
    _, history = _train(_config(epochs=2), callbacks=[BestModel()])
    path = history.to_csv(tmp_path / "history.csv")
    back = History.from_csv(path)
    assert back == list(history)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_cuda_training_and_resume(tmp_path: Path, precision: str) -> None:
    config = _config(epochs=3, device="cuda", precision=precision)
    model, history = _train(config, checkpoint_path=tmp_path / "run.pt")
    assert next(model.parameters()).device.type == "cuda"
    assert all(math.isfinite(r["train_loss"]) for r in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    _, again = _train(config, checkpoint_path=tmp_path / "run.pt", resume=True)
    assert again.column("train_loss") == history.column("train_loss")


def test_progress_bar_shows_loss_and_validation_accuracy() -> None:
    import io

    from hsi_attn.engine import ProgressBar

    stream = io.StringIO()
    _train(_config(epochs=2), callbacks=[ProgressBar(enabled=True, stream=stream)])
    text = stream.getvalue()
    assert "loss=" in text and "val_oa=" in text and "2/2" in text
    silent = io.StringIO()
    _train(_config(epochs=1), callbacks=[ProgressBar(enabled=False, stream=silent)])
    assert silent.getvalue() == ""
