"""hsi-attn predict on your own cube: GIS-ready maps with your class codes, inputs kept safe.

A tiny run is trained for one epoch; its checkpoint then gets the class codes 10, 20,
30 (as a run trained on a label map with those values records them) and the
wavelengths of its training cube. Cubes are written as GeoTIFF and ENVI with a UTM
CRS (tests/user_rasters.py).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from test_training_run import tiny_config, tiny_scene
from user_rasters import MAP_INFO, TRANSFORM, write_envi, write_geotiff

from hsi_attn.checks import WavelengthMismatchWarning
from hsi_attn.cli import main
from hsi_attn.data.georeference import Georeference
from hsi_attn.engine import load_checkpoint
from hsi_attn.engine.checkpoint import save_checkpoint
from hsi_attn.run import predict_cube, train_run
from hsi_attn.run.predict_paths import InputOverwriteError

CODES = [10, 20, 30]
NAMES = ["asphalt", "grass", "water"]
WAVELENGTHS = [400.0 + 10 * b for b in range(10)]
NODATA = -9999.0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predict") / "run"
    train_run(tiny_config(epochs=1), out, scene=tiny_scene(), command="test")
    payload = load_checkpoint(out / "checkpoint.pt")
    payload["extra"]["class_codes"] = CODES
    payload["extra"]["georef"] = Georeference(wavelengths=tuple(WAVELENGTHS)).to_dict()
    save_checkpoint(out / "checkpoint.pt", payload)
    return out


@pytest.fixture(scope="module")
def cube() -> np.ndarray:
    """The tiny scene's cube with a 2x3 block of nodata."""
    data = tiny_scene().cube.copy()
    data[4:6, 7:10] = NODATA
    return data


