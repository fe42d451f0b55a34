"""Validation of the arguments every model family takes, with errors that say the fix.

A model is built for one band count B and one odd patch side p; its input is
``(N, 1, B, p, p)``. The helpers here turn a wrong argument or a wrong input into a
ValueError that names the bad value, what is accepted and what to do next, instead of a
shape error deep inside a convolution.
"""

from __future__ import annotations

from torch import Tensor

from hsi_attn.checks import check_int
from hsi_attn.checks import check_patch_size as _check_patch_size
from hsi_attn.layers import attention_class, list_attention


def check_positive_int(value: object, *, name: str, minimum: int = 1, model: str | None = None
                       ) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ValueError.

    :func:`hsi_attn.checks.check_int` with the model family named in the message.
    """
    return check_int(value, name=f"{model}: {name}" if model else name, minimum=minimum)


def check_patch_size(patch_size: object, *, model: str, minimum: int = 1) -> int:
    """Return ``patch_size`` if it is an odd int >= ``minimum``, else raise ValueError.

    :func:`hsi_attn.checks.check_patch_size` with the model family named in the message.

    Args:
        patch_size: The requested spatial window side p.
        model: The model family, used in the message.
        minimum: The smallest odd p the family can take.
    """
    return _check_patch_size(patch_size, name=f"{model}: patch_size", minimum=minimum)


def three_d_attention_names() -> list[str]:
    """Registered attention names that work on 3-D feature maps ``(N, C, D, H, W)``."""
    return [n for n in list_attention() if getattr(attention_class(n), "feature_ndim", 5) == 5]


def check_3d_attention(attention: str, *, model: str) -> str:
    """Return the normalised name if ``attention`` is a registered 3-D attention.

    Raises:
        ValueError: If the name is unknown (with close matches) or names a 2-D layer.
    """
    cls = attention_class(attention)
    name = attention.strip().lower()
    if getattr(cls, "feature_ndim", 5) != 5:
        raise ValueError(
            f"attention {attention!r} is a 2-D layer for (N, C, H, W) maps, but {model} "
            f"carries attention on 3-D maps (N, C, D, H, W). Use one of: "
            f"{', '.join(three_d_attention_names())}."
        )
    return name


def check_patch_batch(x: Tensor, *, n_bands: int, patch_size: int, model: str) -> None:
    """Raise ValueError unless ``x`` is a batch of patches ``(N, 1, n_bands, p, p)``."""
    expected = f"(N, 1, {n_bands}, {patch_size}, {patch_size})"
    if not isinstance(x, Tensor):
        raise TypeError(f"{model} expects a torch.Tensor {expected}, got {type(x).__name__}")
    if x.dim() != 5 or x.shape[1] != 1:
        raise ValueError(
            f"{model} expects patches shaped {expected} (bands as depth), got "
            f"{tuple(x.shape)}; add the channel axis with x.unsqueeze(1) if it is missing."
        )
    if x.shape[2] != n_bands:
        raise ValueError(
            f"{model} was built for {n_bands} bands but the input has {x.shape[2]}; use "
            f"a cube with {n_bands} bands (after the same PCA) or build the model with "
            f"n_bands={x.shape[2]}."
        )
    if x.shape[3] != patch_size or x.shape[4] != patch_size:
        raise ValueError(
            f"{model} was built for {patch_size}x{patch_size} patches but got "
            f"{x.shape[3]}x{x.shape[4]}; extract patches with patch_size={patch_size}."
        )


def check_padded_cube(x: Tensor, *, n_bands: int, patch_size: int, model: str) -> None:
    """Raise ValueError unless ``x`` is a padded cube ``(N, 1, n_bands, H', W')``, H', W' >= p."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{model} dense twin expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 5 or x.shape[1] != 1 or x.shape[2] != n_bands:
        raise ValueError(
            f"{model} dense twin expects a padded cube (N, 1, {n_bands}, H + {patch_size - 1}, "
            f"W + {patch_size - 1}), got {tuple(x.shape)}"
        )
    if x.shape[3] < patch_size or x.shape[4] < patch_size:
        raise ValueError(
            f"{model} dense twin needs a padded cube at least {patch_size}x{patch_size} "
            f"spatially (one full window), got {x.shape[3]}x{x.shape[4]}; pad the cube by "
            f"patch_size // 2 = {patch_size // 2} on every side."
        )
