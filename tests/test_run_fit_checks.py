"""Checks that need the data fail in seconds, before the split, with the number that is wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi_attn.cli import main
from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.data import Scene, locate_scene
from hsi_attn.run import fit_checks, prepare_data, train_run
from hsi_attn.run.fit_checks import (
    InsufficientMemoryError,
    available_memory,
    estimate_memory,
    largest_patch_size,
)


def _scene(*, classes: int = 3, side: int = 14, bands: int = 10) -> Scene:
    rng = np.random.default_rng(0)
    stripes = (np.arange(side) * classes // side)[None, :].repeat(side, axis=0)
    gt = (stripes + 1).astype(np.int64)
    gt[rng.random(gt.shape) < 0.1] = 0
    cube = rng.normal(size=(side, side, bands)).astype(np.float32) + stripes[..., None]
    return Scene.from_arrays(cube, gt, name="tiny")


def _config(**model: object) -> RunConfig:
    return RunConfig(
        data=DataConfig(scene="tiny", train_size=0.3, val_size=0.2, pca=None),
        model=ModelConfig(**{"name": "resnet3d", "attention": "eca_band", "patch_size": 5,
                             **model}),
        train=TrainConfig(epochs=1, batch_size=16, device="cpu", eval_batch_size=64),
    )


def _files(folder: Path, scene: Scene) -> list[str]:
    np.save(folder / "cube.npy", scene.cube)
    np.save(folder / "gt.npy", scene.gt)
    return ["--cube", str(folder / "cube.npy"), "--gt", str(folder / "gt.npy"), "--scene", "tiny",
            "--pca", "none", "--train-size", "0.3", "--val-size", "0.2", "--epochs", "1",
            "--batch-size", "16", "--device", "cpu", "--quiet"]


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("hsi-attn: error: ") and "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_every_split_the_configuration_accepts_is_implemented() -> None:
    from hsi_attn.checks import SPLITS
    from hsi_attn.run.prepare import _SPLITS

    assert set(_SPLITS) == set(SPLITS)
    for kind in SPLITS:  # what the configuration accepts
        assert DataConfig(split=kind).split == kind


def test_largest_patch_size_keeps_the_padding_inside_the_image() -> None:
    assert largest_patch_size(145, 145) == 289  # Indian Pines
    assert largest_patch_size(14, 20) == 27
    assert largest_patch_size(1, 1) == 1


def test_a_patch_wider_than_the_image_allows_is_refused_with_the_largest_that_works() -> None:
    scene = _scene()
    with pytest.raises(ValueError, match=r"patch_size \(--patch-size\) 29 is too large for "
                                         r"the 14x14 scene 'tiny'.*largest patch size that "
                                         r"works is 27"):
        prepare_data(_config(patch_size=29), scene)
    fit_checks._check_patch_fits(_config(patch_size=27), scene)  # the largest passes


def test_a_single_class_ground_truth_is_refused() -> None:
    scene = _scene(classes=1)
    with pytest.raises(ValueError, match=r"single class \(label 1, \d+ pixels\).*at least 2"):
        prepare_data(_config(), scene)


def test_not_enough_memory_fails_with_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit_checks, "available_memory", lambda device: 1 << 20)  # 1 MiB
    with pytest.raises(InsufficientMemoryError) as info:
        prepare_data(_config(), _scene())
    message = str(info.value)
    assert "GiB of memory but 0.0 GiB is available (host)" in message
    assert "a training batch of 16 patches of 10x5x5 through resnet3d" in message
    assert "--batch-size" in message and "--patch-size" in message
    assert isinstance(info.value, ValueError)


def test_enough_or_unknown_memory_lets_the_run_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit_checks, "available_memory", lambda device: None)
    assert len(prepare_data(_config(), _scene()).split.train) > 0
    monkeypatch.setattr(fit_checks, "available_memory", lambda device: 1 << 40)
    assert len(prepare_data(_config(), _scene()).split.train) > 0


def test_a_cuda_run_compares_the_batches_with_the_device_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    free = {"cpu": 1 << 40, "cuda": 1 << 20}
    monkeypatch.setattr(fit_checks, "available_memory", lambda device: free[device.type])
    with pytest.raises(InsufficientMemoryError, match=r"available \(cuda\)"):
        fit_checks.check_run_fits(_config(), _scene(), device=torch.device("cuda"))


def test_the_estimate_grows_with_the_batches_and_the_patch() -> None:
    scene = _scene(side=30)
    base = estimate_memory(_config(), scene)
    assert base is not None and base.training > 0 and base.evaluation > 0 and base.data > 0
    bigger_batch = _config()
    bigger_batch = dataclasses.replace(bigger_batch, train=dataclasses.replace(
        bigger_batch.train, batch_size=64, eval_batch_size=256))
    more = estimate_memory(bigger_batch, scene)
    assert more is not None
    assert more.training > 3 * base.training / 2 and more.evaluation > 3 * base.evaluation
    wider = estimate_memory(_config(patch_size=15), scene)
    assert wider is not None and wider.training > 5 * base.training
    assert base.compute == max(base.training, base.evaluation)


def test_a_model_that_cannot_take_the_patch_is_left_to_the_model_build() -> None:
    # hybridsn needs p >= 9: its own error, raised by the same factory.
    with pytest.raises(ValueError, match="hybridsn: patch_size"):
        estimate_memory(_config(name="hybridsn", patch_size=5), _scene(bands=20))


def test_the_host_memory_is_read_where_the_system_reports_it() -> None:
    available = available_memory(torch.device("cpu"))
    assert available is None or available > 0
    assert available_memory(torch.device("meta")) is None


def test_the_cli_fails_in_one_line_and_leaves_nothing_in_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _files(tmp_path, _scene())
    out = tmp_path / "run"
    code = main(["train", *args, "--patch-size", "31", "--out", str(out)])
    _one_line_error(capsys, code, "patch_size (--patch-size) 31",
                    "largest patch size that works is 27")
    assert not out.exists()
    monkeypatch.setattr(fit_checks, "available_memory", lambda device: 1 << 20)
    code = main(["train", *args, "--patch-size", "5", "--out", str(out)])
    _one_line_error(capsys, code, "GiB is available", "--batch-size")
    assert not out.exists()
    monkeypatch.undo()
    one_class = tmp_path / "one"
    one_class.mkdir()
    code = main(["train", *_files(one_class, _scene(classes=1)), "--patch-size", "5",
                 "--out", str(out)])
    _one_line_error(capsys, code, "single class")
    assert not out.exists()


def test_a_run_on_a_scene_object_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="single class"):
        train_run(_config(), tmp_path / "out", scene=_scene(classes=1))
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- --root


def test_a_missing_root_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError, match=rf"--root '{missing}' does not exist"):
        locate_scene("indian_pines", root=missing)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        locate_scene("indian_pines", root=tmp_path / "file")
    # Where a download will go, the folder may not exist yet.
    location = locate_scene("indian_pines", root=missing, for_download=True)
    assert location.name == "indian_pines"


def test_the_cli_reports_a_missing_root_in_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo"
    code = main(["scenes", "--root", str(missing)])
    _one_line_error(capsys, code, str(missing), "does not exist", "leave --root out")
    out = tmp_path / "run"
    code = main(["train", "--root", str(missing), "--epochs", "1", "--out", str(out), "--quiet"])
    _one_line_error(capsys, code, str(missing), "does not exist")
    assert not out.exists()
