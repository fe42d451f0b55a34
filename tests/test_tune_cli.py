"""``hsi-attn tune`` through the CLI's subcommand table: parsing, the handler, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hsi_attn import cli

from test_tune_fixtures import tiny_scene

TUNE = next(entry for entry in cli.SUBCOMMANDS if entry.name == "tune")


def test_options_map_to_the_run_config(tmp_path: Path) -> None:
    parser = cli.build_parser((TUNE,))
    args = parser.parse_args([
        "tune", "--scene", "tiny", "--epochs", "2", "--train-size", "0.3", "--split", "disjoint",
        "--attention", "eca_band", "se_band", "--patch-size", "5", "--n-trials", "3",
        "--pruner", "hyperband", "--sampler", "random", "--workers", "2",
        "--storage", "journal:/x/j.log", "--no-retrain", "--out", str(tmp_path),
        "--no-augment", "--grad-clip", "none", "--pad-mode", "symmetric",
    ])
    from hsi_attn.cli.tune import base_config

    base = base_config(args)
    assert (base.data.scene, base.data.split, base.data.train_size) == ("tiny", "disjoint", 0.3)
    assert base.train.epochs == 2 and base.model.patch_size == 5
    assert (base.train.augment, base.train.grad_clip, base.data.pad_mode) == (False, None,
                                                                             "symmetric")
    assert args.attention == ["eca_band", "se_band"] and args.n_trials == 3
    assert (args.pruner, args.sampler, args.workers, args.retrain) == ("hyperband", "random", 2,
                                                                       False)


def test_bad_input_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["--pruner", "medain"], "unknown pruner 'medain'. Did you mean 'median'?"),
        (["--sampler", "grid"], "unknown sampler 'grid'"),
        (["--n-trials", "0"], "n_trials must be an integer >= 1, got 0"),
        (["--storage", "postgresql://me:hunter2@127.0.0.1:1/db"],
         "postgresql://me:***@127.0.0.1:1/db"),
    ]
    for extra, expected in cases:
        status = cli.main(["tune", "--out", str(tmp_path / "s"), *extra])
        err = capsys.readouterr().err
        assert status == cli.EXIT_ERROR, err
        assert err.startswith("hsi-attn: error: ") and expected in err
        assert "hunter2" not in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_a_study_from_the_command_line_on_a_user_cube(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    scene = tiny_scene()
    np.save(tmp_path / "cube.npy", scene.cube)
    np.save(tmp_path / "gt.npy", scene.gt)
    space = tmp_path / "space.toml"
    space.write_text('kernel_size = [3, 5]\nlr = [3e-3, 1e-2]\n')
    out = tmp_path / "study"
    status = cli.main([
        "tune", "--cube", str(tmp_path / "cube.npy"), "--gt", str(tmp_path / "gt.npy"),
        "--scene", "tiny", "--model", "resnet3d", "--attention", "eca_band", "--patch-size",
        "5", "--epochs", "1", "--batch-size", "16", "--train-size", "0.3", "--val-size",
        "0.2", "--pca", "none", "--device", "cpu", "--search-space", str(space), "--n-trials", "2",
        "--pruner", "none", "--no-retrain", "--out", str(out),
    ])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    # the summary is printed once, on stdout, even at the default (INFO) log level
    assert captured.out.count("best trial") == 1 and "best trial" not in captured.err
    assert captured.out.count(f"study directory: {out}") == 1
    best = json.loads((out / "best_params.json").read_text())
    assert best["best_params"]["kernel_size"] in (3, 5)
    assert best["command"].startswith("hsi-attn tune --cube")
    assert best["config"]["data"]["cube_path"] == str((tmp_path / "cube.npy").resolve())
