"""A user's own cubes: every supported format, and clear errors for bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hsi_attn.data import DataFileError, Scene, load_cube, load_labels, load_user_scene


@pytest.fixture
def user(data_fixtures: Path) -> Path:
    return data_fixtures / "user"


@pytest.mark.parametrize(
    "name", ["cube.npy", "cube.mat", "cube_v73.mat", "cube.hdr", "cube.img", "scene.npz"]
)
def test_load_cube_every_format(user: Path, name: str) -> None:
    cube = load_cube(user / name)
    expected = np.load(user / "expected_cube.npy")
    assert cube.shape == (7, 6, 5)
    assert cube.dtype == np.float32
    assert np.array_equal(cube, expected)


@pytest.mark.parametrize("name", ["labels.npy", "labels.hdr", "scene.npz", "cube.mat"])
def test_load_labels_every_format(user: Path, name: str) -> None:
    labels = load_labels(user / name)
    assert labels.dtype == np.int64
    assert np.array_equal(labels, np.load(user / "expected_labels.npy"))


def test_mat_with_several_cubes_needs_variable(user: Path) -> None:
    with pytest.raises(ValueError, match=r"several arrays.*raw.*smoothed.*variable="):
        load_cube(user / "two_cubes.mat")
    raw = load_cube(user / "two_cubes.mat", variable="raw")
    smoothed = load_cube(user / "two_cubes.mat", variable="smoothed")
    assert np.allclose(smoothed, raw * 0.5)
    with pytest.raises(DataFileError, match=r"no array named 'nope'.*'raw'.*'smoothed'"):
        load_cube(user / "two_cubes.mat", variable="nope")


def test_user_scene_is_a_scene(user: Path) -> None:
    scene = load_user_scene(user / "cube.hdr", user / "labels.npy", class_names=["a", "b", "c"])
    assert isinstance(scene, Scene)
    assert scene.name == "cube"
    assert scene.n_bands == 5 and scene.n_classes == 3
    assert scene.gt.dtype == np.int64
    unlabelled = load_user_scene(user / "cube.npy")
    assert unlabelled.n_classes == 0 and not unlabelled.gt.any()


def test_two_dimensional_cube_errors(user: Path) -> None:
    with pytest.raises(ValueError, match=r"2 dims.*must be 3-D \(H, W, B\)"):
        load_cube(user / "cube_2d.npy")
    with pytest.raises(ValueError, match=r"must be 3-D"):
        Scene.from_arrays(np.zeros((4, 5)), np.zeros((4, 5), dtype=int))


def test_negative_labels_are_rejected(user: Path) -> None:
    with pytest.raises(ValueError, match=r"negative labels \[-1\].*labels\[labels < 0\] = 0"):
        load_labels(user / "labels_negative.npy")


def test_mismatched_cube_and_gt(user: Path) -> None:
    with pytest.raises(ValueError, match=r"7x6 \(H x W\).*5x5.*same pixels"):
        load_user_scene(user / "cube.npy", user / "labels_small.npy")
    with pytest.raises(ValueError, match=r"7x6 \(H x W\) but gt is 5x5"):
        Scene(name="x", cube=np.zeros((7, 6, 5)), gt=np.zeros((5, 5), dtype=int),
              class_names=(), rgb_bands=(0, 1, 2))


def test_scene_validates_labels_and_bands() -> None:
    cube = np.zeros((3, 3, 4), dtype=np.float32)
    gt = np.array([[0, 1, 2], [2, 1, 0], [0, 0, 3]])
    with pytest.raises(ValueError, match=r"label 3 but only 2 class names"):
        Scene(name="x", cube=cube, gt=gt, class_names=("a", "b"), rgb_bands=(0, 1, 2))
    with pytest.raises(ValueError, match=r"rgb_bands \(0, 1, 9\)"):
        Scene(name="x", cube=cube, gt=gt, class_names=("a", "b", "c"), rgb_bands=(0, 1, 9))
    scene = Scene.from_arrays(cube, gt.astype(np.float64))
    assert scene.class_names == ("class_1", "class_2", "class_3")
    assert scene.gt.dtype == np.int64
    assert scene.labelled_coords().shape == (5, 2)
    with pytest.raises(ValueError, match="non-integer"):
        Scene.from_arrays(cube, gt + 0.5)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    odd = tmp_path / "cube.jpg"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"unsupported cube file type '.jpg'.*ENVI.*GeoTIFF"):
        load_cube(odd)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cube(tmp_path / "absent.npy")
