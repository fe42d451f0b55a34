"""``hsi-attn experiment``: run (or resume) an experiment grid and publish its tables.

Results go to ``--out``, by default ``experiment-results/<name>`` under the current
directory: never into the package or the repository's committed
``experiments/results/`` unless asked. Where they go is printed first and last.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from hsi_attn.cli import report

__all__ = ["DEFAULT_RESULTS", "add_arguments", "default_out", "run"]

DEFAULT_RESULTS = Path("experiment-results")
"""Where experiments write by default, relative to the current directory."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn experiment`` arguments to ``parser``."""
    parser.add_argument("config", type=Path, help="experiment file (experiments/configs/*.toml)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help=f"results folder (default: ./{DEFAULT_RESULTS}/<experiment name>, "
                             "with _quick appended for --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the file's [quick] overrides and the first seed only")


def default_out(name: str, *, quick: bool) -> Path:
    """The results folder of experiment ``name`` when no ``--out`` is given."""
    return DEFAULT_RESULTS / (name + ("_quick" if quick else ""))


def run(args: argparse.Namespace) -> int:
    """Run the grid, print one line per cell, and say where the results are."""
    from hsi_attn.experiment import load_experiment, run_and_publish

    spec = load_experiment(args.config)
    out = args.out or default_out(spec.name, quick=args.quick)
    print(f"experiment {spec.name}: writing results to {out.absolute()}", flush=True)
    command = shlex.join(["hsi-attn", *args.argv])
    summary = run_and_publish(spec, out, quick=args.quick, command=command)
    for cell in summary["cells"]:
        print(report.experiment_cell_line(cell))
    print(f"results written to {out.absolute()}")
    return 0
