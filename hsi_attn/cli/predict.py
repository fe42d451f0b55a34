"""``hsi-attn predict``: classify a cube of any size with a trained run, into GIS-ready maps."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["add_arguments", "byte_size", "run"]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def byte_size(text: str) -> int:
    """``"512M"`` -> 536870912: bytes, or a number with K, M, G or T (powers of 1024)."""
    match = _SIZE.fullmatch(text)
    if match is None or (match.group(2) == "" and text.strip().lower().endswith("ib")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a memory size; give bytes (1000000) or a number with K, M, G "
            "or T (512M, 2G)"
        )
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the memory budget must be positive")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn predict`` arguments to ``parser``."""
    from hsi_attn.run.predict import DEFAULT_MAX_MEMORY
    from hsi_attn.run.predict_backends import BACKENDS

    parser.add_argument("run_dir", type=Path,
                        help="a run directory written by hsi-attn train, or with --backend "
                             "onnxruntime the model.onnx hsi-attn export wrote")
    parser.add_argument("--cube", type=Path, required=True,
                        help="cube to classify: ENVI .hdr, GeoTIFF .tif, .npy, .mat or .npz, "
                             "bands last; read tile by tile")
    parser.add_argument("--variable", default=None, help="array name inside a .mat/.npz cube")
    parser.add_argument("--out", type=Path, required=True,
                        help="class map: FILE.tif (GeoTIFF), FILE.hdr (ENVI classification), "
                             "FILE.npy, each with a FILE.png quicklook, or FILE.png alone; "
                             "pixels hold the training map's class codes")
    parser.add_argument("--probabilities", type=Path, default=None, metavar="FILE.tif",
                        help="also write per-class probabilities (uint8, scale 1/255)")
    parser.add_argument("--confidence", type=Path, default=None, metavar="FILE.tif",
                        help="also write each pixel's largest probability (uint8, scale 1/255)")
    parser.add_argument("--max-memory", type=byte_size, default=DEFAULT_MAX_MEMORY,
                        metavar="SIZE",
                        help="memory budget of one tile: bytes or 512M, 2G... (default: "
                             f"{DEFAULT_MAX_MEMORY >> 20}M)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (an input file is never replaced)")
    parser.add_argument("--device", default=None, help="device override (auto, cpu, cuda...)")
    parser.add_argument("--backend", default="torch", choices=BACKENDS,
                        help="torch (the run) or onnxruntime (its ONNX export; needs "
                             "pip install -e '.[onnx]')")


def run(args: argparse.Namespace) -> int:
    """Classify ``args.cube`` with the run in ``args.run_dir`` and say where the maps went."""
    from hsi_attn.run import predict_cube

    bar = None
    progress = None
    if sys.stderr.isatty() and not getattr(args, "quiet", False):
        from tqdm.auto import tqdm

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="tile", desc="predict", leave=False)
            bar.update(done - bar.n)

    try:
        summary = predict_cube(
            args.run_dir, args.cube, args.out, variable=args.variable,
            probabilities=args.probabilities, confidence=args.confidence,
            max_memory=args.max_memory, overwrite=args.overwrite, device=args.device,
            progress=progress, backend=args.backend,
        )
    finally:
        if bar is not None:
            bar.close()
    height, width, _ = summary.shape
    where = "georeferenced" if summary.georeferenced else "pixel grid"
    print(f"classified {height}x{width} pixels ({summary.nodata_pixels} nodata, {where}) -> "
          + ", ".join(str(p) for p in summary.outputs))
    return 0
