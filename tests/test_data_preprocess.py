"""Preprocessing fitted on training pixels only; NaN/Inf never reach training."""

from __future__ import annotations

import numpy as np
import pytest

from hsi_attn.data import NonFiniteWarning, PatchSampler, Preprocessor, fit_preprocessor


@pytest.fixture
def cube() -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.normal(50.0, 10.0, size=(10, 8, 6)) * np.arange(1, 7)
    data[:, :, 5] = 3.0  # a constant band
    return data.astype(np.float32)


@pytest.fixture
def train() -> np.ndarray:
    return np.array([[0, 0], [1, 3], [2, 5], [4, 4], [6, 1], [9, 7], [8, 2]])


def test_standardisation_uses_training_pixels_only(cube: np.ndarray, train: np.ndarray) -> None:
    fitted = fit_preprocessor(cube, train)
    out = fitted.transform(cube)
    assert out.dtype == np.float32 and out.shape == cube.shape
    spectra = out[train[:, 0], train[:, 1]]
    assert np.allclose(spectra[:, :5].mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(spectra[:, :5].std(axis=0), 1.0, atol=1e-5)
    assert np.allclose(out[:, :, 5], 0.0)  # constant band: scale 1, no division by zero
    changed = cube.copy()
    mask = np.ones(cube.shape[:2], dtype=bool)
    mask[train[:, 0], train[:, 1]] = False
    changed[mask] *= 100.0  # test pixels must not influence the fit
    again = fit_preprocessor(changed, train)
    assert np.array_equal(again.offset, fitted.offset) and np.array_equal(again.scale, fitted.scale)


def test_minmax_maps_training_range_to_unit_interval(cube: np.ndarray, train: np.ndarray) -> None:
    out = fit_preprocessor(cube, train, normalization="minmax").transform(cube)
    spectra = out[train[:, 0], train[:, 1]]
    assert np.allclose(spectra[:, :5].min(axis=0), 0.0)
    assert np.allclose(spectra[:, :5].max(axis=0), 1.0)
    raw = fit_preprocessor(cube, train, normalization="none").transform(cube)
    assert np.array_equal(raw, cube)


def test_pca_fitted_on_training_pixels(cube: np.ndarray, train: np.ndarray) -> None:
    from sklearn.decomposition import PCA

    fitted = fit_preprocessor(cube, train, pca=3, seed=0)
    out = fitted.transform(cube)
    assert out.shape == (10, 8, 3) and fitted.n_bands_out == 3
    normalised = fit_preprocessor(cube, train).transform(cube)
    reference = PCA(3, svd_solver="full").fit(normalised[train[:, 0], train[:, 1]])
    expected = reference.transform(normalised.reshape(-1, 6)).reshape(10, 8, 3)
    assert np.allclose(out, expected, atol=1e-4)


def test_state_dict_round_trip(cube: np.ndarray, train: np.ndarray) -> None:
    for pca in (None, 2):
        fitted = fit_preprocessor(cube, train, pca=pca)
        state = fitted.state_dict()
        assert all(isinstance(v, (str, np.ndarray)) for v in state.values())
        rebuilt = Preprocessor.from_state_dict(state)
        assert np.array_equal(rebuilt.transform(cube), fitted.transform(cube))
    with pytest.raises(ValueError, match="lacks"):
        Preprocessor.from_state_dict({"offset": np.zeros(3)})


def test_nan_is_rejected_by_default(cube: np.ndarray, train: np.ndarray) -> None:
    bad = cube.copy()
    bad[3, 3, 2] = np.nan
    bad[5, 5, 4] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN/Inf values \(in bands \[2, 4\].*nonfinite='mask'"):
        fit_preprocessor(bad, train)
    fitted = fit_preprocessor(cube, train)
    with pytest.raises(ValueError, match="NaN/Inf"):
        fitted.transform(bad)
    with pytest.raises(ValueError, match="NaN or Inf"):
        PatchSampler(bad, 3)


def test_nan_masked_with_a_warning(cube: np.ndarray, train: np.ndarray) -> None:
    bad = cube.copy()
    bad[train[0, 0], train[0, 1], 1] = np.nan  # in a training pixel
    bad[3, 3, 2] = -np.inf
    with pytest.warns(NonFiniteWarning, match="2 NaN/Inf values"):
        fitted = fit_preprocessor(bad, train, nonfinite="mask")
    with pytest.warns(NonFiniteWarning):
        out = fitted.transform(bad)
    assert np.isfinite(out).all()
    assert out[3, 3, 2] == 0.0 and out[train[0, 0], train[0, 1], 1] == 0.0
    PatchSampler(out, 3)  # clean data passes the sampler's check


def test_bad_preprocessing_arguments(cube: np.ndarray, train: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"unknown normalization 'standart'.*'standard'"):
        fit_preprocessor(cube, train, normalization="standart")
    with pytest.raises(ValueError, match=r"pca=7.*\[1, min\(bands=6"):
        fit_preprocessor(cube, train, pca=7)
    with pytest.raises(ValueError, match=r"train_coords must be \(n, 2\)"):
        fit_preprocessor(cube, np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="outside the 10x8 cube"):
        fit_preprocessor(cube, np.array([[10, 0]]))
    with pytest.raises(ValueError, match="fitted on 6"):
        fit_preprocessor(cube, train).transform(cube[:, :, :4])
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        fit_preprocessor(cube, train, nonfinite="ignore")


def test_the_affine_form_maps_spectra_as_transform_does() -> None:
    rng = np.random.default_rng(3)
    cube = rng.normal(loc=900.0, scale=150.0, size=(9, 8, 12))
    coords = np.argwhere(np.ones((9, 8), dtype=bool))
    with_pca = fit_preprocessor(cube, coords, normalization="standard", pca=4, seed=0)
    weights, bias = with_pca.affine()
    spectra = cube.reshape(-1, 12)
    reference = (((spectra - with_pca.offset) / with_pca.scale - with_pca.pca_mean)
                 @ with_pca.pca_components.T)  # the transform's steps, in float64
    np.testing.assert_allclose(spectra @ weights + bias, reference, rtol=0, atol=1e-10)
    np.testing.assert_allclose(spectra @ weights + bias,
                               with_pca.transform(cube).reshape(-1, 4), rtol=0, atol=1e-5)
    assert fit_preprocessor(cube, coords, normalization="standard", pca=None,
                            seed=0).affine() is None
