"""Behaviour of HSIClassifier: inputs, labels, errors, partial_fit, set_params, pickle,
and its place in scikit-learn's model selection (GridSearchCV, cross_val_score, Pipeline).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from hsi_attn.data.splits import SpatialKFold
from hsi_attn.sklearn.estimator import HSIClassifier, holdout_split
from hsi_attn.sklearn.patch_extractor import PatchExtractor


N_BANDS, PATCH = 10, 3  # not 5-7: see the oneDNN note in test_estimator_checks.py
NAMES = np.array(["corn", "grass", "woods"])



def _patches(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable patches ``(n, B, p, p)`` and string labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, N_BANDS, PATCH, PATCH)).astype(np.float32)
    x += 2.0 * y[:, None, None, None] * np.linspace(-1, 1, N_BANDS)[None, :, None, None]
    return x, NAMES[y]


def _tiny(**params: object) -> HSIClassifier:
    base = dict(
        attention="eca_band", epochs=3, batch_size=16, lr=1e-2, device="cpu", random_state=0
    )
    base.update(params)
    return HSIClassifier(**base)  # type: ignore[arg-type]


def _scene(
    size: int = 24, n_bands: int = N_BANDS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic scene: three vertical stripes of classes; returns cube, coords, labels."""
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(3), size // 3 + 1)[:size]
    cube = rng.normal(size=(size, size, n_bands)).astype(np.float32) * 0.5
    cube += 2.0 * label[None, :, None] * np.linspace(-1, 1, n_bands)[None, None, :]
    rows, cols = np.indices((size, size))
    coords = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64)
    return cube, coords, NAMES[label[coords[:, 1]]]


# ------------------------------------------------------------------ labels and layouts


def test_predict_returns_labels_from_classes_and_proba_in_classes_order() -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    np.testing.assert_array_equal(clf.classes_, NAMES)
    predicted = clf.predict(x)
    assert predicted.dtype == y.dtype and set(predicted) <= set(NAMES)
    proba = clf.predict_proba(x)
    assert proba.shape == (len(x), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(x)), proba, rtol=1e-10)
    assert clf.score(x, y) == pytest.approx(np.mean(predicted == y))
    assert clf.score(x, y) >= 0.85
    assert clf.n_features_in_ == N_BANDS * PATCH * PATCH
    assert (clf.n_bands_, clf.patch_size_) == (N_BANDS, PATCH)


def test_proba_is_the_softmax_of_the_network_logits() -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    with torch.no_grad():
        logits = clf.model_(torch.from_numpy(x).unsqueeze(1))
    expected = torch.softmax(logits.double(), dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(x), expected, rtol=1e-5)


