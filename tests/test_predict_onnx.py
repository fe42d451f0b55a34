"""hsi-attn predict --backend onnxruntime: an exported model streams a cube to the same map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from test_training_run import tiny_config, tiny_scene
from user_rasters import write_geotiff

from hsi_attn.cli import main
from hsi_attn.run import predict_cube, train_run

pytest.importorskip("onnxruntime", reason="the onnx extra: pip install -e '.[onnx]'")

NODATA = -9999.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from hsi_attn.export.exporter import export_run

    folder = tmp_path_factory.mktemp("onnx")
    run_dir = folder / "run"
    train_run(tiny_config(epochs=1), run_dir, scene=tiny_scene(), command="test")
    model = folder / "model.onnx"
    export_run(run_dir, model)
    return run_dir, model


def test_onnx_backend_gives_the_torch_backends_map_tile_by_tile(
        exported: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, model = exported
    source = write_geotiff(tmp_path / "cube.tif", tiny_scene().cube)
    # A 64 KB budget forces several thin tiles, so tile borders are crossed.
    torch_map = predict_cube(run_dir, source, tmp_path / "torch.tif", max_memory=64 << 10)
    onnx_map = predict_cube(model, source, tmp_path / "onnx.tif", max_memory=64 << 10,
                            backend="onnxruntime")
    assert onnx_map.stats.tiles > 1
    assert onnx_map.class_counts == torch_map.class_counts
    with rasterio.open(tmp_path / "torch.tif") as a, rasterio.open(tmp_path / "onnx.tif") as b:
        assert np.array_equal(a.read(1), b.read(1))
        assert a.crs == b.crs and a.transform == b.transform
    expected = np.load(run_dir / "prediction.npy")
    with rasterio.open(tmp_path / "onnx.tif") as b:
        assert np.array_equal(b.read(1), expected)


def test_onnx_backend_writes_nodata_where_the_cube_has_none(exported: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    _, model = exported
    cube = tiny_scene().cube.copy()
    cube[4:6, 7:10] = NODATA
    source = write_geotiff(tmp_path / "cube.tif", cube, nodata=NODATA)
    summary = predict_cube(model, source, tmp_path / "map.tif", backend="onnxruntime")
    assert summary.nodata_pixels == 6
    with rasterio.open(tmp_path / "map.tif") as out:
        assert (out.read(1)[4:6, 7:10] == out.nodata).all()


def test_the_wrong_model_for_a_backend_says_what_to_give(exported: tuple[Path, Path],
                                                         tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    run_dir, model = exported
    source = write_geotiff(tmp_path / "cube.tif", tiny_scene().cube)
    with pytest.raises(ValueError, match="hsi-attn export"):
        predict_cube(run_dir, source, tmp_path / "a.tif", backend="onnxruntime")
    with pytest.raises(ValueError, match="--backend onnxruntime"):
        predict_cube(model, source, tmp_path / "b.tif")
    with pytest.raises(ValueError, match="backend"):
        predict_cube(model, source, tmp_path / "c.tif", backend="tensorrt")
    before = model.read_bytes()
    code = main(["predict", str(model), "--backend", "onnxruntime", "--cube", str(source),
                 "--out", str(model), "--overwrite"])
    assert code != 0 and "Traceback" not in capsys.readouterr().err
    assert model.read_bytes() == before
