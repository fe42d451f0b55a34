"""Evaluation-mode batch norm folded into the convolution before it: an explicit step.

In evaluation mode a ``BatchNorm3d`` with running statistics is a fixed affine map per
channel, ``bn(y) = y * scale + shift``. Following a convolution it folds into that
convolution's weights and bias, which saves a full pass over the activations. This is
the standard inference rewrite (PyTorch ships the same algebra as
``torch.nn.utils.fusion.fuse_conv_bn_weights``); the folded result equals the unfolded
one up to floating-point rounding. In training mode the statistics come from the batch,
so nothing folds.

:func:`fold_batch_norm` *returns* a folded copy of a module and leaves the module
itself alone: the patch model keeps computing its plain network (the one it trains),
the fused dense twin (:meth:`~hsi_attn.models.dense.WindowAveragedNet.fused_twin`) runs
the folded copy of its spatial stage, and ``predict_scene``'s patch method a folded copy
of the model (13 % off the flagship's spatial stage, 8 % off its patch forward; entry 6
of :mod:`hsi_attn.models.dense.cpu_choices`).
"""

from __future__ import annotations

import copy

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


def folded_conv(conv: nn.Conv3d, bn: nn.Module) -> nn.Conv3d:
    """A new convolution of ``conv``'s class that computes ``bn(conv(x))``.

    It runs ``conv``'s own ``forward`` (so a subclass that pads differently keeps doing
    so) with :func:`fold_into_conv`'s weight and bias, frozen: an inference snapshot
    that does not follow later changes to ``conv`` or ``bn``, and holds no gradient.
    """
    with torch.no_grad():
        weight, bias = fold_into_conv(conv, bn)
    fused = _shallow_copy(conv)
    fused.weight = nn.Parameter(weight.detach(), requires_grad=False)
    fused.bias = nn.Parameter(bias.detach(), requires_grad=False)
    return fused


def fold_batch_norm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every foldable batch norm folded into its convolution.

    Folded, wherever the batch norm is :func:`foldable` (evaluation mode):

    * in an ``nn.Sequential`` (that class itself: a subclass may define its own
      forward), a ``Conv3d`` directly followed by a ``BatchNorm3d``;
    * in a module that lists ``conv_bn_pairs`` (attribute names ``(conv, bn)`` whose
      forward computes ``bn(conv(x))``), each such pair.

    The convolution becomes :func:`folded_conv` and the batch norm an ``nn.Identity``,
    so the copy's own ``forward`` runs the folded arithmetic. Submodules with nothing
    to fold are shared with ``module``, not copied; ``module`` itself is not changed.

    Args:
        module: Any module, typically a model's spatial stage in evaluation mode.

    Returns:
        The folded copy, or ``module`` itself where nothing folds.
    """
    if type(module) is nn.Sequential:
        return _fold_sequential(module)
    replaced: dict[str, nn.Module] = {}
    for conv_name, bn_name in getattr(module, "conv_bn_pairs", ()):
        conv, bn = getattr(module, conv_name), getattr(module, bn_name)
        if isinstance(conv, nn.Conv3d) and foldable(bn):
            replaced[conv_name] = folded_conv(conv, bn)
            replaced[bn_name] = nn.Identity().eval()  # in the mode of the batch norm
    for name, child in module.named_children():
        if name not in replaced:
            folded = fold_batch_norm(child)
            if folded is not child:
                replaced[name] = folded
    if not replaced:
        return module
    clone = _shallow_copy(module)
    for name, child in replaced.items():
        clone._modules[name] = child
    return clone


def _fold_sequential(layers: nn.Sequential) -> nn.Module:
    children = list(layers)
    folded: list[nn.Module] = []
    index = 0
    while index < len(children):
        module = children[index]
        following = children[index + 1] if index + 1 < len(children) else None
        if isinstance(module, nn.Conv3d) and following is not None and foldable(following):
            folded += [folded_conv(module, following), nn.Identity().eval()]
            index += 2
        else:
            folded.append(fold_batch_norm(module))
            index += 1
    if all(new is old for new, old in zip(folded, children)):
        return layers
    sequential = nn.Sequential(*folded)
    # A new module starts in training mode; the copy keeps the original's mode without
    # switching the children it shares (train() would set them all).
    sequential.training = layers.training
    return sequential


def _shallow_copy(module: nn.Module) -> nn.Module:
    """``module`` copied with its own registries (children, parameters, hooks), sharing tensors."""
    clone = copy.copy(module)
    for name, value in vars(module).items():
        if isinstance(value, (dict, set)):
            vars(clone)[name] = copy.copy(value)
    return clone
