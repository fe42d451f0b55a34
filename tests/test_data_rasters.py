"""open_cube: every format read lazily by windows, with its georeference; nodata_mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.io import savemat
from user_rasters import MAP_INFO, TRANSFORM, WKT_33N, random_cube, write_envi, write_geotiff

from hsi_attn.data import RasterCube, load_cube, nodata_mask, open_cube

CUBE = random_cube(seed=3)


@pytest.fixture(params=["bsq", "bil", "bip", "tif", "npy", "mat", "npz"])
def cube_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    kind = request.param
    if kind in ("bsq", "bil", "bip"):
        return write_envi(tmp_path / f"cube_{kind}.hdr", CUBE, interleave=kind)
    if kind == "tif":
        return write_geotiff(tmp_path / "cube.tif", CUBE)
    if kind == "npy":
        np.save(tmp_path / "cube.npy", CUBE)
        return tmp_path / "cube.npy"
    if kind == "mat":
        savemat(tmp_path / "cube.mat", {"cube": CUBE})
        return tmp_path / "cube.mat"
    np.savez(tmp_path / "cube.npz", cube=CUBE)
    return tmp_path / "cube.npz"


def test_every_format_reads_the_same_windows(cube_file: Path) -> None:
    with open_cube(cube_file) as cube:
        assert isinstance(cube, RasterCube)
        assert cube.shape == (24, 20, 6) and cube.ndim == 3
        assert cube.dtype == np.float32
        assert cube.path == cube_file
        window = cube.read(slice(3, 11), slice(5, 9))
        assert window.shape == (8, 4, 6) and window.dtype == np.float32
        assert np.array_equal(window, CUBE[3:11, 5:9])
        assert np.array_equal(cube[3:11, 5:9], CUBE[3:11, 5:9])
        assert np.array_equal(cube[3:11, 5:9, :], CUBE[3:11, 5:9, :])
        assert np.array_equal(cube[::-5, 2:17:4, 1:3], CUBE[::-5, 2:17:4, 1:3])
        assert np.array_equal(cube[-1, 4], CUBE[-1, 4])
        assert np.array_equal(cube[7, :, 2], CUBE[7, :, 2])
        assert cube[30:40, 0:3].shape == (0, 3, 6)
        assert np.array_equal(np.asarray(cube), CUBE)
    with pytest.raises(ValueError, match="closed"):
        cube.read()
    assert np.array_equal(load_cube(cube_file), CUBE)


@settings(max_examples=25, deadline=None)
@given(rows=st.tuples(st.integers(-30, 30), st.integers(-30, 30), st.sampled_from([1, 2, -1, -3])),
       cols=st.tuples(st.integers(-25, 25), st.integers(-25, 25), st.sampled_from([1, 3, -2])))
def test_geotiff_windows_match_numpy_slicing(tmp_path_factory: pytest.TempPathFactory,
                                             rows: tuple[int, int, int],
                                             cols: tuple[int, int, int]) -> None:
    path = tmp_path_factory.getbasetemp() / "windows.tif"
    if not path.exists():
        write_geotiff(path, CUBE)
    with open_cube(path) as cube:
        assert np.array_equal(cube[slice(*rows), slice(*cols)], CUBE[slice(*rows), slice(*cols)])


def test_envi_georeference_and_bands(tmp_path: Path) -> None:
    header = write_envi(tmp_path / "cube.hdr", CUBE, nodata=-9999.0,
                        wavelengths=[400.5 + 10 * k for k in range(6)],
                        band_names=[f"B{k}" for k in range(6)])
    with open_cube(tmp_path / "cube.img") as cube:  # the data file finds its header
        georef = cube.georef
        assert cube.band_names == tuple(f"B{k}" for k in range(6))
    assert georef.envi_map_info == MAP_INFO
    assert georef.envi_coordinate_system == WKT_33N
    assert georef.crs_wkt == WKT_33N
    assert georef.transform == TRANSFORM
    assert georef.wavelengths == tuple(400.5 + 10 * k for k in range(6))
    assert georef.wavelength_units == "Nanometers"
    assert georef.nodata == -9999.0


def test_geotiff_georeference(tmp_path: Path) -> None:
    import rasterio

    path = write_geotiff(tmp_path / "cube.tif", CUBE, nodata=-1.0,
                         band_names=[f"B{k}" for k in range(6)])
    with open_cube(path) as cube:
        georef = cube.georef
        assert cube.band_names == tuple(f"B{k}" for k in range(6))
    assert georef.transform == TRANSFORM
    assert rasterio.crs.CRS.from_wkt(georef.crs_wkt).to_epsg() == 32633
    assert georef.nodata == -1.0
    plain = write_geotiff(tmp_path / "plain.tif", CUBE, crs=None)
    with open_cube(plain) as cube:
        assert not cube.georef.is_georeferenced and cube.band_names is None


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.float64])
def test_envi_keeps_the_stored_data_type(tmp_path: Path, dtype: type) -> None:
    data = random_cube(seed=4, dtype=dtype)
    header = write_envi(tmp_path / "cube.hdr", data, interleave="bil")
    with open_cube(header) as cube:
        assert cube.dtype == np.dtype(dtype)
        assert np.array_equal(cube[1:4, 2:5], data[1:4, 2:5])


def test_big_endian_envi_reads_at_native_order(tmp_path: Path) -> None:
    header = write_envi(tmp_path / "cube.hdr", CUBE.astype(">f4"))
    with open_cube(header) as cube:
        window = cube[0:3, 0:3]
    assert window.dtype == np.float32 and window.dtype.isnative
    assert np.array_equal(window, CUBE[0:3, 0:3])


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", ["npy", "envi"])
def test_a_read_maps_the_file_only_while_it_reads(tmp_path: Path, kind: str) -> None:
    # A map held open would keep every page read resident: a flight line's worth.
    if kind == "npy":
        path = tmp_path / "cube.npy"
        np.save(path, CUBE)
        data_file = path
    else:
        path = write_envi(tmp_path / "cube.hdr", CUBE)
        data_file = path.with_suffix(".img")
    with open_cube(path) as cube:
        window = cube[3:9, 2:5]
        assert np.array_equal(window, CUBE[3:9, 2:5])
        assert str(data_file.resolve()) not in Path("/proc/self/maps").read_text()


def test_non_cube_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", CUBE[:, :, 0])
    with pytest.raises(ValueError, match=r"2 dims.*must be 3-D"):
        open_cube(tmp_path / "flat.npy")


def test_index_errors_are_clear(tmp_path: Path) -> None:
    np.save(tmp_path / "cube.npy", CUBE)
    with open_cube(tmp_path / "cube.npy") as cube:
        with pytest.raises(IndexError, match="row 24 is out of range"):
            cube[24, 0]
        with pytest.raises(IndexError, match=r"\[rows, cols\]"):
            cube[0, 0, 0, 0]


def test_nodata_mask() -> None:
    tile = np.ones((3, 4, 5), dtype=np.float32)
    tile[0, 0] = -9999.0
    tile[0, 1, 2] = -9999.0            # one band at the value: still data
    tile[1, 1] = 0.0                   # an all-zero spectrum
    tile[1, 2, 3] = 0.0                # one zero band: still data
    tile[2, 3, 4] = np.nan             # any NaN
    expected = np.zeros((3, 4), dtype=bool)
    expected[0, 0] = expected[1, 1] = expected[2, 3] = True
    assert np.array_equal(nodata_mask(tile, -9999.0), expected)
    expected[0, 0] = False
    assert np.array_equal(nodata_mask(tile, None), expected)
    ints = np.full((2, 2, 3), 7, dtype=np.uint16)
    ints[1, 0] = 65535
    assert nodata_mask(ints, 65535).tolist() == [[False, False], [True, False]]
    assert nodata_mask(ints, float("nan")).sum() == 0
    with pytest.raises(ValueError, match=r"\(h, w, B\) tile"):
        nodata_mask(np.zeros((2, 2)), None)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_big_endian_envi_reads_the_same_values(tmp_path: Path, interleave: str) -> None:
    from spectral.io import envi

    values = np.random.default_rng(0).integers(-500, 500, (7, 5, 4)).astype(np.int16)
    header = tmp_path / f"be_{interleave}.hdr"
    envi.save_image(str(header), values, dtype=np.int16, byteorder=1, interleave=interleave)
    with open_cube(header) as cube:
        assert cube.dtype == np.dtype(np.int16)
        assert np.array_equal(cube[:, :], values)
        assert np.array_equal(cube[2:6, 1:4], values[2:6, 1:4])
