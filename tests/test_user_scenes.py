"""Your own scene: sparse codes, class names, nodata and the georeference carried along."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from user_rasters import (
    MAP_INFO,
    TRANSFORM,
    coded_scene,
    write_envi,
    write_envi_classes,
    write_geotiff,
)

from hsi_attn.data import DataFileError, UnusedClassNamesWarning, load_labels, load_user_scene


@pytest.fixture
def geotiff_scene(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    cube, gt = coded_scene()
    return (write_geotiff(tmp_path / "scene.tif", cube),
            write_geotiff(tmp_path / "labels.tif", gt.astype(np.uint8)), gt)


def test_sparse_codes_become_three_classes(geotiff_scene: tuple[Path, Path, np.ndarray]
                                           ) -> None:
    cube_path, gt_path, codes = geotiff_scene
    scene = load_user_scene(cube_path, gt_path)
    assert scene.n_classes == 3 and scene.class_codes == (1, 10, 12)
    assert scene.class_names == ("1", "10", "12")
    assert set(np.unique(scene.gt).tolist()) == {0, 1, 2, 3}
    assert np.array_equal(scene.to_codes(scene.gt), codes)
    assert scene.georef.transform == TRANSFORM and "UTM zone 33N" in scene.georef.crs_wkt
    assert scene.name == "scene"


def test_names_from_a_file_and_from_the_envi_header(
        tmp_path: Path, geotiff_scene: tuple[Path, Path, np.ndarray]) -> None:
    cube_path, gt_path, codes = geotiff_scene
    names = tmp_path / "names.csv"
    names.write_text("code,name\n1,water\n10,corn\n12,soy\n99,rock\n", encoding="utf-8")
    with pytest.warns(UnusedClassNamesWarning, match=r"codes \[99\]"):
        scene = load_user_scene(cube_path, gt_path, class_names_path=names)
    assert scene.class_names == ("water", "corn", "soy")
    short = tmp_path / "short.json"
    short.write_text('{"1": "water", "10": "corn"}', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"no name for codes \[12\]"):
        load_user_scene(cube_path, gt_path, class_names_path=short)
    envi_names = ["Unclassified", *[f"c{k}" for k in range(1, 13)]]
    header = write_envi_classes(tmp_path / "gt.hdr", codes, class_names=envi_names)
    scene = load_user_scene(cube_path, header)
    assert scene.class_names == ("c1", "c10", "c12")


def test_envi_cube_keeps_its_map_info(tmp_path: Path) -> None:
    cube, gt = coded_scene()
    header = write_envi(tmp_path / "scene.hdr", cube, interleave="bil",
                        wavelengths=range(500, 506))
    np.save(tmp_path / "gt.npy", gt)
    scene = load_user_scene(header, tmp_path / "gt.npy")
    assert scene.georef.envi_map_info == MAP_INFO
    assert scene.georef.wavelengths == tuple(float(w) for w in range(500, 506))
    assert scene.class_codes == (1, 10, 12)


def test_ignore_label(tmp_path: Path) -> None:
    cube, gt = coded_scene()
    gt = np.where(gt == 0, 255, gt)
    gt[0, 0] = 0                                   # 0 is a class code here
    write_geotiff(tmp_path / "scene.tif", cube)
    write_geotiff(tmp_path / "labels.tif", gt.astype(np.uint8))
    scene = load_user_scene(tmp_path / "scene.tif", tmp_path / "labels.tif", ignore_label=255)
    assert scene.class_codes == (0, 1, 10, 12)
    assert int((scene.gt == 0).sum()) == int((gt == 255).sum())
    default = load_user_scene(tmp_path / "scene.tif", tmp_path / "labels.tif")
    assert default.class_codes == (1, 10, 12, 255)


def test_negative_codes_suggest_the_ignore_label(tmp_path: Path) -> None:
    cube, gt = coded_scene()
    np.save(tmp_path / "cube.npy", cube)
    np.save(tmp_path / "gt.npy", np.where(gt == 0, -1, gt))
    with pytest.raises(ValueError, match=r"negative codes \[-1\].*--ignore-label -1"):
        load_user_scene(tmp_path / "cube.npy", tmp_path / "gt.npy")
    scene = load_user_scene(tmp_path / "cube.npy", tmp_path / "gt.npy", ignore_label=-1)
    assert scene.class_codes == (1, 10, 12)


def test_nodata_pixels_are_never_labelled(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                          ) -> None:
    cube, gt = coded_scene()
    cube[:3, :] = -9999.0                         # a nodata strip across all classes
    cube[5, 5] = 0.0                              # an all-zero spectrum
    cube[6, 6, 2] = np.nan                        # a NaN band
    labelled = int((gt[:3] > 0).sum()) + int(gt[5, 5] > 0) + int(gt[6, 6] > 0)
    write_geotiff(tmp_path / "scene.tif", cube, nodata=-9999.0)
    write_geotiff(tmp_path / "labels.tif", gt.astype(np.uint8))
    with caplog.at_level(logging.WARNING, logger="hsi_attn.data.scene"):
        scene = load_user_scene(tmp_path / "scene.tif", tmp_path / "labels.tif")
    assert not scene.gt[:3].any() and scene.gt[5, 5] == 0 and scene.gt[6, 6] == 0
    assert scene.georef.nodata == -9999.0
    assert f"{labelled} labelled pixels hold no data" in caplog.text


def test_label_raster_nodata_is_unlabelled(tmp_path: Path) -> None:
    _, gt = coded_scene()
    stored = np.where(gt == 0, 200, gt).astype(np.uint8)
    stored[:2] = 250
    write_geotiff(tmp_path / "labels.tif", stored, nodata=250)
    labels = load_labels(tmp_path / "labels.tif")
    assert not labels[:2].any()
    assert np.array_equal(labels[2:], stored[2:])
