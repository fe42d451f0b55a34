"""Training on your own georeferenced cube with sparse class codes, end to end.

Two tiny runs (24 x 20 pixels, 6 bands, 1 epoch, patch 5): a GeoTIFF cube with a
nodata strip through ``hsi-attn train --class-names``, and an ENVI cube with an ENVI
classification ground truth (names from its header) whose unlabelled code is 255.
"""

from __future__ import annotations

import json
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

from hsi_attn.cli import main
from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.data import Georeference
from hsi_attn.engine import load_checkpoint
from hsi_attn.run import evaluate_run, train_run

CODES = (1, 10, 12)
NAMES = ("water", "corn", "soy")
_SMALL = ["--patch-size", "5", "--train-size", "0.3", "--val-size", "0.2", "--pca", "none",
          "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def geotiff_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("geotiff")
    cube, gt = coded_scene(seed=1)
    cube[:2] = -9999.0
    cube[5, 5, 2] = np.nan                     # NaN marks no data too: masked, never trained
    write_geotiff(folder / "scene.tif", cube, nodata=-9999.0)
    write_geotiff(folder / "labels.tif", gt.astype(np.uint8))
    (folder / "names.csv").write_text(
        "code,name\n" + "".join(f"{c},{n}\n" for c, n in zip(CODES, NAMES)), encoding="utf-8")
    out = folder / "run"
    assert main(["train", "--cube", str(folder / "scene.tif"), "--gt",
                 str(folder / "labels.tif"), "--class-names", str(folder / "names.csv"),
                 "--out", str(out), *_SMALL]) == 0
    return out, gt


def test_the_model_has_one_output_per_code(geotiff_run: tuple[Path, np.ndarray]) -> None:
    out, _ = geotiff_run
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    extra = checkpoint["extra"]
    assert extra["n_classes"] == 3
    assert extra["class_codes"] == list(CODES)
    assert extra["class_names"] == list(NAMES)
    georef = Georeference.from_dict(extra.get("georef"))
    assert georef.transform == TRANSFORM and georef.nodata == -9999.0
    assert "UTM zone 33N" in georef.crs_wkt
    last = [v for k, v in checkpoint["model"].items() if k.endswith("weight")][-1]
    assert last.shape[0] == 3


def test_outputs_carry_the_codes_and_names(geotiff_run: tuple[Path, np.ndarray]) -> None:
    out, _ = geotiff_run
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    per_class = metrics["test"]["per_class"]
    assert [(c["code"], c["name"]) for c in per_class] == list(zip(CODES, NAMES))
    assert metrics["class_codes"] == list(CODES)
    assert np.asarray(metrics["test"]["confusion"]).shape == (3, 3)
    prediction = np.load(out / "prediction.npy")
    assert set(np.unique(prediction).tolist()) <= set(CODES)
    assert (out / "map.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0
    again = evaluate_run(out)
    assert [c["code"] for c in again["per_class"]] == list(CODES)
    assert again["confusion"] == metrics["test"]["confusion"]


def test_nodata_pixels_are_not_trained_or_scored(geotiff_run: tuple[Path, np.ndarray]) -> None:
    out, gt = geotiff_run
    split = load_checkpoint(out / "checkpoint.pt")["extra"]["split"]
    used = np.concatenate([np.asarray(split[k]) for k in ("train", "val", "test")])
    assert len(used) == int((gt[2:] > 0).sum()) - int(gt[5, 5] > 0)
    assert not ((used[:, 0] == 5) & (used[:, 1] == 5)).any()
    assert used[:, 0].min() >= 2


def test_envi_cube_with_header_names_and_ignore_label(tmp_path: Path) -> None:
    cube, gt = coded_scene(seed=2)
    header = write_envi(tmp_path / "scene.hdr", cube, interleave="bip")
    names = ["Unclassified", *[f"class {k}" for k in range(1, 13)]]
    gt_header = write_envi_classes(tmp_path / "labels.hdr", np.where(gt == 0, 255, gt),
                                   class_names=names)
    config = RunConfig(
        data=DataConfig(cube_path=str(header), gt_path=str(gt_header), ignore_label=255,
                        train_size=0.3, val_size=0.2, pca=None),
        model=ModelConfig(patch_size=5),
        train=TrainConfig(epochs=1, batch_size=16, device="cpu", seed=0),
    )
    result = train_run(config, tmp_path / "run")
    extra = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["extra"]
    assert extra["class_codes"] == list(CODES)
    assert extra["class_names"] == ["class 1", "class 10", "class 12"]
    assert Georeference.from_dict(extra["georef"]).envi_map_info == MAP_INFO
    assert set(np.unique(result.prediction).tolist()) <= set(CODES)
    assert [c["code"] for c in result.metrics["test"]["per_class"]] == list(CODES)
