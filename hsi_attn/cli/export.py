"""``hsi-attn export``: a trained run as ONNX models that run without PyTorch.

``hsi-attn export RUN --format onnx --out model.onnx`` writes the patch graph to
``model.onnx`` and, when the model has a dense twin, the dense graph to
``model.dense.onnx`` (``--graph`` picks; see :mod:`hsi_attn.export.exporter`). Each
graph is checked against PyTorch before it is written; ``--cube`` checks it on windows
of a raw cube of your own instead of spectra drawn around the training statistics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["FORMATS", "add_arguments", "run"]

FORMATS = ("onnx",)
GRAPHS = ("both", "patch", "dense")  # hsi_attn.export.EXPORT_GRAPHS, without importing torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``hsi-attn export`` arguments to ``parser``."""
    parser.add_argument("run_dir", type=Path, metavar="RUN",
                        help="a run directory written by hsi-attn train")
    parser.add_argument("--format", choices=FORMATS, default="onnx",
                        help="model format (default onnx)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the patch graph, ending in .onnx; the dense graph goes beside "
                             "it as <name>.dense.onnx")
    parser.add_argument("--graph", choices=GRAPHS, default="both",
                        help="both (default: the patch graph, and the dense graph when the "
                             "model has a dense twin), patch or dense")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing files")
    parser.add_argument("--cube", type=Path, default=None, metavar="FILE",
                        help="a raw cube (.mat, ENVI .hdr, .npy, .npz) whose windows check "
                             "the exported graphs against PyTorch (default: spectra drawn "
                             "around the training statistics)")
    parser.add_argument("--cube-variable", default=None, metavar="NAME",
                        help="array name inside --cube when it holds several")


def run(args: argparse.Namespace) -> int:
    """Export the run, check each graph against PyTorch, and print the files written."""
    from hsi_attn.data import load_cube
    from hsi_attn.export import export_run

    cube = None if args.cube is None else load_cube(args.cube, args.cube_variable)
    try:
        result = export_run(args.run_dir, args.out, graph=args.graph, overwrite=args.overwrite,
                            validation_cube=cube)
    except ImportError as exc:  # onnx, onnxscript or onnxruntime: one line with the fix
        hint = "" if "pip install" in str(exc) else '; pip install -e ".[onnx]"'
        raise ValueError(f"hsi-attn export needs the onnx extra: {exc}{hint}") from None
    for kind, path in result.paths.items():
        print(f"{path}  ({kind} graph; ONNX Runtime matches PyTorch to "
              f"{result.max_abs_difference[kind]:.1e})")
    return 0