def test_tta_averages_the_eight_symmetries_of_each_patch() -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    plain = clf.predict_proba(x)
    clf.set_params(tta=True)  # read at prediction: no refit needed
    averaged = clf.predict_proba(x)
    with torch.no_grad():
        expected = np.mean([
            torch.softmax(clf.model_(torch.from_numpy(np.ascontiguousarray(
                np.rot90(x.swapaxes(2, 3) if k >= 4 else x, k % 4, axes=(2, 3)))).unsqueeze(1))
                .double(), dim=1).numpy()
            for k in range(8)], axis=0)
    np.testing.assert_allclose(averaged, expected, rtol=1e-5)
    assert averaged.shape == plain.shape
    # A patch and its mirror image now get exactly the same probabilities.
    np.testing.assert_allclose(clf.predict_proba(x[..., ::-1].copy()), averaged, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[averaged.argmax(axis=1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(x)), averaged, rtol=1e-10)
    with pytest.raises(ValueError, match="tta"):
        clf.set_params(tta="yes").predict(x)


def test_integer_labels_keep_their_values() -> None:
    x, _ = _patches()
    y = np.array([10, 20, 30])[np.arange(len(x)) % 3]
    clf = _tiny().fit(x, y)
    assert set(clf.predict(x)) <= {10, 20, 30}
    np.testing.assert_array_equal(clf.classes_, [10, 20, 30])


def test_flattened_patches_with_n_bands_train_the_same_network() -> None:
    x, y = _patches()
    patches = _tiny().fit(x, y)
    flat = _tiny(n_bands=N_BANDS).fit(x.reshape(len(x), -1), y)
    assert (flat.n_bands_, flat.patch_size_) == (N_BANDS, PATCH)
    np.testing.assert_allclose(flat.predict_proba(x.reshape(len(x), -1)), patches.predict_proba(x))
    # Either layout is accepted at predict time once the shape is known.
    np.testing.assert_allclose(flat.predict_proba(x), patches.predict_proba(x))
    by_side = _tiny(patch_size=PATCH).fit(x.reshape(len(x), -1), y)
    assert (by_side.n_bands_, by_side.patch_size_) == (N_BANDS, PATCH)


def test_spectra_are_one_pixel_patches() -> None:
    x, y = _patches()
    spectra = x[:, :, 1, 1]
    clf = _tiny().fit(spectra, y)
    assert (clf.n_bands_, clf.patch_size_, clf.n_features_in_) == (N_BANDS, 1, N_BANDS)
    assert clf.score(spectra, y) > 0.8


def test_pandas_and_lists_are_accepted() -> None:
    x, y = _patches()
    spectra = x[:, :, 1, 1]
    frame = pd.DataFrame(spectra, columns=[f"band_{i}" for i in range(N_BANDS)])
    clf = _tiny().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    from_frame = clf.predict_proba(frame)
    from_array = _tiny().fit(spectra, y).predict_proba(spectra)
    np.testing.assert_allclose(from_frame, from_array)
    listed = _tiny().fit(spectra.tolist(), y.tolist())
    np.testing.assert_allclose(listed.predict_proba(spectra.tolist()), from_array)


# ------------------------------------------------------------------ errors


def test_bad_input_gets_scikit_learns_errors() -> None:
    x, y = _patches()
    with pytest.raises(NotFittedError):
        _tiny().predict(x)
    for bad in (np.nan, np.inf):
        broken = x.copy()
        broken[3, 2, 1, 1] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            _tiny().fit(broken, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _tiny().fit(x, np.full(len(x), "corn"))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _tiny().fit(x, y[:-1])
    with pytest.raises(ValueError, match="shape"):
        _tiny().fit(x[:, :, :, 0], y)  # 3-D
    with pytest.raises(ValueError, match="square"):
        _tiny().fit(x[:, :, :, :2], y)
    with pytest.raises(ValueError, match="n_bands"):
        _tiny(n_bands=5).fit(x.reshape(len(x), -1), y)
    with pytest.raises(ValueError, match="patch_size=5"):
        _tiny(patch_size=5).fit(x, y)


def test_predict_rejects_another_feature_count() -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    expected = f"X has {N_BANDS * 9 - 9} features, but HSIClassifier is expecting {N_BANDS * 9}"
    with pytest.raises(ValueError, match=expected):
        clf.predict(x[:, 1:])
    with pytest.raises(ValueError, match="is expecting"):
        clf.predict(x.reshape(len(x), -1)[:, :-1])
    with pytest.raises(ValueError, match="is expecting"):
        clf.predict(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))  # 5x5 patches
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(nan)


def test_bad_parameters_are_reported_in_fit_not_init() -> None:
    x, y = _patches()
    clf = HSIClassifier(model="resnet_3d", epochs=0)  # __init__ only stores
    assert clf.model == "resnet_3d"
    with pytest.raises(ValueError, match="epochs"):
        clf.fit(x, y)
    with pytest.raises(ValueError, match="resnet3d"):  # suggestion of the close match
        _tiny(model="resnet_3d").fit(x, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        _tiny(early_stopping=True, validation_fraction=1.5).fit(x, y)
    with pytest.raises(ValueError, match="optimizer"):
        _tiny(optimizer="lbfgs").fit(x, y)


# ------------------------------------------------------------------ refit, set_params


def _parameter_count(clf: HSIClassifier) -> int:
    return sum(p.numel() for p in clf.model_.parameters())


def test_set_params_then_fit_builds_a_new_model() -> None:
    x, y = _patches()
    clf = _tiny(attention="se_band", reduction=2, epochs=2).fit(x, y)
    first_model, first_count = clf.model_, _parameter_count(clf)
    clf.partial_fit(x, y)
    assert clf.n_iter_ == 3

    clf.set_params(reduction=8).fit(x, y)
    assert clf.model_ is not first_model
    assert clf.model_config_.reduction == 8
    assert _parameter_count(clf) < first_count  # narrower SE bottleneck
    assert clf.n_iter_ == len(clf.history_) == 2  # no history carried over

    clf.set_params(attention="eca_band", kernel_size=3).fit(x, y)
    small = _parameter_count(clf)
    clf.set_params(kernel_size=7).fit(x, y)
    assert _parameter_count(clf) > small
    assert clf.model_config_.attention == "eca_band"

    fresh = clone(clf).fit(x, y)  # the same parameters from scratch give the same model
    np.testing.assert_array_equal(fresh.predict_proba(x), clf.predict_proba(x))


def test_fit_is_reproducible_with_a_seed() -> None:
    x, y = _patches()
    a = _tiny(random_state=3).fit(x, y).predict_proba(x)
    b = _tiny(random_state=3).fit(x, y).predict_proba(x)
    c = _tiny(random_state=4).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ------------------------------------------------------------------ partial_fit


def test_partial_fit_runs_one_epoch_per_call_and_continues() -> None:
    x, y = _patches()
    clf = _tiny(batch_size=30)
    clf.partial_fit(x[:45], y[:45], classes=NAMES)
    assert clf.n_iter_ == 1 and [r["epoch"] for r in clf.history_] == [1]
    steps = [s["step"] for s in clf.optimizer_state_["state"].values()]
    clf.partial_fit(x[45:], y[45:])
    assert [r["epoch"] for r in clf.history_] == [1, 2]
    # The optimiser moments carry over: Adam's step counters keep counting.
    later = [s["step"] for s in clf.optimizer_state_["state"].values()]
    assert [float(b) for b in later] == [float(a) + 2 for a in steps]
    for _ in range(6):
        clf.partial_fit(x, y)
    assert clf.n_iter_ == 8 and clf.score(x, y) > 0.9


def test_partial_fit_classes() -> None:
    x, y = _patches()
    only_two = y != "woods"
    clf = _tiny().partial_fit(x[only_two], y[only_two], classes=NAMES)
    np.testing.assert_array_equal(clf.classes_, NAMES)
    assert clf.predict_proba(x).shape == (len(x), 3)
    clf.partial_fit(x, y)  # the third class arrives later
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(x[:6], np.array(["corn", "rock"] * 3))
    with pytest.raises(ValueError, match="differs"):
        clf.partial_fit(x, y, classes=NAMES[:2])
    inferred = _tiny().partial_fit(x, y)  # classes=None on the first call: np.unique(y)
    np.testing.assert_array_equal(inferred.classes_, NAMES)
    with pytest.raises(ValueError, match="is expecting"):
        inferred.partial_fit(x[:, :2], y)


def test_partial_fit_refuses_changed_architecture() -> None:
    x, y = _patches()
    clf = _tiny(attention="se_band").partial_fit(x, y)
    clf.set_params(lr=1e-3).partial_fit(x, y)  # training settings may change
    clf.set_params(reduction=16)
    with pytest.raises(ValueError, match="reduction 4 -> 16.*fit"):
        clf.partial_fit(x, y)
    clf.fit(x, y)  # fit starts over with the new settings
    assert clf.model_config_.reduction == 16


# ------------------------------------------------------------------ early stopping


def test_holdout_split_keeps_groups_whole() -> None:
    y = np.arange(200) % 4
    groups = np.arange(200) // 10  # 20 blocks
    train, val = holdout_split(y, fraction=0.25, groups=groups, seed=0)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 200
    assert not set(groups[train]) & set(groups[val])
    assert len(set(groups[val])) == 5
    train, val = holdout_split(y, fraction=0.2, seed=0)  # stratified without groups
    assert np.bincount(y[val]).tolist() == [10, 10, 10, 10]
    with pytest.raises(ValueError, match="2 distinct groups"):
        holdout_split(y, fraction=0.2, groups=np.zeros(200), seed=0)


def test_early_stopping_validates_and_warns_without_groups(
    caplog: pytest.LogCaptureFixture,
) -> None:
    x, y = _patches(120)
    with caplog.at_level(logging.WARNING, logger="hsi_attn"):
        clf = _tiny(early_stopping=True, validation_fraction=0.25, epochs=3).fit(x, y)
    assert "optimistic" in caplog.text  # random hold-out of patches: warned
    assert all("val_oa" in r and "is_best" in r for r in clf.history_)
    assert clf.train_config_.patience is not None
    caplog.clear()
    groups = np.arange(len(x)) // 10
    with caplog.at_level(logging.WARNING, logger="hsi_attn"):
        _tiny(early_stopping=True, epochs=2).fit(x, y, groups=groups)
    assert "optimistic" not in caplog.text


def test_early_stopping_keeps_the_best_epochs_weights() -> None:
    x, y = _patches(120)
    y = np.random.default_rng(5).permutation(y)  # noise: validation OA peaks early
    clf = _tiny(early_stopping=True, validation_fraction=0.25, epochs=4, random_state=1)
    clf.fit(x, y)
    # The hold-out is reproducible from the seed; the model scores the best epoch's OA.
    _, val = holdout_split(np.searchsorted(clf.classes_, y), fraction=0.25, seed=clf.seed_)
    best = max(clf.history_.column("val_oa"))
    assert clf.score(x[val], y[val]) == pytest.approx(best)


# ------------------------------------------------------------------ pickling


def test_pickle_and_joblib_round_trip(tmp_path: Path) -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    expected = clf.predict_proba(x)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(x), expected)
    np.testing.assert_array_equal(restored.predict(x), clf.predict(x))
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(x), expected)
    assert clf.model_ is not restored.model_ and hasattr(clf, "model_")  # original intact
    restored.partial_fit(x, y)  # training continues after unpickling
    assert restored.n_iter_ == clf.n_iter_ + 1


