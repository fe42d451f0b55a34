"""partial_fit as Optuna uses it: one epoch per call, a score per epoch, pruning."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from hsi_attn.sklearn.estimator import HSIClassifier

NAMES = np.array(["corn", "grass", "woods"])


def _patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 10, 3, 3)).astype(np.float32)
    x += 2.0 * y[:, None, None, None] * np.linspace(-1, 1, 10)[None, :, None, None]
    return x, NAMES[y]


def _tiny(**params: object) -> HSIClassifier:
    base = dict(attention="se_band", epochs=1, batch_size=16, device="cpu", random_state=0)
    base.update(params)
    return HSIClassifier(**base)  # type: ignore[arg-type]


def test_objective_reports_every_epoch_and_gets_pruned() -> None:
    x, y = _patches(90, seed=0)
    xv, yv = _patches(60, seed=1)
    epochs = 4

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-6, 3e-2, log=True)
        clf = _tiny(lr=lr, reduction=trial.suggest_categorical("reduction", [2, 8]))
        for epoch in range(epochs):
            clf.partial_fit(x, y, classes=NAMES)
            assert clf.n_iter_ == epoch + 1
            trial.report(clf.score(xv, yv), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return clf.score(xv, yv)

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    )
    study.enqueue_trial({"lr": 1e-2, "reduction": 2})  # learns
    study.enqueue_trial({"lr": 1e-6, "reduction": 2})  # barely learns: pruned early
    study.optimize(objective, n_trials=2)
    good, hopeless = study.trials
    assert good.state == optuna.trial.TrialState.COMPLETE and good.value > 0.8
    assert sorted(good.intermediate_values) == list(range(epochs))
    assert hopeless.state == optuna.trial.TrialState.PRUNED
    assert len(hopeless.intermediate_values) < epochs


def test_optuna_search_cv_prunes_through_partial_fit() -> None:
    integration = pytest.importorskip("optuna_integration", reason="needs optuna-integration")
    x, y = _patches(90, seed=0)
    search = integration.OptunaSearchCV(
        _tiny(),
        {"lr": optuna.distributions.FloatDistribution(1e-6, 3e-2, log=True)},
        cv=2, n_trials=3, max_iter=3, enable_pruning=True, random_state=0,
        study=optuna.create_study(direction="maximize"),
    )
    search.fit(x, y)
    assert all(len(t.intermediate_values) >= 1 for t in search.study_.trials)
    assert search.best_estimator_.predict(x).dtype == y.dtype
