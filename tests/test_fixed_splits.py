"""Fixed splits from the literature: the carve, the real maps, the run that uses them."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.data import ChecksumError, get_manifest
from hsi_attn.data.fixed_splits import fixed_split_names, load_fixed_split
from hsi_attn.data.splits import SplitWarning, split_fixed
from hsi_attn.run import train_run

REAL_ROOT = os.environ.get("HSI_ATTN_DATA", "")
"""Read before any test fixture removes the variable (isolated_data_env)."""

needs_real_data = pytest.mark.skipif(
    not os.environ.get("HSI_ATTN_DATA"),
    reason="the fixed split maps are found through HSI_ATTN_DATA (set by .ci/run)",
)


def _maps(seed: int, shape: tuple[int, int], classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    which = rng.integers(0, 3, size=shape)  # 0 none, 1 train, 2 test
    labels = rng.integers(1, classes + 1, size=shape)
    return np.where(which == 1, labels, 0), np.where(which == 2, labels, 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), height=st.integers(3, 20), width=st.integers(3, 20),
       classes=st.integers(1, 4), val_size=st.sampled_from([0, 0.1, 0.3, 1, 2]))
def test_the_carve_keeps_every_training_pixel_and_never_touches_the_test_map(
    seed: int, height: int, width: int, classes: int, val_size: float | int
) -> None:
    train_gt, test_gt = _maps(seed, (height, width), classes)
    if not (train_gt > 0).any() or not (test_gt > 0).any():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SplitWarning)
        split = split_fixed(train_gt, test_gt, val_size=val_size, seed=seed, patch_size=3)
        again = split_fixed(train_gt, test_gt, val_size=val_size, seed=seed, patch_size=3)
    train, val, test = (set(map(tuple, getattr(split, s).tolist())) for s in ("train", "val",
                                                                              "test"))
    assert train | val == set(map(tuple, np.argwhere(train_gt > 0).tolist()))
    assert not train & val
    assert test == set(map(tuple, np.argwhere(test_gt > 0).tolist()))
    assert np.array_equal(split.val, again.val)
    for label in np.unique(train_gt[train_gt > 0]):
        kept = train_gt[split.train[:, 0], split.train[:, 1]]
        assert (kept == label).any(), "every class keeps a training pixel"
    if val_size == 0:
        assert len(split.val) == 0


def test_overlapping_maps_are_not_a_split() -> None:
    train_gt = np.zeros((4, 4), dtype=int)
    test_gt = np.zeros((4, 4), dtype=int)
    train_gt[0, :2] = 1
    test_gt[0, 1:3] = 1
    with pytest.raises(ValueError, match="in both the training and the test map"):
        split_fixed(train_gt, test_gt, val_size=0, seed=0)


def test_split_setting_accepts_fixed_names_and_rejects_others() -> None:
    assert DataConfig(split="Fixed:hong2021").split == "fixed:hong2021"
    with pytest.raises(ValueError, match="did you mean 'fixed'"):
        DataConfig(split="fixd")
    with pytest.raises(ValueError, match="fixed:NAME"):
        DataConfig(split="fixed:")


def test_a_scene_without_fixed_split_says_which_scenes_have_one() -> None:
    with pytest.raises(ValueError) as error:
        load_fixed_split("salinas")
    message = str(error.value)
    assert "\n" not in message
    assert "no fixed split" in message and "indian_pines (hong2021)" in message
    with pytest.raises(ValueError, match=r"has no fixed split 'gcn'; it has \['hong2021'\]"):
        load_fixed_split("indian_pines", "gcn")


def test_manifests_list_the_two_literature_splits() -> None:
    assert fixed_split_names("indian_pines") == ["hong2021"]
    assert fixed_split_names("pavia_university") == ["grss"]
    hong = get_manifest("indian_pines").fixed_splits["hong2021"]
    assert hong.class_map is not None and hong.class_map[14] == 1  # map class 14 is Alfalfa
    assert [entry["oa"] for entry in hong.published] == [81.76]


@needs_real_data
def test_indian_pines_fixed_split_has_the_published_pixel_counts(
    indian_pines: object,
) -> None:
    fixed = load_fixed_split("indian_pines")
    assert int((fixed.train_gt > 0).sum()) == 695
    assert int((fixed.test_gt > 0).sum()) == 9671
    counts = np.bincount(fixed.train_gt.ravel(), minlength=17)[1:]
    names = get_manifest("indian_pines").class_names
    small = {names[k] for k in np.flatnonzero(counts == 15)}
    assert small == {"Alfalfa", "Grass-pasture-mowed", "Oats"}
    assert set(counts.tolist()) == {15, 50}
    gt = indian_pines.gt  # type: ignore[attr-defined]
    both = (fixed.labels > 0) & (gt > 0)
    assert (fixed.labels[both] == gt[both]).mean() > 0.99, "classes translated to the scene's"


@needs_real_data
def test_pavia_university_fixed_split_counts() -> None:
    fixed = load_fixed_split("pavia_university")
    counts = np.bincount(fixed.train_gt.ravel(), minlength=10)[1:]
    assert counts.tolist() == [548, 540, 392, 524, 265, 532, 375, 514, 231]
    assert int((fixed.test_gt > 0).sum()) == 40002


@needs_real_data
def test_a_corrupted_map_is_refused_by_checksum(tmp_path: Path,
                                               isolated_data_env: Path) -> None:
    real = Path(REAL_ROOT) / "indian_pines" / "splits"
    target = tmp_path / "indian_pines" / "splits"
    target.mkdir(parents=True)
    for path in real.iterdir():
        shutil.copy(path, target / path.name)
    data = bytearray((target / "IndianTR123_temp123.tif").read_bytes())
    data[-1] ^= 0xFF
    (target / "IndianTR123_temp123.tif").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="IndianTR123_temp123.tif"):
        load_fixed_split("indian_pines", root=tmp_path)


@needs_real_data
def test_missing_maps_say_where_to_put_them(tmp_path: Path, isolated_data_env: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--download"):
        load_fixed_split("indian_pines", root=tmp_path)


@needs_real_data
def test_train_with_fixed_split_uses_exactly_the_protocols_pixels(tmp_path: Path) -> None:
    config = RunConfig(
        data=DataConfig(scene="indian_pines", split="fixed", pca=8),
        model=ModelConfig(name="hamida3d", attention="none", patch_size=5),
        train=TrainConfig(epochs=1, batch_size=64, device="cpu", seed=0),
    )
    result = train_run(config, tmp_path / "run", command="test")
    metrics = json.loads((result.out_dir / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] == 695
    assert metrics["n_val"] > 0
    assert metrics["n_test"] == 9671
    protocol = metrics["protocol"]
    assert protocol["split"] == "fixed" and protocol["name"] == "hong2021"
    assert protocol["published"][0]["oa"] == 81.76
    assert 0.0 < protocol["leakage"]["train->test"] <= 1.0
    assert int(np.sum(metrics["test"]["confusion"])) == 9671


def test_your_own_cube_has_no_fixed_split(tmp_path: Path) -> None:
    from hsi_attn.run.prepare import load_run_scene

    cube = tmp_path / "cube.npy"
    gt = tmp_path / "gt.npy"
    np.save(cube, np.random.default_rng(0).normal(size=(6, 6, 4)).astype(np.float32))
    np.save(gt, np.ones((6, 6), dtype=np.int64))
    config = RunConfig(data=DataConfig(cube_path=str(cube), gt_path=str(gt), split="fixed"))
    with pytest.raises(ValueError, match="your own cube"):
        load_run_scene(config, None, None, False)
