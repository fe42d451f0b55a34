"""Evaluation-mode batch norm folded into the linear map before it.

In evaluation mode a ``BatchNorm3d`` with running statistics is a fixed affine map per
channel, ``bn(y) = y * scale + shift``. Following a convolution (or any linear map whose
outputs are grouped by channel) it folds into that map's weights and bias, which saves a
full pass over the activations. This is the standard inference rewrite (PyTorch ships
the same algebra as ``torch.nn.utils.fusion.fuse_conv_bn_weights``); the folded result
equals the unfolded one up to floating-point rounding. In training mode the statistics
come from the batch, so nothing folds.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def foldable(bn: nn.Module) -> bool:
    """Whether ``bn`` is an evaluation-mode ``BatchNorm3d`` using running statistics."""
    return (
        isinstance(bn, nn.BatchNorm3d)
        and not bn.training
        and isinstance(bn.running_mean, Tensor)
        and isinstance(bn.running_var, Tensor)
    )


def scale_and_shift(bn: nn.Module) -> tuple[Tensor, Tensor]:
    """Per-channel ``(scale, shift)`` with ``bn(y) == y * scale + shift`` (channels on axis 1).

    Raises:
        ValueError: If ``bn`` is not :func:`foldable` (its output then depends on the batch).
    """
    if not isinstance(bn, nn.BatchNorm3d) or not foldable(bn):
        raise ValueError(
            f"cannot fold {bn} into the layer before it: it needs eval mode and running "
            f"statistics; call model.eval() before dense inference."
        )
    mean, var = bn.running_mean, bn.running_var
    if mean is None or var is None:  # excluded by foldable(); narrows the types
        raise ValueError(f"{bn} keeps no running statistics; build it with track_running_stats=True.")
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


def fold_into_conv(conv: nn.Conv3d, bn: nn.Module) -> tuple[Tensor, Tensor]:
    """Weight and bias of the convolution that computes ``bn(conv(x))`` in one pass.

    Args:
        conv: Any ``Conv3d`` (its bias may be None).
        bn: A :func:`foldable` batch norm over ``conv``'s output channels.

    Returns:
        ``(weight, bias)`` to pass to ``F.conv3d`` with ``conv``'s stride and padding.
        Differentiable in the parameters of both modules.
    """
    scale, shift = scale_and_shift(bn)
    weight = conv.weight * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return weight, bias


def run_folded(layers: nn.Module, x: Tensor) -> Tensor:
    """``layers(x)``, with each foldable batch norm that directly follows a ``Conv3d`` folded.

    Within an ``nn.Sequential``, a ``Conv3d`` immediately followed by a :func:`foldable` ``BatchNorm3d`` runs as one
    convolution with :func:`fold_into_conv`'s weights (through the convolution's own
    ``_conv_forward``, so subclasses that pad differently keep doing so); every other
    module runs as it is; any other ``layers`` is just called. In training mode this is
    exactly ``layers(x)``.
    """
    if not isinstance(layers, nn.Sequential):
        return layers(x)
    modules = list(layers)
    index = 0
    while index < len(modules):
        module = modules[index]
        following = modules[index + 1] if index + 1 < len(modules) else None
        if isinstance(module, nn.Conv3d) and following is not None and foldable(following):
            x = module._conv_forward(x, *fold_into_conv(module, following))
            index += 2
        else:
            x = module(x)
            index += 1
    return x
