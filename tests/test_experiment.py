"""The experiment runner: grid expansion, resume, aggregation, shipped configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hsi_attn.config import RunConfig
from hsi_attn.experiment import aggregate, expand, load_experiment, parse_experiment, run_experiment

CONFIGS = sorted((Path(__file__).parent.parent / "experiments" / "configs").glob("*.toml"))

# Test OA by (attention, seed) for the fake runs; the hand-computed means are below.
FAKE_OA = {("none", 0): 0.80, ("none", 1): 0.84, ("eca_band", 0): 0.86, ("eca_band", 1): 0.85}


def grid_2x2(**extra: Any) -> dict[str, Any]:
    return {
        "name": "tiny", "scenes": ["indian_pines"], "seeds": [0, 1],
        "protocols": {"random10": {"split": "random", "train_size": 0.1}},
        "grid": {"models": ["resnet3d"], "attentions": ["none", "eca_band"]},
        "quick": {"train": {"epochs": 1}},
        **extra,
    }


class FakeRun:
    """Stands in for train_run: writes metrics.json like a finished run, counts calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, config: RunConfig, out_dir: Path, *, resume: bool, command: str | None) -> None:
        self.calls.append((str(out_dir), resume))
        oa = FAKE_OA[(config.model.attention, config.train.seed)]
        metrics = {
            "device": "cpu", "test": {"oa": oa, "aa": oa - 0.1, "kappa": oa - 0.2},
            "profile": {"params": 1234},
            "timing": {"fit_seconds": 10.0 + config.train.seed, "predict_seconds": 1.0},
        }
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "metrics.json").write_text(json.dumps(metrics))


def test_grid_expands_to_every_cell_and_seed() -> None:
    runs = expand(parse_experiment(grid_2x2()))
    assert [r.run_id for r in runs] == [
        "indian_pines/random10/resnet3d-none/seed0",
        "indian_pines/random10/resnet3d-none/seed1",
        "indian_pines/random10/resnet3d-eca_band/seed0",
        "indian_pines/random10/resnet3d-eca_band/seed1",
    ]
    assert {r.config.data.train_size for r in runs} == {0.1}
    assert [r.config.train.seed for r in runs] == [0, 1, 0, 1]


def test_quick_mode_keeps_one_seed_and_applies_overrides() -> None:
    runs = expand(parse_experiment(grid_2x2()), quick=True)
    assert len(runs) == 2
    assert {r.config.train.epochs for r in runs} == {1}


def test_resume_skips_finished_runs_and_resumes_interrupted_ones(tmp_path: Path) -> None:
    spec = parse_experiment(grid_2x2())
    fake = FakeRun()
    first = run_experiment(spec, tmp_path, run_fn=fake)
    assert len(fake.calls) == 4 and not any(r.skipped for r in first)
    # Interrupt one run: metrics gone, checkpoint left behind.
    interrupted = tmp_path / "runs" / "indian_pines/random10/resnet3d-eca_band/seed1"
    (interrupted / "metrics.json").unlink()
    (interrupted / "checkpoint.pt").write_bytes(b"x")
    fake.calls.clear()
    second = run_experiment(spec, tmp_path, run_fn=fake)
    assert fake.calls == [(str(interrupted), True)]
    assert [r.skipped for r in second] == [True, True, True, False]


def test_aggregation_matches_hand_computed_means(tmp_path: Path) -> None:
    records = run_experiment(parse_experiment(grid_2x2()), tmp_path, run_fn=FakeRun())
    summary = aggregate(records)
    cells = {c["attention"]: c for c in summary["cells"]}
    assert cells["none"]["oa"]["mean"] == pytest.approx(0.82)
    assert cells["none"]["oa"]["std"] == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert cells["eca_band"]["oa"]["mean"] == pytest.approx(0.855)
    assert cells["eca_band"]["kappa"]["mean"] == pytest.approx(0.655)
    assert cells["eca_band"]["fit_seconds"] == pytest.approx(10.5)
    assert cells["eca_band"]["best_seed"] == 0
    (paired,) = [p for p in summary["paired"] if p["attention"] == "eca_band"]
    assert paired["baseline"] == "none"
    assert paired["differences"] == pytest.approx([0.06, 0.01])
    assert paired["mean_difference"] == pytest.approx(0.035)
    assert paired["wins"] == 2


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load_and_expand(path: Path) -> None:
    spec = load_experiment(path)
    runs = expand(spec)
    assert len(runs) == len(spec.scenes) * len(spec.protocols) * len(spec.cells) * len(spec.seeds)
    assert len({r.run_id for r in runs}) == len(runs)


