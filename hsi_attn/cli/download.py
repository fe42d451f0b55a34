"""``hsi-attn download``: fetch a registered scene's files, checksummed, without training.

The files go where :func:`hsi_attn.data.load_scene` looks for them (``--root DIR`` as
``DIR/<scene>/``, otherwise the user cache folder); files already found are verified and
never fetched again. The scene is then read once, so its shape and labels are checked
against the manifest too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn download`` arguments to ``parser``."""
    parser.add_argument("scene", help="scene name (see hsi-attn scenes)")
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="download into DIR/<scene>/ (default: the user cache folder, "
                             "$HSI_ATTN_CACHE if set); files found elsewhere are not fetched")


def run(args: argparse.Namespace) -> int:
    """Fetch the scene's missing files, verify all of them and say where they are."""
    from hsi_attn.data import load_scene, locate_scene

    if args.root is not None:  # the destination: created, as a download into it would
        args.root.expanduser().mkdir(parents=True, exist_ok=True)
    before = locate_scene(args.scene, root=args.root)
    scene = load_scene(args.scene, root=args.root, download=True)
    after = locate_scene(scene.name, root=args.root)
    fetched = f"downloaded {', '.join(before.missing)}" if before.missing else "already here"
    height, width, bands = scene.cube.shape
    print(after)
    print(f"{scene.name}: {fetched}; sha256 verified; {height} x {width} pixels, {bands} bands, "
          f"{len(scene.class_names)} classes")
    return 0