def test_unpickling_without_the_training_gpu_moves_to_cpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = _patches()
    clf = _tiny().fit(x, y)
    expected = clf.predict_proba(x)
    clf.device_ = "cuda:0"  # as if trained on a GPU (weights are pickled as CPU tensors)
    clf.precision_ = "fp16"  # in half precision, which the CPU cannot run
    payload = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="hsi_attn"):
        restored = pickle.loads(payload)
    assert restored.device_ == "cpu" and restored.precision_ == "fp32" and "cuda:0" in caplog.text
    assert next(restored.model_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(x), expected)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_trained_estimator_loads_on_a_machine_without_gpu(tmp_path: Path) -> None:
    x, y = _patches()
    clf = _tiny(device="cuda", precision="fp32").fit(x, y)
    assert clf.device_.startswith("cuda")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "proba.npy", clf.predict_proba(x))
    joblib.dump(clf, tmp_path / "clf.joblib")
    script = (
        "import joblib, numpy as np, torch; assert not torch.cuda.is_available(); "
        f"clf = joblib.load(r'{tmp_path / 'clf.joblib'}'); assert clf.device_ == 'cpu'; "
        f"p = clf.predict_proba(np.load(r'{tmp_path / 'x.npy'}')); "
        f"np.testing.assert_allclose(p, np.load(r'{tmp_path / 'proba.npy'}'), atol=1e-4)"
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ model selection


def test_grid_search_over_reduction_and_kernel_size() -> None:
    x, y = _patches(60)
    grid = [
        {"attention": ["se_band"], "reduction": [2, 8]},
        {"attention": ["eca_band"], "kernel_size": [3, "adaptive"]},
    ]
    search = GridSearchCV(_tiny(epochs=2), grid, cv=2).fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_.model_config_
    for key, value in search.best_params_.items():
        assert getattr(best, key) == value


def test_cross_val_score_with_spatial_folds_through_a_pipeline() -> None:
    cube, coords, labels = _scene()
    pipe = make_pipeline(PatchExtractor(cube, patch_size=PATCH), _tiny(epochs=4))
    cv = SpatialKFold(3, patch_size=PATCH, block_size=8, random_state=0)
    scores = cross_val_score(pipe, coords, labels, cv=cv)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    assert scores.mean() > 0.6  # the stripes are separable by spectrum


def test_pipeline_predicts_string_labels_from_coordinates() -> None:
    cube, coords, labels = _scene()
    pipe = make_pipeline(PatchExtractor(cube, patch_size=PATCH), _tiny(epochs=4))
    pipe.fit(coords[::2], labels[::2])
    predicted = pipe.predict(coords[1::2])
    assert set(predicted) <= set(NAMES)
    assert np.mean(predicted == labels[1::2]) > 0.8
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(coords), pipe.predict_proba(coords))


def test_flattened_extractor_output_feeds_the_classifier() -> None:
    cube, coords, labels = _scene()
    pipe = make_pipeline(
        PatchExtractor(cube, patch_size=PATCH, flatten=True), _tiny(n_bands=N_BANDS)
    ).fit(coords, labels)
    assert pipe[-1].patch_size_ == PATCH and pipe[-1].n_features_in_ == N_BANDS * PATCH**2


def test_pipeline_routes_spatial_groups_to_the_early_stopping_holdout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cube, coords, labels = _scene()
    groups = (coords[:, 0] // 8) * 100_000 + coords[:, 1] // 8
    pipe = make_pipeline(
        PatchExtractor(cube, patch_size=PATCH), _tiny(early_stopping=True, epochs=2)
    )
    with caplog.at_level(logging.WARNING, logger="hsi_attn"):
        pipe.fit(coords, labels, hsiclassifier__groups=groups)
    assert "optimistic" not in caplog.text
    assert all("val_oa" in record for record in pipe[-1].history_)
