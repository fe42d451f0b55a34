"""``hsi-attn scenes``: every registered scene and whether its files are here."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn scenes`` arguments to ``parser``."""
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="folder searched first for scene files")


def run(args: argparse.Namespace) -> int:
    """Print one line per scene: where its files are, or how to fetch them, and the
    fixed splits from the literature it has (``--split fixed:NAME``)."""
    from hsi_attn.data import get_manifest, list_scenes, locate_scene

    for name in list_scenes():
        location = locate_scene(name, root=args.root)
        hint = "" if location.available else f"; fetch with: hsi-attn download {name}"
        fixed = sorted(get_manifest(name).fixed_splits)
        splits = f"; fixed splits: {', '.join(fixed)}" if fixed else ""
        print(f"{location}{splits}{hint}")
    return 0
