"""The run directory as a user meets it: its default name, reruns, failed starts, temp files."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsi_attn.config import DataConfig, ModelConfig, RunConfig
from hsi_attn.data import Scene
from hsi_attn.engine import Callback, load_checkpoint
from hsi_attn.engine.atomic import remove_stale_temp_files
from hsi_attn.run import (
    RUN_FILES,
    RunDirectoryError,
    default_run_dir,
    next_free_run_dir,
    run_name,
    train_run,
)
from test_training_run import tiny_config, tiny_scene


@pytest.fixture(scope="module")
def scene() -> Scene:
    return tiny_scene()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, scene: Scene) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    train_run(tiny_config(epochs=1), out, scene=scene)
    return out


class _FailAt(Callback):
    """Raises ``error`` after the given batch of the given epoch."""

    def __init__(self, epoch: int, error: BaseException) -> None:
        self.epoch, self.error = epoch, error

    def on_batch_end(self, state) -> None:  # type: ignore[no-untyped-def]
        if state.epoch == self.epoch and state.batch == 1:
            raise self.error


def test_default_name_says_scene_split_model_attention_and_seed() -> None:
    assert run_name(RunConfig()) == "indian_pines-random-resnet3d-eca_band-seed0"
    disjoint = RunConfig(data=DataConfig(scene="pavia_university", split="disjoint"),
                         model=ModelConfig(name="hamida3d", attention="se_band"))
    assert default_run_dir(disjoint) == Path(
        "runs/pavia_university-disjoint-hamida3d-se_band-seed0")


def test_a_cube_run_is_named_after_the_cube_file(tmp_path: Path) -> None:
    config = RunConfig(data=DataConfig(cube_path=str(tmp_path / "field_2024.hdr"),
                                       gt_path=str(tmp_path / "field_gt.npy")))
    assert run_name(config) == "field_2024-random-resnet3d-eca_band-seed0"


def test_next_free_name_skips_names_that_hold_files(tmp_path: Path) -> None:
    base = tmp_path / "runs" / "scene-random-m-a-seed0"
    assert next_free_run_dir(base) == base
    base.mkdir(parents=True)
    assert next_free_run_dir(base) == base  # an empty directory is free
    (base / "config.json").write_text("{}")
    assert next_free_run_dir(base) == base.with_name(base.name + "-2")
    (base.with_name(base.name + "-2")).mkdir()
    (base.with_name(base.name + "-2") / "x").write_text("")
    assert next_free_run_dir(base) == base.with_name(base.name + "-3")


def test_rerun_without_out_takes_the_next_free_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scene: Scene,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tiny_config(epochs=1)
    first = train_run(config, scene=scene)
    assert first.out_dir == Path("runs/tiny-random-resnet3d-eca_band-seed0")
    with caplog.at_level(logging.INFO, logger="hsi_attn"):
        second = train_run(config, scene=scene)
    assert second.out_dir == Path("runs/tiny-random-resnet3d-eca_band-seed0-2")
    assert "this run goes to runs/tiny-random-resnet3d-eca_band-seed0-2" in caplog.text
    assert sorted(p.name for p in second.out_dir.iterdir()) == sorted(RUN_FILES)
    assert second.metrics["test"] == first.metrics["test"]  # same seed, same result


def test_explicit_out_holding_a_run_still_needs_a_flag(finished: Path, scene: Scene) -> None:
    with pytest.raises(RunDirectoryError, match="not empty.*--resume.*--overwrite"):
        train_run(tiny_config(epochs=1), finished, scene=scene)


def test_misfit_model_leaves_nothing_and_the_corrected_rerun_succeeds(
    tmp_path: Path, scene: Scene
) -> None:
    out = tmp_path / "new" / "run"
    # hybridsn needs at least 16 bands; the tiny scene has 10.
    misfit = dataclasses.replace(tiny_config(epochs=1),
                                 model=ModelConfig(name="hybridsn", attention="none"))
    with pytest.raises(ValueError, match="n_bands"):
        train_run(misfit, out, scene=scene)
    assert not (tmp_path / "new").exists()
    result = train_run(tiny_config(epochs=1), out, scene=scene)
    assert result.out_dir == out and (out / "metrics.json").is_file()


def test_bad_ground_truth_file_then_the_corrected_rerun(tmp_path: Path, scene: Scene) -> None:
    np.save(tmp_path / "cube.npy", scene.cube)
    np.save(tmp_path / "bad_gt.npy", scene.gt[:, :5])  # wrong shape
    np.save(tmp_path / "gt.npy", scene.gt)
    out = tmp_path / "run"
    out.mkdir()  # an empty directory the user made is kept as it was

    def config(gt: str) -> RunConfig:
        return dataclasses.replace(tiny_config(epochs=1), data=dataclasses.replace(
            tiny_config().data, cube_path=str(tmp_path / "cube.npy"),
            gt_path=str(tmp_path / gt)))

    with pytest.raises(ValueError, match="is 14x14 .* but labels .* are 14x5"):
        train_run(config("bad_gt.npy"), out)
    assert out.is_dir() and not any(out.iterdir())
    train_run(config("gt.npy"), out)
    assert (out / "metrics.json").is_file()


def test_error_in_the_first_epoch_is_undone(tmp_path: Path, scene: Scene) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="out of memory"):
        train_run(tiny_config(epochs=2), out, scene=scene,
                  callbacks=[_FailAt(1, RuntimeError("out of memory"))])
    assert not out.exists()
    train_run(tiny_config(epochs=1), out, scene=scene)
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 1


def test_failed_overwrite_keeps_the_users_other_files(tmp_path: Path, scene: Scene,
                                                      finished: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        train_run(tiny_config(epochs=2), out, scene=scene, overwrite=True,
                  callbacks=[_FailAt(1, RuntimeError("boom"))])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    train_run(tiny_config(epochs=1), out, scene=scene, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_an_error_after_the_first_epoch_keeps_the_run_resumable(tmp_path: Path,
                                                                scene: Scene) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        train_run(tiny_config(epochs=2), out, scene=scene,
                  callbacks=[_FailAt(2, RuntimeError("disk full"))])
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    result = train_run(tiny_config(epochs=2), out, scene=scene, resume=True)
    assert len(result.history) == 2


def test_ctrl_c_in_the_first_epoch_keeps_the_run_resumable(tmp_path: Path,
                                                           scene: Scene) -> None:
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_config(epochs=1), out, scene=scene,
                  callbacks=[_FailAt(1, KeyboardInterrupt())])
    assert {"config.json", "checkpoint.pt"} <= {p.name for p in out.iterdir()}
    train_run(tiny_config(epochs=1), out, scene=scene, resume=True)
    assert (out / "metrics.json").is_file()


def test_resume_accepts_a_change_of_where_and_how_fast(finished: Path, scene: Scene,
                                                       tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    faster = tiny_config(epochs=1, eval_batch_size=7, precision="fp32")
    result = train_run(faster, copy, scene=scene, resume=True)
    assert result.metrics["test"] == json.loads((finished / "metrics.json").read_text())["test"]
    with pytest.raises(ValueError, match=r"cannot resume .*train.seed: 0 -> 1"):
        train_run(tiny_config(epochs=1, seed=1, eval_batch_size=7), copy, scene=scene,
                  resume=True)


def _killed_mid_write(folder: Path, name: str) -> Path:
    """Leave the temp file of a process SIGKILLed between an atomic write and its rename."""
    code = (
        "import os, signal, sys\n"
        "from hsi_attn.engine.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as handle:\n"
        "    handle.write(b'half a checkpoint')\n"
        "    handle.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code, str(folder / name)], env=env,
                          check=False)
    assert done.returncode == -signal.SIGKILL
    (left,) = [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]
    return left


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_resume_removes_temp_files_of_a_killed_write(finished: Path, scene: Scene,
                                                     tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    left = _killed_mid_write(copy, "checkpoint.pt")
    assert left.name.endswith(".tmp")
    train_run(tiny_config(epochs=1), copy, scene=scene, resume=True)
    assert sorted(p.name for p in copy.iterdir()) == sorted(RUN_FILES)


def test_a_finished_run_leaves_no_temp_files(tmp_path: Path, scene: Scene) -> None:
    class LeaveTempFile(Callback):
        """Plays a killed writer: a stale temp file appears during training."""

        def on_epoch_end(self, state) -> None:  # type: ignore[no-untyped-def]
            (out / f".metrics.json.{2**22 + 1}.0123abcd.tmp").write_text("stale")

    out = tmp_path / "run"
    train_run(tiny_config(epochs=1), out, scene=scene, callbacks=[LeaveTempFile()])
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)


def test_only_stale_temp_files_of_the_named_files_are_removed(tmp_path: Path) -> None:
    dead = f".checkpoint.pt.{2**22 + 1}.0123abcd.tmp"  # above Linux's pid_max default
    live = f".checkpoint.pt.{os.getppid()}.0123abcd.tmp"  # the parent is writing
    other = f".notes.txt.{2**22 + 1}.0123abcd.tmp"
    for name in (dead, live, other, "checkpoint.pt", ".checkpoint.pt.tmp"):
        (tmp_path / name).write_text("")
    removed = remove_stale_temp_files(tmp_path, ["checkpoint.pt", "metrics.json"])
    assert [p.name for p in removed] == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live, other, "checkpoint.pt", ".checkpoint.pt.tmp"])
    assert remove_stale_temp_files(tmp_path / "missing", ["checkpoint.pt"]) == []
