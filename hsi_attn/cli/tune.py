"""``hsi-attn tune``: the arguments and the handler, wired into :mod:`hsi_attn.cli`.

The handler builds the same :class:`~hsi_attn.config.RunConfig` the other commands do
(options left out keep the dataclass defaults) and calls
:func:`hsi_attn.tuning.study.run_study`. Like every handler it prints its result to
stdout and leaves bad input to the CLI's one-line error reporting (ValueError, OSError).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hsi_attn.cli.values import absolute_path, fraction_or_count, int_or
from hsi_attn.config import RunConfig

if TYPE_CHECKING:
    from hsi_attn.tuning.study import StudyResult

__all__ = ["add_tune_arguments", "run_tune_command", "tune_summary"]


# (flag, config section, field, argparse options) for the settings that are not tuned.
_BASE_OPTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("--scene", "data", "scene", {"help": "scene name (see hsi-attn scenes); with --cube, "
                                          "the name given to your cube"}),
    ("--cube", "data", "cube_path", {"type": absolute_path,
                                     "help": "tune on your own cube file instead of a scene"}),
    ("--gt", "data", "gt_path", {"type": absolute_path,
                                 "help": "ground truth for --cube (0 = unlabelled)"}),
    ("--cube-variable", "data", "cube_variable", {"help": "array name inside --cube"}),
    ("--gt-variable", "data", "gt_variable", {"help": "array name inside --gt"}),
    ("--split", "data", "split", {"choices": ["random", "disjoint"],
                                  "help": "random per class, or spatially disjoint blocks"}),
    ("--train-size", "data", "train_size", {"type": fraction_or_count,
                                            "help": "training fraction or count per class"}),
    ("--val-size", "data", "val_size", {"type": fraction_or_count,
                                        "help": "validation fraction or count per class "
                                                "(trials are scored on it)"}),
    ("--normalization", "data", "normalization", {"choices": ["standard", "minmax", "none"],
                                                  "help": "per-band scaling"}),
    ("--pca", "data", "pca", {"type": int_or("none"), "help": "PCA components or 'none'"}),
    ("--model", "model", "name", {"help": "model family (see hsi-attn models)"}),
    ("--epochs", "train", "epochs", {"type": int, "help": "maximum epochs per trial"}),
    ("--batch-size", "train", "batch_size", {"type": int, "help": "training batch size"}),
    ("--optimizer", "train", "optimizer", {"help": "adamw, adam or sgd"}),
    ("--scheduler", "train", "scheduler", {"help": "cosine, onecycle, step or none"}),
    ("--patience", "train", "patience", {"type": int_or("none"),
                                         "help": "early-stopping patience or 'none'"}),
    ("--precision", "train", "precision", {"choices": ["auto", "fp32", "bf16", "fp16"],
                                           "help": "autocast precision"}),
    ("--device", "train", "device", {"help": "auto, cpu, cuda, cuda:N or mps"}),
    ("--seed", "train", "seed", {"type": int, "help": "split and training seed (the same "
                                                     "for every trial)"}),
)


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn tune`` options to ``parser``."""
    defaults = RunConfig()
    base = parser.add_argument_group("what is not tuned (defaults from hsi_attn.config)")
    for flag, section, name, options in _BASE_OPTIONS:
        default = getattr(getattr(defaults, section), name)
        # SUPPRESS: an option left out is absent, so an explicit "none" (None) still overrides.
        base.add_argument(flag, dest=f"{section}__{name}", default=argparse.SUPPRESS,
                          metavar=flag[2:].upper().replace("-", "_"),
                          **{**options, "help": f"{options['help']} (default: {default})"})
    base.add_argument("--root", type=Path, default=None, help="folder searched first for scenes")
    base.add_argument("--download", action="store_true",
                      help="download the scene (checksummed) if it is not found")
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
    study.add_argument("--n-trials", type=int, default=20,
                       help="finished (complete or pruned) trials wanted in the study "
                            "(default: 20)")
    study.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="start no new trial after this many seconds")
    study.add_argument("--pruner", default="median", help="median, hyperband or none "
                                                          "(default: median)")
    study.add_argument("--sampler", default="tpe", help="tpe or random (default: tpe)")
    study.add_argument("--sampler-seed", type=int, default=None,
                       help="sampler seed (default: --seed); use a different one per machine")
    study.add_argument("--storage", default=None, metavar="URL",
                       help="Optuna storage: postgresql://user:password@host:5432/db, "
                            "sqlite:///file.db or journal:PATH (default: OUT/study.db, "
                            "OUT/journal.log with several workers)")
    study.add_argument("--study-name", default=None,
                       help="study name (default: <scene>-<model>-<attentions>)")
    study.add_argument("--workers", type=int, default=1,
                       help="worker processes on this machine (default: 1)")
    study.add_argument("--no-retrain", dest="retrain", action="store_false",
                       help="skip retraining the best configuration on the test split")
    study.add_argument("--out", type=Path, default=None,
                       help="study directory (default: studies/<study-name>)")


def _base_config(args: argparse.Namespace) -> RunConfig:
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for _, section, name, _ in _BASE_OPTIONS:
        key = f"{section}__{name}"
        if hasattr(args, key):
            sections[section][name] = getattr(args, key)
    base = RunConfig()
    if args.patch_size and len(args.patch_size) == 1:
        sections["model"]["patch_size"] = args.patch_size[0]
    return RunConfig(
        data=dataclasses.replace(base.data, **sections["data"]),
        model=dataclasses.replace(base.model, **sections["model"]),
        train=dataclasses.replace(base.train, **sections["train"]),
    )


def run_tune_command(args: argparse.Namespace) -> StudyResult:
    """Run ``hsi-attn tune`` with parsed ``args``; the command line prints :func:`tune_summary`.

    Returns:
        The study's result (errors are raised for the CLI to report).
    """
    from hsi_attn.tuning.search_space import SearchSpace, load_search_space
    from hsi_attn.tuning.study import default_study_name, run_study

    base = _base_config(args)
    space = load_search_space(args.search_space) if args.search_space else SearchSpace()
    if args.patch_size and len(args.patch_size) > 1:
        space = dataclasses.replace(space, patch_sizes=tuple(args.patch_size))
    if args.attention:
        space = space.with_attentions(args.attention)
    name = args.study_name or default_study_name(base.data.scene, base, space)
    out = args.out or Path("studies") / name
    argv = getattr(args, "argv", None) or sys.argv[1:]
    command = shlex.join(["hsi-attn", *argv])
    result = run_study(
        base.data.scene, study_dir=out, base_config=base, search_space=space,
        n_trials=args.n_trials, timeout=args.timeout, sampler_seed=args.sampler_seed,
        storage=args.storage, study_name=name, pruner=args.pruner, sampler=args.sampler,
        workers=args.workers, retrain=args.retrain, root=args.root, download=args.download,
        command=command,
    )
    return result


def tune_summary(result: StudyResult) -> str:
    """What ``hsi-attn tune`` shows when a study ends: trial counts, the best trial, outputs."""
    counts = ", ".join(f"{n} {k.lower()}" for k, n in result.counts.items() if n)
    lines = [
        f"study {result.study_name} ({result.storage}): {counts}",
        f"best trial {result.best_trial}: validation OA {100 * result.best_value:.2f}%  "
        f"params {result.best_params}",
    ]
    if result.test_oa is not None:
        lines.append(f"retrained best: test OA {100 * result.test_oa:.2f}%")
    lines.append(f"study directory: {result.study_dir}")
    return "\n".join(lines)
