"""Broken user files give one-line errors that name the file, the fault and the fix."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat
from user_rasters import random_cube, write_envi, write_geotiff

from hsi_attn.data import DataFileError, load_cube, load_labels, open_cube

LOADERS: dict[str, Callable[[Path], object]] = {
    "open_cube": lambda path: open_cube(path).close(),
    "load_cube": load_cube,
}


def _assert_one_line_error(call: Callable[[], object], error: type[Exception], path: Path,
                           pattern: str) -> None:
    with pytest.raises(error, match=pattern) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message


@pytest.fixture(params=sorted(LOADERS))
def loader(request: pytest.FixtureRequest) -> Callable[[Path], object]:
    return LOADERS[request.param]


def test_envi_header_without_its_data_file(tmp_path: Path, loader: Callable) -> None:
    header = write_envi(tmp_path / "cube.hdr", random_cube())
    (tmp_path / "cube.img").unlink()
    _assert_one_line_error(lambda: loader(header), FileNotFoundError, header,
                           r"data file of ENVI header .* is missing.*Copy the data file")


def test_garbage_envi_header(tmp_path: Path, loader: Callable) -> None:
    header = tmp_path / "cube.hdr"
    header.write_bytes(np.random.default_rng(1).bytes(300))
    (tmp_path / "cube.img").write_bytes(b"\0" * 64)
    _assert_one_line_error(lambda: loader(header), DataFileError, header,
                           r"not a readable ENVI header.*first line is 'ENVI'")


def test_envi_header_missing_a_mandatory_field(tmp_path: Path, loader: Callable) -> None:
    header = tmp_path / "cube.hdr"
    header.write_text("ENVI\nsamples = 3\nbands = 2\ndata type = 4\n", encoding="utf-8")
    (tmp_path / "cube.img").write_bytes(b"\0" * 64)
    _assert_one_line_error(lambda: loader(header), DataFileError, header,
                           r"cannot be used.*lines.*must give samples, lines")


def test_envi_data_file_shorter_than_its_header(tmp_path: Path, loader: Callable) -> None:
    write_envi(tmp_path / "cube.hdr", random_cube(shape=(8, 6, 4)))
    data = tmp_path / "cube.img"
    data.write_bytes(data.read_bytes()[:100])
    _assert_one_line_error(lambda: loader(tmp_path / "cube.hdr"), DataFileError, data,
                           r"holds 100 bytes.*8 lines x 6 samples x 4 bands of float32 "
                           r"\(768 bytes\).*truncated")


def test_empty_mat_file(tmp_path: Path, loader: Callable) -> None:
    path = tmp_path / "cube.mat"
    path.write_bytes(b"")
    _assert_one_line_error(lambda: loader(path), DataFileError, path,
                           r"MATLAB \.mat file .* is empty \(0 bytes\).*save it again")


def test_truncated_mat_file(tmp_path: Path, loader: Callable) -> None:
    path = tmp_path / "cube.mat"
    savemat(path, {"cube": random_cube()})
    path.write_bytes(path.read_bytes()[:400])
    _assert_one_line_error(lambda: loader(path), DataFileError, path,
                           r"cannot read MATLAB \.mat file.*damaged, truncated")


def test_wrong_variable_name_lists_the_names(tmp_path: Path) -> None:
    mat = tmp_path / "cube.mat"
    savemat(mat, {"raw": random_cube(), "gt": np.ones((24, 20))})
    npz = tmp_path / "cube.npz"
    np.savez(npz, raw=random_cube())
    for path in (mat, npz):
        for call in (lambda p=path: open_cube(p, "reflectance"),
                     lambda p=path: load_cube(p, "reflectance")):
            _assert_one_line_error(call, DataFileError, path,
                                   r"no array named 'reflectance'; it holds .*'raw' "
                                   r"\(24, 20, 6\).*--cube-variable")
    _assert_one_line_error(lambda: load_labels(mat, "labels"), DataFileError, mat,
                           r"no array named 'labels'.*'gt' \(24, 20\).*--gt-variable")


def test_random_bytes_npy(tmp_path: Path, loader: Callable) -> None:
    path = tmp_path / "cube.npy"
    path.write_bytes(os.urandom(500))
    _assert_one_line_error(lambda: loader(path), DataFileError, path,
                           r"not a NumPy \.npy file.*numpy\.save")


def test_truncated_npy(tmp_path: Path, loader: Callable) -> None:
    path = tmp_path / "cube.npy"
    np.save(path, random_cube())
    path.write_bytes(path.read_bytes()[:1000])
    _assert_one_line_error(lambda: loader(path), DataFileError, path,
                           r"cannot read NumPy \.npy file.*truncated")


def test_corrupt_geotiff(tmp_path: Path, loader: Callable) -> None:
    path = tmp_path / "cube.tif"
    path.write_bytes(np.random.default_rng(2).bytes(400))
    _assert_one_line_error(lambda: loader(path), DataFileError, path,
                           r"cannot read GeoTIFF file.*gdal_translate")


def test_truncated_geotiff_fails_when_read(tmp_path: Path) -> None:
    path = write_geotiff(tmp_path / "cube.tif", random_cube(shape=(64, 64, 4)))
    path.write_bytes(path.read_bytes()[:-20000])
    _assert_one_line_error(lambda: load_cube(path), DataFileError, path,
                           r"GeoTIFF file.*(damaged|empty)")


def test_labels_share_the_errors(tmp_path: Path) -> None:
    path = tmp_path / "gt.npy"
    path.write_bytes(os.urandom(100))
    _assert_one_line_error(lambda: load_labels(path), DataFileError, path, r"not a NumPy")
    missing = tmp_path / "absent.tif"
    with pytest.raises(FileNotFoundError, match=r"labels file .*absent\.tif.* does not exist"):
        load_labels(missing)
