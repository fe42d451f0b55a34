"""``hsi-attn attention``: the registered attention layers, their input and what each does."""

from __future__ import annotations

import argparse

from hsi_attn.cli.report import listing

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``hsi-attn attention`` takes no arguments of its own."""
    parser.epilog = ("C: channels, D: bands, H, W: spatial size; the output has the input's "
                     "shape. The models take the 3-D (N,C,D,H,W) layers.")


def run(args: argparse.Namespace) -> int:
    """Print ``name  input shape  summary`` for every attention layer, in registry order."""
    from hsi_attn.layers.factory import ATTENTION_INFO

    print(listing((name, info.input_shape, info.summary)
                  for name, info in ATTENTION_INFO.items()))
    return 0
