"""The hsi-attn command line: listings, a tiny train/evaluate/predict, and error paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi_attn.cli import SUBCOMMANDS, main
from hsi_attn.config import RunConfig


def _write_tiny_scene(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """14 x 14 x 10 cube and 3-class stripes ground truth as .npy files."""
    rng = np.random.default_rng(seed)
    stripes = np.repeat(np.arange(3), 5)[None, :14].repeat(14, axis=0)
    gt = (stripes + 1).astype(np.int64)
    gt[rng.random(gt.shape) < 0.1] = 0
    signatures = rng.normal(size=(3, 10)).astype(np.float32) * 2.0
    cube = signatures[stripes] + rng.normal(scale=0.5, size=(14, 14, 10)).astype(np.float32)
    np.save(folder / "cube.npy", cube)
    np.save(folder / "gt.npy", gt)
    return folder / "cube.npy", folder / "gt.npy"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str, *patterns: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("hsi-attn: error: ")
    assert "Traceback" not in err
    for pattern in patterns:
        assert pattern in lines[0], (pattern, lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write_tiny_scene(tmp_path_factory.mktemp("scene"))


def _train_args(files: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    cube, gt = files
    return ["train", "--cube", str(cube), "--gt", str(gt), "--scene", "tiny",
            "--patch-size", "5", "--train-size", "0.3", "--val-size", "0.2", "--pca", "none",
            "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--out", str(out),
            "--quiet", *extra]


@pytest.fixture(scope="module")
def run_dir(files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(_train_args(files, out)) == 0
    return out


def test_subcommand_table_names() -> None:
    assert [s.name for s in SUBCOMMANDS] == [
        "train", "evaluate", "predict", "scenes", "models", "attention", "download", "tune",
        "experiment", "export"]


def test_listings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["models"], capsys)
    assert code == 0 and "resnet3d" in out.split()
    code, out, _ = _run(["attention"], capsys)
    assert code == 0 and {"none", "eca_band", "se_band"} <= set(out.split())
    code, out, _ = _run(["scenes"], capsys)
    assert code == 0 and "indian_pines" in out
    assert all(("available" in line) or ("missing" in line) for line in out.splitlines())


def test_train_prints_metrics_and_writes_the_run(run_dir: Path, files: tuple[Path, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["data"]["cube_path"] == str(files[0]) and saved["model"]["patch_size"] == 5
    assert saved["command"].startswith("hsi-attn train --cube")
    assert saved["data"]["pca"] is None  # an explicit "--pca none" overrides the default
    assert saved["train"]["lr"] == RunConfig().train.lr  # untouched options keep defaults
    code, out, err = _run(["evaluate", str(run_dir), "--quiet"], capsys)
    assert code == 0, err
    metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert f"OA {100 * metrics['oa']:.2f}%" in out and "kappa" in out


def test_predict_writes_labels_and_map(run_dir: Path, files: tuple[Path, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "labels.npy"
    code, _, err = _run(["predict", str(run_dir), "--cube", str(files[0]), "--out", str(out)],
                        capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(out), np.load(run_dir / "prediction.npy"))
    assert out.with_suffix(".png").is_file()


def test_bad_options_are_one_line_errors(files: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["train", "--model", "resnet3x"], ["unknown model 'resnet3x'", "resnet3d"]),
        (["train", "--attention", "eca_bnd"], ["unknown attention 'eca_bnd'", "eca_band"]),
        (["train", "--scene", "indian_pine"], ["unknown scene 'indian_pine'", "indian_pines"]),
        (["train", "--epochs", "many"], ["--epochs", "invalid int value"]),
        (["frobnicate"], ["invalid choice"]),
        (["evaluate", str(tmp_path / "missing-run")], ["does not exist"]),
        (_train_args(files, tmp_path / "p", "--model", "hamida3d", "--attention", "none",
                     "--patch-size", "4"), ["patch"]),
    ]
    for argv, patterns in cases:
        code, _, err = _run(argv, capsys)
        _assert_one_line_error(code, err, *patterns)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is absent")
def test_cuda_without_cuda(files: tuple[Path, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(_train_args(files, tmp_path / "gpu", "--device", "cuda"), capsys)
    _assert_one_line_error(code, err, "CUDA is not available", "--device cpu")
    assert not (tmp_path / "gpu").exists()


def test_run_dir_errors(run_dir: Path, files: tuple[Path, Path], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(_train_args(files, run_dir), capsys)
    _assert_one_line_error(code, err, "not empty", "--resume", "--overwrite")
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "checkpoint.pt").write_bytes(b"\x00garbage")
    code, _, err = _run(["evaluate", str(broken)], capsys)
    _assert_one_line_error(code, err, "corrupt")
    np.save(tmp_path / "narrow.npy", np.zeros((6, 6, 4), dtype=np.float32))
    code, _, err = _run(["predict", str(run_dir), "--cube", str(tmp_path / "narrow.npy"),
                         "--out", str(tmp_path / "x.npy")], capsys)
    _assert_one_line_error(code, err, "4 bands", "10-band")
    code, _, err = _run(["train", "--resume"], capsys)
    _assert_one_line_error(code, err, "--resume needs --out")


def test_resume_continues_with_saved_settings(run_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy)
    code, out, err = _run(["train", "--out", str(copy), "--resume", "--quiet"], capsys)
    assert code == 0, err
    assert "OA" in out
    code, _, err = _run(["train", "--out", str(copy), "--resume", "--lr", "0.5"], capsys)
    _assert_one_line_error(code, err, f"train.lr: {RunConfig().train.lr!r} -> 0.5")


def test_several_seeds_print_mean_and_std(files: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(_train_args(files, tmp_path / "many", "--runs", "2"), capsys)
    assert code == 0, err
    assert "seed 0: OA" in out and "seed 1: OA" in out
    assert "2 runs (seeds 0, 1): OA" in out and "±" in out
    summary = json.loads((tmp_path / "many" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    assert (tmp_path / "many" / "seed1" / "metrics.json").is_file()


def test_one_seed_summary_shows_no_spread(files: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(_train_args(files, tmp_path / "one", "--runs", "1", "--seed", "4"),
                          capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "one" / "seed4" / "metrics.json").read_text())["test"]
    assert f"1 run (seed 4): OA {100 * metrics['oa']:.2f}%  AA" in out
    assert "±" not in out


def test_predict_reads_an_envi_cube(run_dir: Path, files: tuple[Path, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from spectral import envi

    header = tmp_path / "scene.hdr"
    envi.save_image(str(header), np.load(files[0]), dtype=np.float32, interleave="bil",
                    ext=".img")
    out = tmp_path / "envi_map.npy"
    code, _, err = _run(["predict", str(run_dir), "--cube", str(header), "--out", str(out)],
                        capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(out), np.load(run_dir / "prediction.npy"))
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
