"""Behaviour of PatchExtractor: coordinates in, the right patches out, the cube never
copied by clone, and scikit-learn's errors on bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from hsi_attn.sklearn.patch_extractor import PatchExtractor

H, W, B = 12, 10, 4


@pytest.fixture
def cube() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(H, W, B)).astype(np.float32)


def _coords() -> np.ndarray:
    rows, cols = np.indices((H, W))
    return np.stack([rows.ravel(), cols.ravel()], axis=1)


@pytest.mark.parametrize("pad_mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("patch_size", [1, 3, 5])
def test_patches_match_numpy_padding(cube: np.ndarray, patch_size: int, pad_mode: str) -> None:
    coords = _coords()
    patches = PatchExtractor(cube, patch_size, pad_mode=pad_mode).fit(coords).transform(coords)
    g = patch_size // 2
    padded = np.pad(cube, ((g, g), (g, g), (0, 0)), mode=pad_mode)
    expected = np.stack(
        [padded[r : r + patch_size, c : c + patch_size].transpose(2, 0, 1) for r, c in coords]
    )
    assert patches.shape == (len(coords), B, patch_size, patch_size)
    assert patches.dtype == np.float32
    np.testing.assert_array_equal(patches, expected)
    np.testing.assert_array_equal(patches[:, :, g, g], cube[coords[:, 0], coords[:, 1]])


def test_flatten_gives_rows_of_the_patch_layout(cube: np.ndarray) -> None:
    coords = _coords()[:7]
    patches = PatchExtractor(cube, 3).fit(coords).transform(coords)
    flat = PatchExtractor(cube, 3, flatten=True).fit(coords).transform(coords)
    np.testing.assert_array_equal(flat, patches.reshape(7, -1))


def test_clone_shares_the_cube_and_drops_fitted_state(cube: np.ndarray) -> None:
    extractor = PatchExtractor(cube, 3).fit(_coords())
    twin = clone(extractor)
    assert twin.cube is cube
    assert twin.get_params() == {**extractor.get_params(), "cube": cube}
    with pytest.raises(NotFittedError):
        twin.transform(_coords())
    pipe = clone(make_pipeline(extractor, FunctionTransformer()))
    assert pipe[0].cube is cube


def test_grid_search_never_copies_the_cube(cube: np.ndarray) -> None:
    coords = _coords()
    labels = (coords[:, 1] >= W // 2).astype(int)
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(PatchExtractor(cube, 1, flatten=True), LogisticRegression())
    search = GridSearchCV(pipe, {"patchextractor__patch_size": [1, 3]}, cv=2).fit(coords, labels)
    assert search.best_estimator_[0].cube is cube


def test_the_cube_is_never_written(cube: np.ndarray) -> None:
    before = cube.copy()
    extractor = PatchExtractor(cube, 1).fit(_coords())
    patches = extractor.transform(_coords())
    patches += 100.0
    np.testing.assert_array_equal(cube, before)
    spectra = before.reshape(-1, B)[:, :, None, None]
    np.testing.assert_array_equal(extractor.transform(_coords()), spectra)


def test_pickle_omits_the_padded_copy_and_rebuilds_it(cube: np.ndarray) -> None:
    big = np.random.default_rng(1).normal(size=(64, 64, 8)).astype(np.float32)
    coords = np.array([[0, 0], [63, 63], [10, 20]])
    extractor = PatchExtractor(big, 9).fit(coords)
    payload = pickle.dumps(extractor)
    assert len(payload) < 1.2 * big.nbytes  # the padded cube would add about 1.3x more
    restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored.transform(coords), extractor.transform(coords))
    unfitted = pickle.loads(pickle.dumps(PatchExtractor(cube, 3)))
    assert not hasattr(unfitted, "sampler_")


def test_coordinates_in_other_containers(cube: np.ndarray) -> None:
    coords = _coords()[:5]
    expected = PatchExtractor(cube, 3).fit(coords).transform(coords)
    frame = pd.DataFrame(coords, columns=["row", "col"])
    from_frame = PatchExtractor(cube, 3).fit(frame)
    np.testing.assert_array_equal(from_frame.transform(frame), expected)
    np.testing.assert_array_equal(from_frame.feature_names_in_, ["row", "col"])
    as_float = PatchExtractor(cube, 3).fit(coords.astype(float))
    np.testing.assert_array_equal(as_float.transform(coords.tolist()), expected)


def test_bad_input_and_parameters_raise(cube: np.ndarray) -> None:
    coords = _coords()
    with pytest.raises(NotFittedError):
        PatchExtractor(cube, 3).transform(coords)
    extractor = PatchExtractor(cube, 3).fit(coords)
    with pytest.raises(ValueError, match="outside"):
        extractor.transform(np.array([[H, 0]]))
    with pytest.raises(ValueError, match="outside"):
        PatchExtractor(cube, 3).fit(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="non-integer"):
        extractor.transform(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="X has 3 features, but PatchExtractor is expecting 2"):
        extractor.transform(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        PatchExtractor(cube, 3).fit(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="NaN|infinity"):
        extractor.transform(np.array([[np.nan, 1.0]]))
    bad = PatchExtractor(cube, 4)  # stored unchanged, rejected in fit
    assert bad.patch_size == 4
    with pytest.raises(ValueError, match="odd"):
        bad.fit(coords)
    with pytest.raises(ValueError, match="3-D"):
        PatchExtractor(cube[:, :, 0], 3).fit(coords)
    with pytest.raises(ValueError, match="pad_mode"):
        PatchExtractor(cube, 3, pad_mode="wrap").fit(coords)
    holey = cube.copy()
    holey[2, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PatchExtractor(holey, 3).fit(coords)


def test_set_params_then_fit_uses_the_new_patch_size(cube: np.ndarray) -> None:
    extractor = PatchExtractor(cube, 3).fit(_coords())
    assert extractor.set_params(patch_size=5).fit(_coords()).transform(_coords()[:2]).shape == (
        2, B, 5, 5,
    )


@pytest.mark.parametrize(
    "check", [check_get_params_invariance, check_set_params, check_no_attributes_set_in_init]
)
def test_generic_sklearn_checks(cube: np.ndarray, check) -> None:  # noqa: ANN001
    # The data-driven checks feed random float features, not pixel coordinates, so only
    # the parameter-handling checks apply to this transformer.
    check("PatchExtractor", PatchExtractor(cube, 3))