def test_ablation_configs_cover_the_issue_grid() -> None:
    spec = load_experiment(next(p for p in CONFIGS if p.stem == "indian_pines_random10"))
    attentions = {a for m, a in spec.cells if m == "resnet3d"}
    assert attentions == {"none", "se3d", "se_band", "eca_band", "eca_band_conv", "eca_dual", "cbam_band"}
    assert {("hamida3d", "none"), ("hamida3d", "eca_band")} <= set(spec.cells)
    assert len(spec.seeds) == 5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sedes": [0]}, "Did you mean 'seeds'"),
        ({"grid": {"models": ["resnet3d"], "attentions": ["eca_bnad"]}}, "Did you mean 'eca_band'"),
        ({"grid": {"models": ["resnet"], "attentions": ["none"]}}, "unknown model"),
        ({"scenes": ["indian_pine"]}, "Did you mean 'indian_pines'"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"protocols": {"p": {"train_sise": 0.1}}}, "Did you mean 'train_size'"),
        ({"base": {"train": {"epoch": 3}}}, "Did you mean 'epochs'"),
    ],
)
def test_bad_experiment_files_get_clear_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_experiment(grid_2x2(**change))


def test_missing_cube_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hsi_attn.data import DatasetNotFoundError

    monkeypatch.setenv("HSI_ATTN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = load_experiment(next(p for p in CONFIGS if p.stem == "pavia_university"))
    with pytest.raises(DatasetNotFoundError, match="pavia"):
        run_experiment(spec, tmp_path / "out", quick=True)


def test_quick_experiment_runs_end_to_end_through_the_cli(tmp_path: Path) -> None:
    from hsi_attn.cli import main

    rng = np.random.default_rng(0)
    gt = np.zeros((18, 18), dtype=np.int64)
    gt[2:8, 2:16], gt[10:16, 2:9], gt[10:16, 10:16] = 1, 2, 3
    centres = rng.normal(size=(4, 8)) * 3
    cube = (centres[gt] + rng.normal(size=(18, 18, 8))).astype(np.float32)
    np.save(tmp_path / "cube.npy", cube)
    np.save(tmp_path / "gt.npy", gt)
    config = tmp_path / "tiny.toml"
    config.write_text(f"""
name = "tiny"
scenes = ["tiny"]
seeds = [3, 4]
[base.data]
cube_path = "{tmp_path / 'cube.npy'}"
gt_path = "{tmp_path / 'gt.npy'}"
pca = 4
[base.model]
patch_size = 3
[base.train]
epochs = 3
batch_size = 16
device = "cpu"
[protocols.random30]
split = "random"
train_size = 0.3
val_size = 0.1
[grid]
models = ["resnet3d"]
attentions = ["none", "eca_band"]
[quick.train]
epochs = 1
""")
    out = tmp_path / "results"
    assert main(["experiment", str(config), "--quick", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {c["attention"] for c in summary["cells"]} == {"none", "eca_band"}
    assert all(c["seeds"] == [3] for c in summary["cells"])
    table = (out / "tiny_random30.md").read_text()
    assert "hsi-attn experiment" in table and "| resnet3d | eca_band | 1 |" in table
    assert "on cpu: " in table and "logical cores, torch threads" in table  # which machine
    assert len(json.loads((out / "runs.json").read_text())) == 2
    assert sorted(p.name for p in (out / "maps").iterdir()) == [
        "tiny_random30_resnet3d-eca_band.png", "tiny_random30_resnet3d-none.png",
    ]
    runs = sorted((out / "runs").glob("tiny/random30/*/seed3/metrics.json"))
    assert len(runs) == 2
    stamp = [p.stat().st_mtime_ns for p in runs]
    assert main(["experiment", str(config), "--quick", "--out", str(out), "--quiet"]) == 0
    assert [p.stat().st_mtime_ns for p in runs] == stamp  # finished runs are not redone
