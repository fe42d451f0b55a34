"""End to end: a pruned study writes every output; two workers share one journal storage."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from hsi_attn import __version__
from hsi_attn.tuning import PruningCallback, run_study
from hsi_attn.tuning.recovery import WorkerIdentity

from test_tune_fixtures import tiny_base, tiny_scene

OUTPUTS = ("best_params.json", "trials.csv", "optimization_history.png", "param_importances.png",
           "reduction_kernel_size.png", "intermediate_values.png")


class _FakeTrial:
    def __init__(self, prune_at: int | None) -> None:
        self.prune_at = prune_at
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.reports[-1][1] == self.prune_at


def _state(history: list[dict], epochs: int = 5, stop: bool = False) -> SimpleNamespace:
    return SimpleNamespace(history=history, config=SimpleNamespace(epochs=epochs),
                           stop_training=stop)


def test_pruning_callback_reports_each_epoch_and_raises_when_told() -> None:
    trial = _FakeTrial(prune_at=2)
    callback = PruningCallback(trial)  # type: ignore[arg-type]
    history: list[dict] = [{"epoch": 1, "val_oa": 0.5}]
    callback.on_epoch_end(_state(history))  # type: ignore[arg-type]
    history.append({"epoch": 2, "val_oa": 0.25})
    with pytest.raises(optuna.TrialPruned, match="epoch 2"):
        callback.on_epoch_end(_state(history))  # type: ignore[arg-type]
    assert trial.reports == [(0.5, 1), (0.25, 2)]


@pytest.mark.parametrize(("epochs", "stop"), [(2, False), (5, True)])
def test_the_last_epoch_is_reported_but_never_pruned(epochs: int, stop: bool) -> None:
    trial = _FakeTrial(prune_at=2)
    history = [{"epoch": 1, "val_oa": 0.5}, {"epoch": 2, "val_oa": 0.25}]
    PruningCallback(trial).on_epoch_end(  # type: ignore[arg-type]
        _state(history, epochs=epochs, stop=stop))  # type: ignore[arg-type]
    assert trial.reports == [(0.25, 2)]


def test_pruning_callback_needs_validation_data() -> None:
    with pytest.raises(ValueError, match="no 'val_oa'.*validation data"):
        PruningCallback(_FakeTrial(None)).on_epoch_end(  # type: ignore[arg-type]
            _state([{"epoch": 1, "train_loss": 1.0}]))  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def test_four_trial_study_with_pruning_writes_all_outputs(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/study.db"
    # Two good learning rates first, then a far too small one the median pruner must stop.
    seeded = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    for lr in (5e-3, 8e-3, 1e-4):
        seeded.enqueue_trial({"attention": "eca_band", "kernel_size": 3, "lr": lr,
                              "weight_decay": 1e-4})
    result = run_study(
        tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=3), study_name="tiny",
        attentions=["eca_band", "se_band"], n_trials=4, pruner="median", sampler="tpe",
        command="pytest four-trial study",
    )
    for name in OUTPUTS:
        assert (tmp_path / name).stat().st_size > 0, name
    study = optuna.load_study(study_name="tiny", storage=storage)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 4
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 4
    pruned = study.trials[2]
    assert pruned.state == TrialState.PRUNED
    assert max(pruned.intermediate_values) < 3  # stopped before the last epoch
    assert list(study.trials[0].intermediate_values) == [1, 2, 3]  # one report per epoch

    best = json.loads((tmp_path / "best_params.json").read_text())
    assert best["best_trial"] == study.best_trial.number == result.best_trial
    assert best["best_params"] == study.best_trial.params
    assert best["validation_oa"] == pytest.approx(study.best_value)
    assert 0.0 <= best["test_oa"] <= 1.0 and best["test_oa"] == result.test_oa
    assert best["retrain"]["run_dir"].endswith("best_run")
    assert best["command"] == "pytest four-trial study"
    assert best["hsi_attn_version"] == __version__
    assert best["device"] == "cpu"
    assert best["config"]["model"]["attention"] == study.best_trial.params["attention"]
    assert best["config"]["train"]["lr"] == pytest.approx(study.best_trial.params["lr"])
    assert all(status == "written" for status in best["plots"].values())
    # The retrain's own run directory holds the single test evaluation.
    metrics = json.loads((tmp_path / "best_run" / "metrics.json").read_text())
    assert metrics["test"]["oa"] == pytest.approx(best["test_oa"])

    header = [line for line in (tmp_path / "trials.csv").read_text().splitlines()
              if line.startswith("#")]
    assert any(line.startswith("# command: pytest four-trial study") for line in header)
    assert any(line.startswith(f"# hsi_attn_version: {__version__}") for line in header)
    rows = _rows(tmp_path / "trials.csv")
    assert [r["state"] for r in rows] == [t.state.name for t in study.trials]
    assert rows[2]["params_lr"] == "0.0001"
    eca_rows = [r for r in rows if r["params_attention"] == "eca_band"]
    assert all(r["params_reduction"] == "" for r in eca_rows)  # never sampled for ECA

    # Same command again: nothing left to run, the retrain is reused, outputs rewritten.
    again = run_study(
        tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=3), study_name="tiny",
        attentions=["eca_band", "se_band"], n_trials=4, pruner="median",
    )
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 4
    assert again.test_oa == result.test_oa


def test_plots_are_skipped_with_a_reason_when_there_is_too_little_to_show(tmp_path: Path) -> None:
    run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=1), n_trials=1,
              pruner="none", retrain=False)
    best = json.loads((tmp_path / "best_params.json").read_text())
    assert best["plots"]["param_importances.png"].startswith("skipped: needs >= 2 completed")
    assert best["plots"]["optimization_history.png"] == "written"
    assert best["test_oa"] is None and best["retrain"] is None
    assert not (tmp_path / "param_importances.png").exists()
    # written atomically with the usual permissions, not a temporary file's private 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "optimization_history.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_two_workers_share_one_journal_study(tmp_path: Path) -> None:
    result = run_study(
        tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=2), study_name="pair",
        attentions=["eca_band", "se_band"], n_trials=6, pruner="none", sampler="random",
        workers=2, retrain=False,
    )
    assert (tmp_path / "journal.log").is_file() and not (tmp_path / "study.db").exists()
    assert result.storage == f"journal:{tmp_path / 'journal.log'}"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log")))
    trials = optuna.load_study(study_name="pair", storage=storage).trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials)))  # none duplicated, none missing
    assert all(t.state == TrialState.COMPLETE for t in trials)  # nothing lost mid-way
    # The budget is shared: 6 trials, at most one extra when both finish at once.
    assert 6 <= len(trials) <= 7
    owners = {WorkerIdentity.decode(t.user_attrs["worker"]).pid for t in trials}
    assert len(owners) == 2  # both processes worked on the study
    assert len({t.params["lr"] for t in trials}) == len(trials)  # no duplicated evaluation
    rows = _rows(tmp_path / "trials.csv")
    assert [int(r["number"]) for r in rows] == numbers


def test_trials_never_gather_a_test_pixel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from hsi_attn.data import patches, splits

    gathered: list[np.ndarray] = []
    original = patches.PatchSampler.gather

    def spy(self: patches.PatchSampler, coords: np.ndarray, **options):  # type: ignore[no-untyped-def]
        gathered.append(np.asarray(coords).copy())
        return original(self, coords, **options)

    monkeypatch.setattr(patches.PatchSampler, "gather", spy)
    base = tiny_base(epochs=1)
    run_study(tiny_scene(), study_dir=tmp_path, base_config=base, n_trials=2, pruner="none",
              retrain=False)
    split = splits.split_random(tiny_scene().gt, base.data.train_size,
                                val_size=base.data.val_size, seed=base.train.seed)
    seen = {tuple(c) for batch in gathered for c in batch}
    train, val = {tuple(c) for c in split.train}, {tuple(c) for c in split.val}
    assert val <= seen <= train | val  # every validation pixel, training pixels, nothing else
    assert not seen & {tuple(c) for c in split.test}


def test_timeout_stops_starting_trials_and_hyperband_runs(tmp_path: Path) -> None:
    result = run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=2),
                       n_trials=5, timeout=0.01, pruner="hyperband", sampler="random",
                       retrain=False)
    # optimize checks the clock between trials: the first one runs, then the time is up.
    assert result.counts["COMPLETE"] + result.counts["PRUNED"] == 1
    assert (tmp_path / "best_params.json").is_file()
