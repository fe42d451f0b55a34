"""``hsi-attn tune``: an Optuna search over attention, its options and the learning rate.

Settings the tuner does not search are fixed for every trial and taken from the one
options table (:func:`hsi_attn.cli.options.fixed_options`); the search space has its
own options (``--attention NAME...``, ``--patch-size P...``, ``--search-space FILE``).
The handler builds the same :class:`~hsi_attn.config.RunConfig` the other commands do
and calls :func:`hsi_attn.tuning.study.run_study`; the summary is printed once, here.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hsi_attn.cli import report
from hsi_attn.cli.options import (
    add_config_options,
    add_scene_location,
    config_from_args,
    fixed_options,
)
from hsi_attn.config import RunConfig

if TYPE_CHECKING:
    from hsi_attn.tuning.study import StudyResult

__all__ = ["add_arguments", "base_config", "run", "run_tune_command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn tune`` options to ``parser``."""
    defaults = RunConfig()
    fixed = parser.add_argument_group("fixed settings, the same for every trial (defaults from "
                                      "hsi_attn.config)")
    add_config_options(fixed, fixed_options())
    add_scene_location(fixed)
    space = parser.add_argument_group("search space")
    space.add_argument("--attention", nargs="+", default=None, metavar="NAME",
                       help="attention(s) to tune; several are searched as a categorical "
                            f"(default: {defaults.model.attention})")
    space.add_argument("--patch-size", nargs="+", type=int, default=None, metavar="P",
                       help="patch size, or several to search over "
                            f"(default: {defaults.model.patch_size})")
    space.add_argument("--search-space", type=Path, default=None, metavar="FILE",
                       help="TOML or JSON file overriding the default ranges (keys: attention, "
                            "reduction, kernel_size, lr, weight_decay, patch_size)")
    study = parser.add_argument_group("study")
    study.add_argument("--n-trials", type=int, default=20, metavar="N",
                       help="finished (complete or pruned) trials wanted in the study "
                            "(default: 20)")
    study.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="start no new trial after this many seconds")
    study.add_argument("--pruner", default="median", help="median, hyperband or none "
                                                          "(default: median)")
    study.add_argument("--sampler", default="tpe", help="tpe or random (default: tpe)")
    study.add_argument("--sampler-seed", type=int, default=None, metavar="SEED",
                       help="sampler seed (default: --seed); use a different one per machine")
    study.add_argument("--storage", default=None, metavar="URL",
                       help="Optuna storage: postgresql://user:password@host:5432/db, "
                            "sqlite:///file.db or journal:PATH (default: OUT/study.db, "
                            "OUT/journal.log with several workers)")
    study.add_argument("--study-name", default=None, metavar="NAME",
                       help="study name (default: <scene>-<model>-<attentions>)")
    study.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes on this machine (default: 1)")
    study.add_argument("--no-retrain", dest="retrain", action="store_false",
                       help="skip retraining the best configuration on the test split")
    study.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="study directory (default: studies/<study-name>)")


def base_config(args: argparse.Namespace) -> RunConfig:
    """The configuration every trial starts from: the defaults with the fixed settings given."""
    config = config_from_args(args)
    if args.patch_size and len(args.patch_size) == 1:
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, patch_size=args.patch_size[0]))
    return config


def run_tune_command(args: argparse.Namespace) -> StudyResult:
    """Run (or resume) the study ``args`` describe.

    Returns:
        The study's result (errors are raised for the command line to report).
    """
    from hsi_attn.tuning.search_space import SearchSpace, load_search_space
    from hsi_attn.tuning.study import default_study_name, run_study

    base = base_config(args)
    space = load_search_space(args.search_space) if args.search_space else SearchSpace()
    if args.patch_size and len(args.patch_size) > 1:
        space = dataclasses.replace(space, patch_sizes=tuple(args.patch_size))
    if args.attention:
        space = space.with_attentions(args.attention)
    name = args.study_name or default_study_name(base.data.scene, base, space)
    out = args.out or Path("studies") / name
    argv = getattr(args, "argv", None) or sys.argv[1:]
    command = shlex.join(["hsi-attn", *argv])
    return run_study(
        base.data.scene, study_dir=out, base_config=base, search_space=space,
        n_trials=args.n_trials, timeout=args.timeout, sampler_seed=args.sampler_seed,
        storage=args.storage, study_name=name, pruner=args.pruner, sampler=args.sampler,
        workers=args.workers, retrain=args.retrain, root=args.root, download=args.download,
        command=command,
    )


def run(args: argparse.Namespace) -> int:
    """Run the study and print its summary (once, on stdout)."""
    print(report.tune_summary(run_tune_command(args)))
    return 0
