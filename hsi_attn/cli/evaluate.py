"""``hsi-attn evaluate``: recompute a finished run's test metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsi_attn.cli import report
from hsi_attn.cli.options import add_scene_location

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn evaluate`` arguments to ``parser``."""
    parser.add_argument("run_dir", type=Path, help="a run directory written by hsi-attn train")
    parser.add_argument("--device", default=None, help="device override (auto, cpu, cuda...)")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="average each test window over its 8 flips and rotations "
                             "(default: as the run was trained)")
    add_scene_location(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate the run in ``args.run_dir`` and print its metrics."""
    from hsi_attn.run import evaluate_run

    metrics = evaluate_run(args.run_dir, root=args.root, download=args.download,
                           device=args.device, tta=args.tta)
    print(report.metrics_text(metrics))
    return 0
