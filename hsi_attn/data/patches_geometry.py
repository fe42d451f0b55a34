"""Patch-size rules shared by splits, leakage and patch sampling.

The rule itself lives in :mod:`hsi_attn.checks`, with the other argument checks; this
module keeps the name the data package has always imported.
"""

from __future__ import annotations

from hsi_attn.checks import check_patch_size

__all__ = ["check_patch_size"]
