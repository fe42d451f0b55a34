"""``hsi-attn train``: train, evaluate and map one run (or several seeds of one).

Every configuration setting is an option (generated from :mod:`hsi_attn.config`, see
:mod:`hsi_attn.cli.options`); those left out keep the defaults, or on ``--resume`` the
run's saved settings.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from hsi_attn.cli import report
from hsi_attn.cli.options import add_config_options, add_scene_location, config_from_args

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn train`` options to ``parser``."""
    add_config_options(parser.add_argument_group("configuration (defaults from hsi_attn.config)"))
    runs = parser.add_argument_group("repetitions")
    seeds = runs.add_mutually_exclusive_group()
    seeds.add_argument("--runs", type=int, default=None, metavar="N",
                       help="repeat with seeds seed..seed+N-1 and report mean ± std")
    seeds.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                       help="repeat with these seeds and report mean ± std")
    out = parser.add_argument_group("run directory")
    out.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="run directory (default: runs/<name>, a name made from the run's "
                          "settings; printed when the run ends)")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the interrupted run in --out with its saved settings")
    mode.add_argument("--overwrite", action="store_true",
                      help="replace the run files already in --out")
    add_scene_location(parser.add_argument_group("scene files"))


def _callbacks(args: argparse.Namespace) -> list[Any]:
    from hsi_attn.engine import EpochLogger, ProgressBar

    show_bar = sys.stderr.isatty() and not args.quiet
    return [ProgressBar(enabled=True)] if show_bar else [EpochLogger()]


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say and print the test metrics (or one line per seed and a summary)."""
    from hsi_attn.config import RunConfig
    from hsi_attn.engine.distributed import DistributedContext
    from hsi_attn.run import load_run_config, train_run, train_runs

    main = DistributedContext.from_environment().is_main  # under torchrun rank 0 reports
    if not main:
        logging.getLogger("hsi_attn").setLevel(logging.WARNING)
        args.quiet = True
    base = RunConfig()
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out RUN_DIR, the run to continue")
        base, _ = load_run_config(args.out)
    config = config_from_args(args, base)
    command = shlex.join(["hsi-attn", *args.argv])
    options = {"root": args.root, "download": args.download, "resume": args.resume,
               "overwrite": args.overwrite, "callbacks": _callbacks(args), "command": command}
    if args.runs is not None or args.seeds is not None:
        if args.runs is not None and args.runs < 1:
            raise ValueError(f"--runs must be >= 1, got {args.runs}")
        seeds = args.seeds or list(range(config.train.seed, config.train.seed + args.runs))
        results, summary = train_runs(config, seeds, args.out, **options)
        if not main:
            return 0
        for result in results:
            print(report.seed_line(result.metrics))
        print(report.summary_text(summary))
        return 0
    result = train_run(config, args.out, **options)
    if not main:
        return 0
    print(report.metrics_text(result.metrics))
    print(f"run directory: {result.out_dir}")
    return 0
