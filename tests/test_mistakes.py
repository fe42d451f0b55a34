"""The mistakes a new user made (issue 13), each answered by one line, never a traceback.

Every row of :data:`MISTAKES` is a ``hsi-attn train`` command with one mistake in it and
what it must end in: a one-line ``hsi-attn: error:`` that names the problem, or a
``hsi-attn: warning:`` line that names the ignored or adjusted setting. After an error,
nothing may be left in ``--out`` that blocks the corrected command (run next, with the
same ``--out`` and no ``--overwrite``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from hsi_attn.cli import EXIT_ERROR, main


class Mistake(NamedTuple):
    """One mistaken command line and how it must end."""

    id: str
    extra: tuple[str, ...]
    outcome: str  # "error" or "warning"
    says: tuple[str, ...]  # fragments the one line must contain


MISTAKES: tuple[Mistake, ...] = (
    Mistake("batch size 0", ("--batch-size", "0"), "error", ("--batch-size", "0")),
    Mistake("label smoothing 2", ("--label-smoothing", "2"), "error",
            ("--label-smoothing", "[0, 1)")),
    Mistake("patch size larger than the image", ("--patch-size", "31"), "error",
            ("--patch-size", "31", "largest patch size")),
    Mistake("even ECA kernel", ("--attention", "eca_band", "--kernel-size", "4"), "error",
            ("--kernel-size", "4")),
    Mistake("reduction with an ECA attention", ("--attention", "eca_band", "--reduction", "8"),
            "warning", ("reduction", "ignored", "eca_band")),
    Mistake("kernel size with an SE attention", ("--attention", "se_band", "--kernel-size", "5"),
            "warning", ("kernel_size", "ignored", "se_band")),
    Mistake("cube variable with a .npy cube", ("--cube-variable", "data"), "warning",
            ("--cube-variable", "ignored", ".npy")),
    Mistake("reduction larger than the channels", ("--attention", "se_band", "--reduction",
                                                   "1000"),
            "warning", ("reduction=1000", "clamped to 1")),
    Mistake("unknown attention", ("--attention", "eca_bnd"), "error", ("eca_bnd", "eca_band")),
    Mistake("one-class ground truth", ("--gt", "{one_class}"), "error", ("single class",)),
    Mistake("missing ground truth file", ("--gt", "{missing}"), "error", ("missing.npy",)),
)


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 14 x 14 x 10 cube, its 3-class ground truth and a one-class one, as .npy files."""
    folder = tmp_path_factory.mktemp("mistakes")
    rng = np.random.default_rng(0)
    stripes = np.repeat(np.arange(3), 5)[None, :14].repeat(14, axis=0)
    gt = (stripes + 1).astype(np.int64)
    gt[rng.random(gt.shape) < 0.1] = 0
    cube = (rng.normal(size=(3, 10)).astype(np.float32) * 2.0)[stripes]
    cube += rng.normal(scale=0.5, size=cube.shape).astype(np.float32)
    files = {"cube": folder / "cube.npy", "gt": folder / "gt.npy",
             "one_class": folder / "one_class.npy", "missing": folder / "missing.npy"}
    np.save(files["cube"], cube)
    np.save(files["gt"], gt)
    np.save(files["one_class"], np.where(gt > 0, 1, 0))
    return files


def _command(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """A tiny, valid ``hsi-attn train`` on the fixture cube, with ``extra`` appended."""
    extra = tuple(e.format(**{k: str(v) for k, v in files.items()}) for e in extra)
    return ["train", "--cube", str(files["cube"]), "--gt", str(files["gt"]),
            "--patch-size", "5", "--pca", "none", "--train-size", "0.3", "--val-size", "0.2",
            "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--out", str(out),
            "--quiet", *extra]


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_each_mistake_ends_in_one_clear_line(
    mistake: Mistake, scene_files: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    code = main(_command(scene_files, out, *mistake.extra))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if mistake.outcome == "error":
        assert code == EXIT_ERROR, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("hsi-attn: error: "), err
        for fragment in mistake.says:
            assert fragment in lines[0], (fragment, lines[0])
        # Nothing left behind blocks the corrected command with the same --out.
        assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())
        assert main(_command(scene_files, out)) == 0, capsys.readouterr().err
    else:
        assert code == 0, err
        warnings = _lines(err, "hsi-attn: warning: ")
        assert len(warnings) == 1, err
        for fragment in mistake.says:
            assert fragment in warnings[0], (fragment, warnings[0])


def test_a_patch_size_the_scene_cannot_hold_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--patch-size 301`` on Indian Pines once grew to 23 GB; now it is one line."""
    from hsi_attn.data import locate_scene

    if not locate_scene("indian_pines").available:
        pytest.skip("Indian Pines is not available here (set HSI_ATTN_DATA or install tensorly)")
    out = tmp_path / "run"
    code = main(["train", "--patch-size", "301", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and "Traceback" not in err
    assert err.count("\n") == 1 and "301" in err and "145" in err, err
    assert not out.exists() or not any(out.iterdir())


def test_a_missing_root_folder_is_an_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-folder"
    code = main(["train", "--root", str(missing), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and err.count("\n") == 1
    assert str(missing) in err and "does not exist" in err


def test_a_rerun_without_out_does_not_fail(
    scene_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    command = [a for a in _command(scene_files, tmp_path) if a not in ("--out", str(tmp_path))]
    assert main(command) == 0
    assert main(command) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["cube-random-resnet3d-eca_band-seed0", "cube-random-resnet3d-eca_band-seed0-2"]
    capsys.readouterr()


def test_a_killed_checkpoint_write_leaves_no_temp_file_in_the_finished_run(
    scene_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_command(scene_files, out, "--epochs", "2")) == 0
    # What a kill between a checkpoint's write and its rename leaves behind.
    stale = out / ".checkpoint.pt.4242.a1b2c3d4.tmp"  # engine.atomic.temp_path naming
    stale.write_bytes(b"partial checkpoint")
    assert main(_command(scene_files, out, "--epochs", "2", "--resume")) == 0
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