def expected_codes(run_dir: Path) -> np.ndarray:
    """The run's own map of its (nodata-free) scene, as class codes."""
    return np.asarray(CODES)[np.load(run_dir / "prediction.npy") - 1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_geotiff_cube_to_a_georeferenced_geotiff_map(run_dir: Path, cube: np.ndarray,
                                                     tmp_path: Path) -> None:
    source = write_geotiff(tmp_path / "cube.tif", cube, nodata=NODATA)
    summary = predict_cube(run_dir, source, tmp_path / "map.tif",
                           probabilities=tmp_path / "p.tif", confidence=tmp_path / "c.tif")
    assert summary.nodata_pixels == 6 and summary.georeferenced
    assert sum(summary.class_counts.values()) == 14 * 14 - 6
    assert set(summary.class_counts) == set(CODES)
    with rasterio.open(source) as src, rasterio.open(tmp_path / "map.tif") as out:
        assert out.crs == src.crs and out.transform == src.transform
        assert out.profile["tiled"] and out.profile["compress"] == "deflate"
        assert out.dtypes[0] == "uint8" and out.nodata == 0
        codes = out.read(1)
        tags = out.tags()
        colormap = out.colormap(1)
    assert json.loads(tags["CLASS_NAMES"]) == NAMES and json.loads(tags["CLASS_CODES"]) == CODES
    assert tags["CLASS_20"] == "grass"
    assert colormap[0][3] == 0 and all(colormap[c][3] == 255 for c in CODES)
    assert (codes[4:6, 7:10] == 0).all()
    valid = np.ones(codes.shape, dtype=bool)
    valid[4:6, 7:10] = False
    assert set(np.unique(codes[valid])) <= set(CODES)
    # Far from the nodata block the map is the run's own map of the scene.
    far = np.ones(codes.shape, dtype=bool)
    far[4 - 2:6 + 2, 7 - 2:10 + 2] = False
    np.testing.assert_array_equal(codes[far], expected_codes(run_dir)[far])
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"

    with rasterio.open(tmp_path / "p.tif") as probs, rasterio.open(tmp_path / "c.tif") as conf:
        assert probs.crs == conf.crs == out.crs and probs.transform == out.transform
        assert probs.descriptions == tuple(NAMES) and probs.scales[0] == pytest.approx(1 / 255)
        levels = probs.read().astype(int)
        mask = probs.read_masks(1)
        confidence = conf.read(1).astype(int)
    np.testing.assert_array_equal(mask > 0, valid)
    # Stored probabilities sum to 1 exactly (255 levels), and pick the mapped class.
    assert (levels.sum(axis=0)[valid] == 255).all()
    np.testing.assert_array_equal(np.asarray(CODES)[levels.argmax(axis=0)][valid], codes[valid])
    assert (np.abs(confidence - levels.max(axis=0))[valid] <= 1).all()
    assert (confidence[~valid] == 0).all() and (confidence[valid] >= 255 // 3 - 1).all()


def test_envi_cube_to_an_envi_classification(run_dir: Path, cube: np.ndarray,
                                             tmp_path: Path) -> None:
    import spectral

    source = write_envi(tmp_path / "cube.hdr", cube, nodata=NODATA, wavelengths=WAVELENGTHS)
    predict_cube(run_dir, source, tmp_path / "map.hdr", max_memory=1 << 20)
    image = spectral.open_image(str(tmp_path / "map.hdr"))
    meta = image.metadata
    assert meta["file type"] == "ENVI Classification" and int(meta["classes"]) == 4
    assert meta["class names"] == ["Unclassified", *NAMES]
    assert [int(c) for c in meta["class codes"]] == [0, *CODES]
    assert len(meta["class lookup"]) == 12 and meta["map info"] == list(MAP_INFO)
    assert "coordinate system string" in meta
    positions = image.read_band(0)
    assert (positions[4:6, 7:10] == 0).all()
    codes = np.asarray([0, *CODES])[positions]
    with rasterio.open(tmp_path / "map.img") as out, rasterio.open(tmp_path / "cube.img") as src:
        assert out.transform == src.transform == rasterio.Affine(*TRANSFORM)
        assert out.crs == src.crs
    far = np.ones(codes.shape, dtype=bool)
    far[2:8, 5:12] = False
    np.testing.assert_array_equal(codes[far], expected_codes(run_dir)[far])


def test_geotiff_cube_to_envi_keeps_the_crs_and_transform(run_dir: Path, cube: np.ndarray,
                                                          tmp_path: Path) -> None:
    source = write_geotiff(tmp_path / "cube.tif", cube, nodata=NODATA)
    predict_cube(run_dir, source, tmp_path / "map.img")
    with rasterio.open(tmp_path / "map.img") as out, rasterio.open(source) as src:
        assert out.transform == src.transform and out.crs == src.crs


def test_npy_cube_gives_a_plain_pixel_grid(run_dir: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "cube.npy", tiny_scene().cube)
    summary = predict_cube(run_dir, tmp_path / "cube.npy", tmp_path / "map.tif")
    assert not summary.georeferenced
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(tmp_path / "map.tif") as out:
            assert out.crs is None and out.transform == rasterio.Affine.identity()
            np.testing.assert_array_equal(out.read(1), expected_codes(run_dir))


@pytest.mark.parametrize("target", ["cube.tif", "cube.hdr", "cube.img", "run:prediction.npy",
                                    "run:map.png", "run:map.tif"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_equal_to_an_input_is_refused(run_dir: Path, cube: np.ndarray, tmp_path: Path,
                                                target: str, overwrite: bool) -> None:
    write_geotiff(tmp_path / "cube.tif", cube)
    write_envi(tmp_path / "cube.hdr", cube)
    source = tmp_path / ("cube.tif" if target == "cube.tif" else "cube.hdr")
    out = run_dir / target[4:] if target.startswith("run:") else tmp_path / target
    protected = [tmp_path / n for n in ("cube.tif", "cube.hdr", "cube.img")]
    protected += sorted(p for p in run_dir.iterdir() if p.is_file())
    before = {p: digest(p) for p in protected}
    with pytest.raises(InputOverwriteError, match="is the input file"):  # map.tif: its map.png
        predict_cube(run_dir, source, out, overwrite=overwrite)
    assert {p: digest(p) for p in protected} == before


def test_the_cli_refuses_an_input_as_output_in_one_line(run_dir: Path, cube: np.ndarray,
                                                        tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    source = write_envi(tmp_path / "cube.hdr", cube)
    before = digest(tmp_path / "cube.img")
    code = main(["predict", str(run_dir), "--cube", str(source), "--out",
                 str(tmp_path / "cube.img"), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and "is the input file" in err and len(err.strip().splitlines()) == 1
    assert digest(tmp_path / "cube.img") == before


def test_existing_outputs_need_overwrite(run_dir: Path, cube: np.ndarray, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = write_geotiff(tmp_path / "cube.tif", cube)
    (tmp_path / "map.tif").write_bytes(b"old")
    argv = ["predict", str(run_dir), "--cube", str(source), "--out", str(tmp_path / "map.tif"),
            "--max-memory", "2M"]
    assert main(argv) == 1 and "already exist" in capsys.readouterr().err
    assert (tmp_path / "map.tif").read_bytes() == b"old"
    assert main([*argv, "--overwrite"]) == 0
    assert "map.tif" in capsys.readouterr().out
    with rasterio.open(tmp_path / "map.tif") as out:
        assert out.count == 1


def test_an_interrupted_prediction_leaves_the_previous_map(run_dir: Path, cube: np.ndarray,
                                                           tmp_path: Path) -> None:
    source = write_geotiff(tmp_path / "cube.tif", cube)
    for name in ("map.tif", "map.png", "p.tif"):
        (tmp_path / name).write_bytes(b"previous")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_cube(run_dir, source, tmp_path / "map.tif", probabilities=tmp_path / "p.tif",
                     overwrite=True, progress=interrupt)
    for name in ("map.tif", "map.png", "p.tif"):
        assert (tmp_path / name).read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.tif", "map.png", "map.tif",
                                                          "p.tif"]


def test_band_count_and_wavelength_checks(run_dir: Path, cube: np.ndarray,
                                          tmp_path: Path) -> None:
    wrong = write_geotiff(tmp_path / "wrong.tif", cube[:, :, :7])
    with pytest.raises(ValueError, match="7 bands.*trained on 10-band"):
        predict_cube(run_dir, wrong, tmp_path / "map.tif")
    shifted = write_envi(tmp_path / "shifted.hdr", cube,
                         wavelengths=[w + 5 for w in WAVELENGTHS])
    with pytest.warns(WavelengthMismatchWarning, match="wavelengths.*differ.*5 Nanometers"):
        predict_cube(run_dir, shifted, tmp_path / "map.npy")
    same = write_envi(tmp_path / "same.hdr", cube, wavelengths=WAVELENGTHS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WavelengthMismatchWarning)
        predict_cube(run_dir, same, tmp_path / "map2.npy")


def test_bad_output_suffixes_are_explained(run_dir: Path, cube: np.ndarray,
                                           tmp_path: Path) -> None:
    source = write_geotiff(tmp_path / "cube.tif", cube)
    with pytest.raises(ValueError, match="no writer for .jpg; use one of .tif"):
        predict_cube(run_dir, source, tmp_path / "map.jpg")
    with pytest.raises(ValueError, match="--probabilities .* must be a GeoTIFF"):
        predict_cube(run_dir, source, tmp_path / "map.tif", probabilities=tmp_path / "p.npy")


def test_train_on_a_coded_geotiff_then_predict_it_end_to_end(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    """hsi-attn train on sparse codes 1, 10, 12, then hsi-attn predict: the same codes."""
    from user_rasters import coded_scene

    cube, gt = coded_scene(seed=1)
    cube[:2] = NODATA
    write_geotiff(tmp_path / "scene.tif", cube, nodata=NODATA)
    write_geotiff(tmp_path / "labels.tif", gt.astype(np.uint8))
    small = ["--patch-size", "5", "--train-size", "0.3", "--val-size", "0.2", "--pca", "none",
             "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--quiet"]
    assert main(["train", "--cube", str(tmp_path / "scene.tif"), "--gt",
                 str(tmp_path / "labels.tif"), "--out", str(tmp_path / "run"), *small]) == 0
    assert main(["predict", str(tmp_path / "run"), "--cube", str(tmp_path / "scene.tif"),
                 "--out", str(tmp_path / "map.tif"), "--quiet"]) == 0
    capsys.readouterr()
    with rasterio.open(tmp_path / "map.tif") as out:
        codes = out.read(1)
        assert json.loads(out.tags()["CLASS_CODES"]) == [1, 10, 12]
    assert (codes[:2] == 0).all() and set(np.unique(codes[2:])) <= {1, 10, 12}
    # Two rows below the nodata strip, the training run's own in-memory map agrees.
    np.testing.assert_array_equal(codes[4:], np.load(tmp_path / "run" / "prediction.npy")[4:])
