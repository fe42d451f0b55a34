"""A whole run on a tiny synthetic scene: run directory, evaluate, predict, guards."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.data import Scene
from hsi_attn.engine import Callback, CheckpointError, History, load_checkpoint
from hsi_attn.data.batches import dihedral
from hsi_attn.run import (
    RUN_FILES,
    RunDirectoryError,
    evaluate_run,
    load_run_config,
    predict_cube,
    train_run,
    train_runs,
)


def tiny_scene(seed: int = 0) -> Scene:
    """14 x 14 pixels, 10 bands, 3 classes in vertical stripes with distinct spectra."""
    rng = np.random.default_rng(seed)
    gt = np.repeat(np.repeat(np.arange(1, 4), 5)[None, :14], 14, axis=0).astype(np.int64)
    gt[rng.random(gt.shape) < 0.1] = 0
    stripes = np.repeat(np.arange(3), 5)[None, :14].repeat(14, axis=0)
    signatures = rng.normal(size=(3, 10)).astype(np.float32) * 2.0
    cube = signatures[stripes] + rng.normal(scale=0.5, size=(14, 14, 10)).astype(np.float32)
    return Scene.from_arrays(cube, gt, name="tiny", class_names=("asphalt", "grass", "water"))


def tiny_config(**train: object) -> RunConfig:
    return RunConfig(
        data=DataConfig(scene="tiny", train_size=0.3, val_size=0.2, pca=None),
        model=ModelConfig(name="resnet3d", attention="eca_band", patch_size=5),
        train=dataclasses.replace(
            TrainConfig(epochs=2, batch_size=16, lr=0.01, device="cpu", seed=0,
                        eval_batch_size=64),
            **train,
        ),
    )


@pytest.fixture(scope="module")
def scene() -> Scene:
    return tiny_scene()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, scene: Scene) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    train_run(tiny_config(), out, scene=scene, command="test")
    return out


def test_two_epoch_run_writes_the_whole_run_directory(run_dir: Path, scene: Scene) -> None:
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)
    config, saved = load_run_config(run_dir)
    assert config == tiny_config()
    assert saved["command"] == "test" and saved["torch_version"] == torch.__version__
    assert {"hsi_attn_version", "device"} <= saved.keys()
    history = History.from_csv(run_dir / "history.csv")
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(np.isfinite(r["train_loss"]) and 0 <= r["val_oa"] <= 1 for r in history)
    prediction = np.load(run_dir / "prediction.npy")
    assert prediction.shape == scene.gt.shape and prediction.dtype == np.int64
    assert set(np.unique(prediction)) <= {1, 2, 3}
    for image in ("map.png", "confusion.png"):
        assert (run_dir / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = load_checkpoint(run_dir / "checkpoint.pt")
    assert checkpoint["finished"] is True and checkpoint["epoch"] == 2


def test_metrics_json_agrees_with_the_saved_prediction(run_dir: Path, scene: Scene) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = load_checkpoint(run_dir / "checkpoint.pt")["extra"]["split"]["test"].numpy()
    truth = scene.gt[test[:, 0], test[:, 1]]
    predicted = np.load(run_dir / "prediction.npy")[test[:, 0], test[:, 1]]
    assert metrics["test"]["oa"] == pytest.approx(float((truth == predicted).mean()))
    assert metrics["n_test"] == len(test) == metrics["test"]["n_samples"]
    assert [c["name"] for c in metrics["test"]["per_class"]] == list(scene.class_names)
    assert metrics["timing"]["train_samples_per_second"] > 0
    assert metrics["epochs_run"] == 2 and metrics["profile"]["params"] > 0
    history = History.from_csv(run_dir / "history.csv")
    flagged = [r["epoch"] for r in history if r["is_best"]]
    assert metrics["best_epoch"] == flagged[-1]


def test_evaluate_run_reproduces_the_test_metrics(run_dir: Path, scene: Scene) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    again = evaluate_run(run_dir, scene=scene)
    assert again["confusion"] == metrics["test"]["confusion"]


def test_predict_cube_matches_the_run_prediction(run_dir: Path, scene: Scene,
                                                 tmp_path: Path) -> None:
    cube_file = tmp_path / "cube.npy"
    np.save(cube_file, scene.cube)
    summary = predict_cube(run_dir, cube_file, tmp_path / "map.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "map.npy"), np.load(run_dir / "prediction.npy"))
    assert summary.shape == scene.cube.shape and sum(summary.class_counts.values()) == 14 * 14
    assert (tmp_path / "map.png").is_file()
    with pytest.raises(FileExistsError, match="already exist"):
        predict_cube(run_dir, cube_file, tmp_path / "map.npy")
    np.save(tmp_path / "wrong.npy", scene.cube[:, :, :7])
    with pytest.raises(ValueError, match="7 bands.*trained on 10-band"):
        predict_cube(run_dir, tmp_path / "wrong.npy", tmp_path / "other.png")


def test_existing_run_is_never_overwritten_silently(run_dir: Path, scene: Scene) -> None:
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(RunDirectoryError, match="not empty.*--resume.*--overwrite"):
        train_run(tiny_config(), run_dir, scene=scene)
    assert (run_dir / "metrics.json").read_bytes() == before


def test_resume_of_a_finished_run_keeps_its_results(run_dir: Path, scene: Scene,
                                                    tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    result = train_run(tiny_config(), copy, scene=scene, resume=True)
    original = json.loads((run_dir / "metrics.json").read_text())
    assert result.metrics["test"] == original["test"]
    with pytest.raises(ValueError, match=r"train.lr: 0.01 -> 0.5"):
        train_run(tiny_config(lr=0.5), copy, scene=scene, resume=True)


def test_corrupt_checkpoint_and_missing_run_are_clear_errors(run_dir: Path, scene: Scene,
                                                             tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        evaluate_run(copy, scene=scene)
    with pytest.raises(RunDirectoryError, match="does not exist"):
        evaluate_run(tmp_path / "nowhere", scene=scene)


def test_unknown_names_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet3x'.*resnet3d"):
        ModelConfig(name="resnet3x")  # the configuration refuses it when built
    base = tiny_config()
    typo = dataclasses.replace(base, data=dataclasses.replace(base.data, scene="indian_pine"))
    with pytest.raises(ValueError, match="unknown scene 'indian_pine'.*indian_pines"):
        train_run(typo, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_misfit_patch_size_is_a_clear_error(tmp_path: Path, scene: Scene) -> None:
    with pytest.raises(ValueError, match=r"patch_size \(--patch-size\).*odd.*got 4; use 3 or 5"):
        ModelConfig(name="hamida3d", attention="none", patch_size=4)
    config = dataclasses.replace(tiny_config(), model=ModelConfig(name="resnet3d", patch_size=29))
    with pytest.raises(ValueError, match="largest patch size that works is 27"):
        train_run(config, tmp_path / "out", scene=scene)  # the 14x14 scene is too small
    assert not (tmp_path / "out").exists()


def test_several_seeds_are_summarised(tmp_path: Path, scene: Scene) -> None:
    results, summary = train_runs(tiny_config(epochs=1), [0, 1], tmp_path / "many", scene=scene)
    assert [r.out_dir.name for r in results] == ["seed0", "seed1"]
    assert summary["n_runs"] == 2 and summary["seeds"] == [0, 1]
    oas = [r.metrics["test"]["oa"] for r in results]
    assert summary["oa"]["mean"] == pytest.approx(np.mean(oas))
    assert json.loads((tmp_path / "many" / "summary.json").read_text())["oa"] == summary["oa"]


class _CtrlCAt(Callback):
    """Raises KeyboardInterrupt at (epoch, batch), as Ctrl-C would."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if state.epoch == self.epoch and state.batch == self.batch:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_uninterrupted_result(run_dir: Path, scene: Scene,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_config(), out, scene=scene, callbacks=[_CtrlCAt(2, 1)])
    assert not (out / "metrics.json").exists()
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    result = train_run(tiny_config(), out, scene=scene, resume=True)
    full = History.from_csv(run_dir / "history.csv")
    for key in ("train_loss", "val_loss", "val_oa", "lr"):
        assert result.history.column(key) == full.column(key), key
    np.testing.assert_array_equal(result.prediction, np.load(run_dir / "prediction.npy"))


def test_dihedral_augmentation_gives_the_eight_symmetries() -> None:
    patch = torch.arange(2 * 9, dtype=torch.float32).reshape(1, 1, 2, 3, 3)
    images = dihedral(patch.expand(8, -1, -1, -1, -1), torch.arange(8))
    assert len({tuple(img.flatten().tolist()) for img in images}) == 8
    assert torch.equal(images[0], patch[0])
    # Spectra are moved, never mixed: every output holds the same multiset of spectra.
    spectra = {tuple(patch[0, 0, :, i, j].tolist()) for i in range(3) for j in range(3)}
    for img in images:
        assert {tuple(img[0, :, i, j].tolist()) for i in range(3) for j in range(3)} == spectra
