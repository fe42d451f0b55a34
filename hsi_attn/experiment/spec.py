"""Declarative experiment files and their expansion into runs.

An experiment file (TOML) names a base configuration, the protocols (how a scene is
split), and a grid of scene x protocol x (model, attention) x seed::

    name = "indian_pines_ablation"
    description = "Band-preserving attention on the flagship backbone"
    scenes = ["indian_pines"]
    seeds = [0, 1, 2, 3, 4]

    [base.train]          # RunConfig overrides shared by every run
    epochs = 40

    [protocols.random10]  # DataConfig overrides, one table per protocol
    split = "random"
    train_size = 0.1

    [grid]                # models x attentions, plus explicit extra cells
    models = ["resnet3d"]
    attentions = ["none", "se3d", "se_band"]
    extra_cells = [["hamida3d", "none"], ["hamida3d", "eca_band"]]

    [quick.train]         # overrides applied by --quick (smoke runs)
    epochs = 1

Every key is checked: an unknown one is an error with a suggestion, and every cell's
configuration is built (so checked, :mod:`hsi_attn.config`) before anything trains.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsi_attn.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    check_setting,
    from_dict,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_TOP_KEYS = ("name", "description", "scenes", "seeds", "base", "protocols", "grid", "quick")
_GRID_KEYS = ("models", "attentions", "extra_cells")
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class PlannedRun:
    """One cell of the grid at one seed.

    Attributes:
        run_id: ``scene/protocol/model-attention/seed<k>``, also the run's folder.
        protocol: Protocol name.
        config: The complete run configuration.
    """

    run_id: str
    protocol: str
    config: RunConfig


@dataclass(frozen=True)
class ExperimentSpec:
    """A parsed, validated experiment file.

    Attributes:
        name: Experiment name (folder name of its results).
        description: Free text shown in the reports.
        scenes: Scene names.
        seeds: Seeds, one run per seed and cell.
        base: Configuration shared by every run.
        protocols: Protocol name -> DataConfig overrides.
        cells: (model, attention) pairs.
        quick: Overrides applied in quick (smoke) mode.
    """

    name: str
    description: str
    scenes: tuple[str, ...]
    seeds: tuple[int, ...]
    base: RunConfig
    protocols: Mapping[str, Mapping[str, Any]]
    cells: tuple[tuple[str, str], ...]
    quick: Mapping[str, Mapping[str, Any]]


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown key {key!r} in {where}.{hint} Accepted: {', '.join(allowed)}.")


def _override(config: RunConfig, overrides: Mapping[str, Any], where: str) -> RunConfig:
    """Apply ``{"data": {...}, "model": {...}, "train": {...}}`` to ``config``."""
    _check_keys(overrides, tuple(_SECTIONS), where)
    sections = {}
    for section, cls in _SECTIONS.items():
        current = dataclasses.asdict(getattr(config, section))
        values = dict(overrides.get(section, {}))
        sections[section] = from_dict(cls, {**current, **values})
    return RunConfig(**sections)


def parse_experiment(data: Mapping[str, Any], *, source: str = "<experiment>") -> ExperimentSpec:
    """Validate a parsed experiment table and build its :class:`ExperimentSpec`.

    Raises:
        ValueError: On unknown keys, empty grids, duplicate seeds or names that no
            registry knows (with suggestions).
    """
    _check_keys(data, _TOP_KEYS, source)
    for required in ("name", "scenes", "seeds", "protocols", "grid"):
        if required not in data:
            raise ValueError(f"{source} lacks the required key {required!r}")
    try:
        seeds = tuple(check_setting(TrainConfig, "seed", s) for s in data["seeds"])
    except ValueError as error:
        raise ValueError(f"{source}: seeds: {error}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{source}: seeds must be a non-empty list of distinct ints, got {list(seeds)}")
    scenes = tuple(str(s) for s in data["scenes"])
    if not scenes:
        raise ValueError(f"{source}: scenes must not be empty")
    base = _override(RunConfig(), data.get("base", {}), f"{source} [base]")
    protocols = data["protocols"]
    _check_keys(protocols, tuple(protocols), f"{source} [protocols]")
    if not protocols:
        raise ValueError(f"{source}: define at least one [protocols.NAME] table")
    for name, overrides in protocols.items():
        from_dict(DataConfig, {**dataclasses.asdict(base.data), **overrides})
        if "scene" in overrides:
            raise ValueError(f"{source} [protocols.{name}]: the scene comes from 'scenes', not the protocol")
    grid = data["grid"]
    _check_keys(grid, _GRID_KEYS, f"{source} [grid]")
    cells = [(m, a) for m in grid.get("models", []) for a in grid.get("attentions", [])]
    cells += [tuple(cell) for cell in grid.get("extra_cells", [])]  # type: ignore[misc]
    if not cells:
        raise ValueError(f"{source} [grid]: give models and attentions, or extra_cells")
    if any(len(cell) != 2 for cell in cells):
        raise ValueError(f"{source} [grid]: each extra cell is [model, attention]")
    if len(set(cells)) != len(cells):
        raise ValueError(f"{source} [grid]: a (model, attention) cell is listed twice")
    quick = data.get("quick", {})
    _override(base, quick, f"{source} [quick]")
    spec = ExperimentSpec(
        name=str(data["name"]), description=str(data.get("description", "")),
        scenes=scenes, seeds=seeds, base=base, protocols=dict(protocols),
        cells=tuple(cells), quick=dict(quick),  # type: ignore[arg-type]
    )
    _validate_names(spec)
    return spec


def _validate_names(spec: ExperimentSpec) -> None:
    """Fail before the first run trains: scene names, and every cell's model config."""
    from hsi_attn.data import get_manifest

    if spec.base.data.cube_path is None:  # a user's own cube is named freely
        for scene in spec.scenes:
            get_manifest(scene)  # ValueError with close matches for an unknown scene
    for model, attention in spec.cells:
        dataclasses.replace(spec.base.model, name=model, attention=attention)


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment TOML file.

    Raises:
        FileNotFoundError: If ``path`` does not exist (the message says where to look).
        ValueError: On a TOML syntax error or an invalid experiment.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"experiment file {str(file)!r} not found; the shipped ones are in experiments/configs/"
        )
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{file}: not valid TOML ({error})") from None
    return parse_experiment(data, source=str(file))


def expand(spec: ExperimentSpec, *, quick: bool = False) -> list[PlannedRun]:
    """All runs of the grid, in a stable order; quick mode keeps the first seed only."""
    base = _override(spec.base, spec.quick, "[quick]") if quick else spec.base
    seeds = spec.seeds[:1] if quick else spec.seeds
    runs = []
    for scene in spec.scenes:
        for protocol, overrides in spec.protocols.items():
            data = dataclasses.replace(base.data, scene=scene, **overrides)
            for model, attention in spec.cells:
                for seed in seeds:
                    config = RunConfig(
                        data=data,
                        model=dataclasses.replace(base.model, name=model, attention=attention),
                        train=dataclasses.replace(base.train, seed=seed),
                    )
                    run_id = f"{scene}/{protocol}/{model}-{attention}/seed{seed}"
                    runs.append(PlannedRun(run_id=run_id, protocol=protocol, config=config))
    return runs
