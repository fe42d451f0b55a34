"""Splits: stratification, disjointness, reproducibility, leakage, CV folds, bad sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsi_attn.data import Scene, leakage, leakage_report
from hsi_attn.data.splits import (
    SpatialKFold,
    Split,
    SplitWarning,
    split_disjoint,
    split_from_masks,
    split_random,
)

PROPERTY = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def expected_count(size: float | int, n: int) -> int:
    return size if isinstance(size, int) else max(1, int(np.floor(size * n + 0.5)))


def as_set(coords: np.ndarray) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in coords}


@st.composite
def label_maps(draw: st.DrawFn) -> np.ndarray:
    """Random per-pixel labels: 1..K with holes of 0."""
    height = draw(st.integers(6, 24))
    width = draw(st.integers(6, 24))
    classes = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    gt = rng.integers(1, classes + 1, size=(height, width))
    gt[rng.random((height, width)) < 0.3] = 0
    return gt


@st.composite
def field_maps(draw: st.DrawFn) -> np.ndarray:
    """Fields: rectangles of one class on a grid, separated by unlabelled roads."""
    rows = draw(st.integers(2, 3))
    cols = draw(st.integers(2, 3))
    side = draw(st.integers(14, 30))
    classes = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    owners = np.concatenate([np.arange(1, classes + 1),
                             rng.integers(1, classes + 1, size=rows * cols - classes)])
    owners = rng.permutation(owners) if len(owners) == rows * cols else owners[: rows * cols]
    gt = np.zeros((rows * side, cols * side), dtype=np.int64)
    for index, owner in enumerate(owners):
        r, c = divmod(index, cols)
        gt[r * side:(r + 1) * side - 2, c * side:(c + 1) * side - 2] = owner
    return gt


def check_partition(split: Split, gt: np.ndarray) -> None:
    sets = [as_set(split.train), as_set(split.val), as_set(split.test)]
    assert sum(len(s) for s in sets) == len(split.train) + len(split.val) + len(split.test)
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    for coords in (split.train, split.val, split.test):
        assert coords.dtype == np.int64 and coords.shape[1] == 2
        assert (gt[coords[:, 0], coords[:, 1]] > 0).all()


# -- random ----------------------------------------------------------------------------


@PROPERTY
@given(gt=label_maps(), train=st.one_of(st.floats(0.05, 0.6), st.integers(1, 4)),
       val=st.sampled_from([0.0, 0.1, 1]), seed=st.integers(0, 1000))
def test_random_split_properties(gt: np.ndarray, train: float | int, val: float | int,
                                 seed: int) -> None:
    counts = {int(c): int((gt == c).sum()) for c in np.unique(gt[gt > 0])}
    feasible = all(expected_count(train, n) + expected_count(val, n) < n
                   if val else expected_count(train, n) < n for n in counts.values())
    if not feasible:
        with pytest.raises(ValueError, match=r"class \d+ has \d+ usable pixels"):
            split_random(gt, train, val_size=val, seed=seed)
        return
    split = split_random(gt, train, val_size=val, seed=seed)
    check_partition(split, gt)
    assert as_set(np.concatenate([split.train, split.val, split.test])) == as_set(
        np.argwhere(gt > 0))
    per_class = split.class_counts(gt)
    for label, n in counts.items():
        assert per_class["train"][label - 1] == expected_count(train, n)
        assert per_class["val"][label - 1] == (expected_count(val, n) if val else 0)
        assert per_class["test"][label - 1] >= 1
    again = split_random(gt, train, val_size=val, seed=seed)
    for name in ("train", "val", "test"):
        assert np.array_equal(getattr(split, name), getattr(again, name))
    assert leakage(split.train, split.test, 1, shape=gt.shape) == 0.0


def test_random_split_masks_and_labels() -> None:
    gt = np.array([[1, 1, 1, 0], [2, 2, 2, 2], [1, 0, 2, 1]])
    split = split_random(gt, 1, seed=3)
    train_gt, val_gt, test_gt = split.masks(gt)
    assert np.array_equal(train_gt + val_gt + test_gt, gt)
    assert not val_gt.any()
    assert sorted(split.labels(gt, "train").tolist()) == [1, 2]
    train_mask, _, test_mask = split.masks()
    assert train_mask.dtype == bool and train_mask.sum() == 2 and test_mask.sum() == 8


def test_random_split_leaks_on_indian_pines(indian_pines: Scene) -> None:
    split = split_random(indian_pines.gt, 0.1, seed=0)
    assert len(split.train) == sum(max(1, int(np.floor(0.1 * n + 0.5)))
                                   for n in indian_pines.class_counts())
    value = leakage(split.train, split.test, 9, shape=indian_pines.shape)
    assert 0.5 < value <= 1.0
    assert leakage(split.train, split.test, 1, shape=indian_pines.shape) == 0.0


# -- disjoint --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_fields() -> np.ndarray:
    gt = np.zeros((120, 120), dtype=np.int64)
    gt[:58, :58], gt[:58, 62:], gt[62:, :58], gt[62:, 62:] = 1, 2, 3, 1
    gt[70:80, 70:110] = 4
    return gt


@pytest.mark.parametrize("patch_size", range(1, 28, 2))
def test_disjoint_split_has_zero_leakage(four_fields: np.ndarray, patch_size: int) -> None:
    split = split_disjoint(four_fields, 0.1, patch_size=patch_size, seed=patch_size,
                           val_size=0.05)
    check_partition(split, four_fields)
    assert set(leakage_report(split, patch_size).values()) == {0.0}
    counts = split.class_counts(four_fields)
    for label in range(1, 5):
        n = int((four_fields == label).sum())
        assert counts["train"][label - 1] == expected_count(0.1, n)
        assert counts["val"][label - 1] == expected_count(0.05, n)
        assert counts["test"][label - 1] > 0
    assert split.info["guard"] == patch_size // 2


@pytest.mark.filterwarnings("ignore::hsi_attn.data.splits.SplitWarning")
@PROPERTY
@given(gt=field_maps(), patch_size=st.sampled_from(list(range(1, 28, 2))),
       train=st.floats(0.05, 0.3), val=st.sampled_from([0.0, 0.05]), seed=st.integers(0, 99))
def test_disjoint_split_properties(gt: np.ndarray, patch_size: int, train: float, val: float,
                                   seed: int) -> None:
    try:
        split = split_disjoint(gt, train, patch_size=patch_size, seed=seed, val_size=val)
    except ValueError as error:
        assert "guard band" in str(error) and "patch_size" in str(error)
        return
    check_partition(split, gt)
    assert set(leakage_report(split, patch_size).values()) == {0.0}
    counts = split.class_counts(gt)
    for label in np.unique(gt[gt > 0]):
        n = int((gt == label).sum())
        assert counts["train"][label - 1] == expected_count(train, n)
        assert counts["test"][label - 1] > 0
        if val and label not in split.info["classes_without_val"]:
            assert counts["val"][label - 1] == expected_count(val, n)
    again = split_disjoint(gt, train, patch_size=patch_size, seed=seed, val_size=val)
    assert np.array_equal(split.train, again.train) and np.array_equal(split.test, again.test)


def test_a_fixed_guard_gives_every_patch_size_the_same_split(four_fields: np.ndarray) -> None:
    reference = split_disjoint(four_fields, 0.1, patch_size=11, seed=3, val_size=0.05)
    for patch_size in (1, 3, 7, 11):
        split = split_disjoint(four_fields, 0.1, patch_size=patch_size, seed=3, val_size=0.05,
                               guard=5)
        for subset in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(split, subset), getattr(reference, subset))
        assert split.info["guard"] == 5 and split.info["patch_size"] == patch_size
        assert set(leakage_report(split, 11).values()) == {0.0}
    wider = split_disjoint(four_fields, 0.1, patch_size=3, seed=3, guard=8)
    assert set(leakage_report(wider, 17).values()) == {0.0}
    with pytest.raises(ValueError, match=r"guard=2 is narrower.*patch_size=7.*guard >= 3"):
        split_disjoint(four_fields, 0.1, patch_size=7, seed=3, guard=2)


def test_disjoint_split_on_indian_pines(indian_pines: Scene) -> None:
    split = split_disjoint(indian_pines.gt, 0.1, patch_size=9, seed=0)
    assert leakage(split.train, split.test, 9, shape=indian_pines.shape) == 0.0
    counts = split.class_counts(indian_pines.gt)
    assert (counts["train"] >= 1).all() and (counts["test"] >= 1).all()
    assert split.info["guard_dropped"] > 0


def test_disjoint_split_reports_an_impossible_class() -> None:
    gt = np.zeros((30, 30), dtype=np.int64)
    gt[:, :20] = 1
    gt[10:13, 25:28] = 2  # a 3x3 field cannot hold a training and a test pixel 6 apart
    with pytest.raises(ValueError, match=r"class 2 .*guard band.*smaller patch_size"):
        split_disjoint(gt, 0.2, patch_size=13, seed=0)


def test_disjoint_split_leaves_a_too_small_class_out_of_validation_only() -> None:
    gt = np.zeros((40, 40), dtype=np.int64)
    gt[:, :25] = 1
    gt[5:15, 32:34] = 2  # a 10x2 strip: room for train and test 5 apart, not for val too
    with pytest.warns(SplitWarning, match=r"classes \[2\].*no validation pixels"):
        split = split_disjoint(gt, 0.1, patch_size=9, seed=0, val_size=0.1)
    assert split.info["classes_without_val"] == [2]
    counts = split.class_counts(gt)
    assert counts["train"].tolist()[1] == 2 and counts["test"][1] > 0 and counts["val"][1] == 0
    assert counts["val"][0] == expected_count(0.1, int((gt == 1).sum()))
    assert set(leakage_report(split, 9).values()) == {0.0}


# -- user masks -----------------------------------------------------------------------


def test_split_from_masks() -> None:
    train = np.array([[1, 0], [0, 2]])
    test = np.array([[0, 1], [2, 0]])
    split = split_from_masks(train, test)
    assert as_set(split.train) == {(0, 0), (1, 1)} and as_set(split.test) == {(0, 1), (1, 0)}
    assert split.method == "masks" and len(split.val) == 0
    with pytest.raises(ValueError, match=r"both train_gt and test_gt"):
        split_from_masks(train, train)
    with pytest.raises(ValueError, match=r"test_gt has shape \(3, 2\)"):
        split_from_masks(train, np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="negative"):
        split_from_masks(train, -test)


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (0, r"must be >= 1"),
        (0.0, r"must lie in \(0, 1\)"),
        (1.0, r"For 1% write 0.01"),
        (10.0, r"For 10% write 0.1; for 10 pixels per class pass the int 10"),
        (1.5, r"must lie in \(0, 1\)"),
        (-3, r"must be >= 1"),
        (True, r"got bool"),
        ("0.1", r"got str"),
    ],
)
def test_bad_train_size(size: object, message: str) -> None:
    gt = np.ones((5, 5), dtype=np.int64)
    with pytest.raises(ValueError, match=message):
        split_random(gt, size, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        split_disjoint(gt, size, patch_size=1, seed=0)  # type: ignore[arg-type]


def test_too_small_class_is_named() -> None:
    gt = np.ones((10, 10), dtype=np.int64)
    gt[0, :3] = 2
    with pytest.raises(ValueError, match=r"class 2 has 3 usable pixels.*5 training"):
        split_random(gt, 5, seed=0)
    with pytest.raises(ValueError, match=r"class 2 has 3 usable pixels"):
        split_random(gt, 0.5, val_size=0.3, seed=0)
    split = split_random(gt, 0.01, seed=0)  # documented minimum: one training pixel
    assert split.class_counts(gt)["train"].tolist() == [1, 1]


@pytest.mark.parametrize("patch_size", [0, 2, 8, -1, 3.0])
def test_bad_patch_size(patch_size: object) -> None:
    gt = np.ones((8, 8), dtype=np.int64)
    with pytest.raises(ValueError, match="patch_size must be an odd integer >= 1"):
        split_disjoint(gt, 0.1, patch_size=patch_size, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patch_size must be an odd integer >= 1"):
        leakage(np.zeros((1, 2), dtype=int), np.ones((1, 2), dtype=int), patch_size)  # type: ignore[arg-type]


def test_gt_with_negative_labels_or_no_labels() -> None:
    with pytest.raises(ValueError, match=r"negative labels \[-1\]"):
        split_random(np.array([[1, -1], [1, 1]]), 1, seed=0)
    with pytest.raises(ValueError, match="no labelled pixels"):
        split_random(np.zeros((3, 3), dtype=int), 0.5, seed=0)


# -- leakage and CV --------------------------------------------------------------------


def test_leakage_counts_chebyshev_neighbours() -> None:
    train = np.array([[5, 5]])
    test = np.array([[5, 7], [8, 8], [2, 5], [9, 9]])
    assert leakage(train, test, 5, shape=(12, 12)) == 0.25  # only (5, 7) is within 2
    assert leakage(train, test, 7, shape=(12, 12)) == 0.75  # then (8, 8) and (2, 5)
    assert leakage(train, test, 1, shape=(12, 12)) == 0.0
    train_mask = np.zeros((12, 12), dtype=bool)
    train_mask[5, 5] = True
    test_labels = np.zeros((12, 12), dtype=np.int64)
    test_labels[test[:, 0], test[:, 1]] = 3
    assert leakage(train_mask, test_labels, 7) == 0.75
    assert leakage(train, np.zeros((0, 2), dtype=int), 3, shape=(12, 12)) == 0.0


def test_spatial_kfold_folds_are_disjoint(four_fields: np.ndarray) -> None:
    coords = np.argwhere(four_fields > 0)
    cv = SpatialKFold(4, patch_size=7, random_state=0)
    assert cv.get_n_splits() == 4 and "SpatialKFold(n_splits=4" in repr(cv)
    tested = np.zeros(len(coords), dtype=int)
    for train, test in cv.split(coords):
        tested[test] += 1
        assert len(train) > 0 and not set(train) & set(test)
        assert leakage(coords[train], coords[test], 7, shape=four_fields.shape) == 0.0
    assert (tested == 1).all()
    first = [t.tolist() for _, t in cv.split(coords)]
    assert first == [t.tolist() for _, t in SpatialKFold(4, patch_size=7, random_state=0)
                     .split(coords)]


def test_spatial_kfold_with_cross_val_score(four_fields: np.ndarray) -> None:
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    coords = np.argwhere(four_fields > 0)[::7]
    labels = four_fields[coords[:, 0], coords[:, 1]]
    scores = cross_val_score(KNeighborsClassifier(1), coords, labels,
                             cv=SpatialKFold(3, patch_size=5, random_state=1))
    assert scores.shape == (3,)
    with pytest.raises(ValueError, match=r"\(n, 2\) \(row, col\)"):
        next(SpatialKFold(3, patch_size=5).split(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="n_splits must be an int >= 2"):
        next(SpatialKFold(1, patch_size=5).split(coords))
