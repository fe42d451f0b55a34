"""``hsi-attn models``: the registered model families, their input and what each is."""

from __future__ import annotations

import argparse

from hsi_attn.cli.report import listing

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``hsi-attn models`` takes no arguments of its own."""
    parser.epilog = "B: bands (after PCA), p: patch size; output logits (N,K)."


def run(args: argparse.Namespace) -> int:
    """Print ``name  input shape  summary`` for every model family, the flagship first."""
    from hsi_attn.models.registry import MODEL_INFO

    print(listing((name, info.input_shape, info.summary) for name, info in MODEL_INFO.items()))
    return 0
