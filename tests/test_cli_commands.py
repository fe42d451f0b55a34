"""The small subcommands and the terminal: listings, download, experiment output, warnings."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import hsi_attn.data
import hsi_attn.experiment
from hsi_attn.cli import main
from hsi_attn.cli.report import experiment_cell_line, summary_text
from hsi_attn.data import DatasetNotFoundError, SplitWarning, read_manifest
from hsi_attn.data.manifest import FileSpec
from hsi_attn.layers import ATTENTION
from hsi_attn.layers.factory import ATTENTION_INFO, describe_attention
from hsi_attn.models import MODELS
from hsi_attn.models.registry import MODEL_INFO, describe_model
from hsi_attn.registry import make_registry


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- listings ---------------------------------------------------------------------------


def test_every_registered_name_has_a_description() -> None:
    assert list(MODEL_INFO) == list(MODELS) and list(ATTENTION_INFO) == list(ATTENTION)
    for info in [*MODEL_INFO.values(), *ATTENTION_INFO.values()]:
        assert info.input_shape and info.summary and "\n" not in info.summary
    assert describe_attention("ECA_band").input_shape == "(N,C,D,H,W)"
    with pytest.raises(ValueError, match="Did you mean 'resnet3d'"):
        describe_model("resnet3x")


@pytest.mark.parametrize(("command", "describe", "names"), [
    ("models", describe_model, list(MODELS)),
    ("attention", describe_attention, list(ATTENTION)),
])
def test_listings_show_shape_and_description(command: str, describe: Any, names: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([command], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == names
    for name, line in zip(names, lines):
        info = describe(name)
        assert line.split()[1] == info.input_shape and line.endswith(info.summary)
    # the columns line up
    assert len({line.index(describe(name).input_shape) for name, line in zip(names, lines)}) == 1


def test_eca_band_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["attention"], capsys)
    line = next(line for line in out.splitlines() if line.startswith("eca_band "))
    assert " ".join(line.split()) == "eca_band (N,C,D,H,W) ECA per band: gate (N,C,D,1,1)"


def test_scenes_suggest_the_download_command(isolated_data_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["scenes"], capsys)
    assert code == 0
    missing = [line for line in out.splitlines() if "not available" in line]
    assert missing
    for line in missing:
        name = line.split(":")[0]
        assert line.endswith(f"fetch with: hsi-attn download {name}")
    assert "--download" not in out and "hsi-attn train" not in out


# -- download ---------------------------------------------------------------------------


@pytest.fixture
def fixture_scenes(data_fixtures: Path, isolated_data_env: Path,
                   monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """The tiny fixture manifests as the shipped ones; "downloads" copy the fixture files."""
    manifests = [read_manifest(p) for p in sorted((data_fixtures / "manifests").glob("*.json"))]
    registry = make_registry([(m.name, m) for m in manifests], kind="scene")
    monkeypatch.setattr("hsi_attn.data.manifest.scene_manifests", lambda: registry)
    fetched: list[tuple[str, Path]] = []

    def fake_download(spec: FileSpec, folder: str | Path, *, retries: int = 3) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        source = next((data_fixtures / "scenes").glob(f"*/{spec.name}"))
        shutil.copyfile(source, folder / spec.name)
        fetched.append((spec.name, folder))
        return folder / spec.name

    monkeypatch.setattr("hsi_attn.data.catalog.download_file", fake_download)
    return fetched


def test_download_fetches_verifies_and_does_not_fetch_twice(
    fixture_scenes: list[tuple[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    code, out, err = _run(["download", "ksc", "--root", str(root)], capsys)
    assert code == 0, err
    assert fixture_scenes == [("KSC.mat", root / "ksc"), ("KSC_gt.mat", root / "ksc")]
    assert f"ksc: available (cube: {root / 'ksc' / 'KSC.mat'} [root]" in out
    assert "downloaded cube, gt; sha256 verified; 12 x 9 pixels, 45 bands, 13 classes" in out
    code, out, _ = _run(["download", "ksc", "--root", str(root)], capsys)
    assert code == 0 and "ksc: already here; sha256 verified" in out
    assert len(fixture_scenes) == 2  # nothing fetched the second time
    assert not (tmp_path / "runs").exists()  # no training


def test_download_into_the_cache_by_default(fixture_scenes: list[tuple[str, Path]],
                                            isolated_data_env: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["download", "salinas_a"], capsys)
    assert code == 0, err
    assert {folder for _, folder in fixture_scenes} == {isolated_data_env / "salinas_a"}
    assert "[cache]" in out


def test_download_errors_are_one_line(fixture_scenes: list[tuple[str, Path]], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["download", "kcs"], capsys)
    assert code == 1 and err.startswith("hsi-attn: error: unknown scene 'kcs'")
    assert "Did you mean 'ksc'" in err and len(err.strip().splitlines()) == 1

    def offline(spec: FileSpec, folder: str | Path, *, retries: int = 3) -> Path:
        raise DatasetNotFoundError(f"downloading {spec.name} failed: no network.\nTry later.")

    monkeypatch.setattr("hsi_attn.data.catalog.download_file", offline)
    code, _, err = _run(["download", "ksc", "--root", str(tmp_path)], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "downloading KSC.mat failed: no network. Try later." in err


# -- experiment -------------------------------------------------------------------------


@pytest.fixture
def fake_experiment(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """load_experiment and run_and_publish replaced: one cell over one seed, outputs noted."""
    outs: list[Path] = []

    def run_and_publish(spec: Any, out: Path, *, quick: bool, command: str) -> dict[str, Any]:
        outs.append(Path(out))
        cell = {"scene": "tiny", "protocol": "random30", "model": "resnet3d",
                "attention": "none", "oa": {"mean": 0.91, "std": 0.0, "n": 1}}
        return {"cells": [cell]}

    monkeypatch.setattr(hsi_attn.experiment, "load_experiment",
                        lambda path: SimpleNamespace(name="tiny"))
    monkeypatch.setattr(hsi_attn.experiment, "run_and_publish", run_and_publish)
    return outs


@pytest.mark.parametrize(("extra", "expected"), [
    ([], "experiment-results/tiny"),
    (["--quick"], "experiment-results/tiny_quick"),
    (["--out", "elsewhere/mine"], "elsewhere/mine"),
])
def test_experiment_output_folder(fake_experiment: list[Path], tmp_path: Path, extra: list[str],
                                  expected: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(["experiment", "tiny.toml", *extra], capsys)
    assert code == 0, err
    assert fake_experiment == [Path(expected)]
    lines = out.splitlines()
    assert lines[0] == f"experiment tiny: writing results to {tmp_path / expected}"
    assert lines[-1] == f"results written to {tmp_path / expected}"
    assert lines[1] == "tiny/random30 resnet3d+none: OA 91.00 % over 1 seed"


# -- one-seed summaries -----------------------------------------------------------------


def _summary(values: list[float]) -> dict[str, Any]:
    from hsi_attn.engine.metrics import summarize_runs

    runs = [{"oa": v, "aa": v, "kappa": v, "per_class": []} for v in values]
    return {**summarize_runs(runs), "seeds": list(range(len(values)))}


def test_one_seed_summaries_show_the_value_alone() -> None:
    assert summary_text(_summary([0.9])) == "1 run (seed 0): OA 90.00%  AA 90.00%  kappa 0.9000"
    two = summary_text(_summary([0.9, 0.8]))
    assert two.startswith("2 runs (seeds 0, 1): OA 85.00 ± 7.07%") and two.count("±") == 3
    cell = {"scene": "s", "protocol": "p", "model": "m", "attention": "a",
            "oa": {"mean": 0.5, "std": 0.1, "n": 3}}
    assert experiment_cell_line(cell) == "s/p m+a: OA 50.00 ± 10.00 % over 3 seeds"
    none = {**cell, "oa": {"mean": None, "std": None, "n": 0}}
    assert "OA n/a" in experiment_cell_line(none)


# -- warnings ---------------------------------------------------------------------------


def test_warnings_reach_the_terminal_as_one_line_each(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def warn_then_list() -> list[str]:
        warnings.warn("classes [3] have no validation pixels;\n  use a smaller patch_size",
                      SplitWarning, stacklevel=2)
        logging.getLogger("hsi_attn.data").warning("the run did not\nfinish")
        logging.getLogger("hsi_attn.data").info("an info line stays as it is")
        return []

    monkeypatch.setattr(hsi_attn.data, "list_scenes", warn_then_list)
    before = warnings.showwarning
    warning_lines = [
        "hsi-attn: warning: classes [3] have no validation pixels; use a smaller patch_size",
        "hsi-attn: warning: the run did not finish",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = _run(["scenes"], capsys)
        assert code == 0
        assert err.splitlines() == [*warning_lines, "an info line stays as it is"]
        code, _, err = _run(["scenes", "--quiet"], capsys)
        assert code == 0 and err.splitlines() == warning_lines
    assert warnings.showwarning is before  # the hook lives only while main() runs
