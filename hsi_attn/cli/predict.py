"""``hsi-attn predict``: classify a new cube with a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn predict`` arguments to ``parser``."""
    parser.add_argument("run_dir", type=Path, help="a run directory written by hsi-attn train")
    parser.add_argument("--cube", type=Path, required=True,
                        help="cube to classify: .mat, ENVI .hdr, .npy or .npz, bands last")
    parser.add_argument("--variable", default=None, help="array name inside the cube file")
    parser.add_argument("--out", type=Path, required=True,
                        help="FILE.npy (labels, plus FILE.png map) or FILE.png (map only)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--device", default=None, help="device override (auto, cpu, cuda...)")


def run(args: argparse.Namespace) -> int:
    """Classify ``args.cube`` with the run in ``args.run_dir`` and say where the map went."""
    from hsi_attn.run import predict_cube

    labels = predict_cube(args.run_dir, args.cube, args.out, variable=args.variable,
                          overwrite=args.overwrite, device=args.device)
    print(f"classified {labels.shape[0]}x{labels.shape[1]} pixels -> {args.out}")
    return 0
