"""Shape checks and channel-axis helpers shared by the attention layers.

Attention layers accept either 2-D maps ``(N, C, H, W)`` or 3-D maps
``(N, C, D, H, W)`` where D is the spectral (band) axis. The helpers here turn a wrong
rank or channel count into a ValueError that names the layer, the expected layout and
the fix, instead of a shape error deep inside a matmul.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

_LAYOUTS = {4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}


def check_feature_map(x: Tensor, *, channels: int, ndim: int, layer: str) -> None:
    """Raise a ValueError unless ``x`` has rank ``ndim`` and ``channels`` channels.

    Args:
        x: The input feature map.
        channels: The channel count the layer was built for.
        ndim: 4 for 2-D layers, 5 for 3-D layers.
        layer: The layer's class name, used in the message.

    Raises:
        ValueError: On a wrong rank or channel count.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        other = "a 3-D variant such as 'se3d' or 'se_band'" if ndim == 4 else "a 2-D variant"
        raise ValueError(
            f"{layer} expects a {ndim}-D feature map {_LAYOUTS[ndim]}, got shape "
            f"{tuple(x.shape)}; reshape the input or use {other}."
        )
    if x.shape[1] != channels:
        raise ValueError(
            f"{layer} was built for {channels} channels but the input has {x.shape[1]} "
            f"(shape {tuple(x.shape)}); build the layer with channels={x.shape[1]}."
        )


def spatial_pool(x: Tensor, *, with_max: bool) -> tuple[Tensor, Tensor | None]:
    """Average (and optionally maximum) over the last two axes (H, W), keeping them.

    The band axis of a 5-D map is left intact, which is what makes the band-preserving
    layers band-preserving.

    Args:
        x: ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        with_max: Also return the spatial maximum.

    Returns:
        ``(avg, max)`` with H and W reduced to 1; ``max`` is None unless requested.
    """
    avg = x.mean(dim=(-2, -1), keepdim=True)
    mx = x.amax(dim=(-2, -1), keepdim=True) if with_max else None
    return avg, mx


def over_channels(fn: Callable[[Tensor], Tensor], t: Tensor) -> Tensor:
    """Apply ``fn`` to the channel vector at every other index of ``t``.

    ``t`` has channels on axis 1; ``fn`` maps ``(..., C)`` to ``(..., C')``
    (e.g. an ``nn.Linear`` stack). Every band and position is treated independently.
    """
    return fn(t.movedim(1, -1)).movedim(-1, 1)


def conv_across_channels(conv: torch.nn.Conv1d, t: Tensor) -> Tensor:
    """Slide a single-channel ``Conv1d`` along the channel axis of ``t``.

    This is ECA's cross-channel interaction: for every band and position, the vector of
    C channel descriptors is convolved with one shared kernel of size k (zero padding
    ``k // 2``, cross-correlation as ``Conv1d`` computes it).

    It is computed as k shifted multiply-adds over whole channel slices rather than by
    calling ``conv`` on millions of length-C rows: the result is the same, but a
    ``Conv1d`` over ``(N * D * H * W, 1, C)`` runs on a per-row kernel that was 3x
    slower and took a third of dense inference time.

    Args:
        conv: ``Conv1d(1, 1, k, padding=k // 2)`` (bias optional); only its parameters
            are used.
        t: ``(N, C, *rest)``.

    Returns:
        A tensor of the same shape as ``t``.

    Raises:
        ValueError: If ``conv`` is not a single-channel, stride-1, undilated ``Conv1d``
            with "same" padding.
    """
    k = conv.kernel_size[0]
    if (conv.in_channels, conv.out_channels, conv.stride[0], conv.dilation[0], conv.groups) != (
        1, 1, 1, 1, 1
    ) or conv.padding != (k // 2,) or k % 2 == 0:
        raise ValueError(
            f"conv_across_channels needs Conv1d(1, 1, k, padding=k // 2) with odd k, got "
            f"{conv}; build it with hsi_attn.layers.eca.channel_conv."
        )
    weight = conv.weight.reshape(k)
    channels = t.shape[1]
    centre = k // 2
    out = t * weight[centre]
    for j in range(k):
        shift = j - centre  # out[:, i] += w[j] * t[:, i + shift]
        if shift == 0 or abs(shift) >= channels:
            continue
        if shift > 0:
            out[:, : channels - shift].addcmul_(t[:, shift:], weight[j])
        else:
            out[:, -shift:].addcmul_(t[:, : channels + shift], weight[j])
    if conv.bias is not None:
        out = out + conv.bias.reshape(())
    return out
