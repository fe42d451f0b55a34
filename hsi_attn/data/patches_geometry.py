"""Patch-size rules shared by splits, leakage and patch sampling."""

from __future__ import annotations

import numbers


def check_patch_size(patch_size: int) -> int:
    """Return ``patch_size`` if it is a positive odd int, else raise ValueError.

    Patches are centred on their pixel, so the side must be odd (1, 3, 5, ...).
    """
    if isinstance(patch_size, bool) or not isinstance(patch_size, numbers.Integral):
        raise ValueError(
            f"patch_size must be a positive odd int (1, 3, 5, ...), got "
            f"{type(patch_size).__name__} {patch_size!r}"
        )
    if patch_size < 1 or patch_size % 2 == 0:
        hint = f" Use {patch_size + 1} or {patch_size - 1}." if patch_size > 1 else ""
        raise ValueError(
            f"patch_size must be a positive odd int so the patch is centred on its pixel, "
            f"got {patch_size}.{hint}"
        )
    return int(patch_size)
