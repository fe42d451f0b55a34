"""Evaluation-mode batch norm folded into convolutions computes the same function."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hsi_attn.models.band_padded_conv import BandPaddedConv3d
from hsi_attn.models.batch_norm_folding import fold_into_conv, foldable, run_folded
from hsi_attn.models.resnet3d import ValidSpatialBlock3d


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and running statistics in float64, so no batch norm is an identity."""
    gen = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=param.dtype) * 0.5)
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm3d):
                bn.running_mean.normal_(0, 0.5, generator=gen)
                bn.running_var.uniform_(0.3, 2.0, generator=gen)
    return module


@settings(max_examples=30, deadline=None)
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 4), k=st.sampled_from([1, 3]),
       bias=st.booleans(), affine=st.booleans(), seed=st.integers(0, 2**16))
def test_folded_convolution_equals_convolution_then_batch_norm(
    c_in: int, c_out: int, k: int, bias: bool, affine: bool, seed: int
) -> None:
    conv = nn.Conv3d(c_in, c_out, (k, 3, 3), padding=(k // 2, 0, 0), bias=bias)
    bn = nn.BatchNorm3d(c_out, affine=affine)
    layers = randomize(nn.Sequential(conv, bn), seed).eval()
    x = torch.randn(2, c_in, 5, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    weight, folded_bias = fold_into_conv(conv, bn)
    expected = bn(conv(x))
    torch.testing.assert_close(conv._conv_forward(x, weight, folded_bias), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(run_folded(layers, x), expected, rtol=0, atol=1e-12)


def test_band_padded_stem_folds_with_its_own_padding() -> None:
    stem = randomize(nn.Sequential(
        BandPaddedConv3d(1, 4, (7, 1, 1), stride=(4, 1, 1), band_padding=3, bias=False),
        nn.BatchNorm3d(4),
        nn.ReLU(),
    ), 3).eval()
    x = torch.randn(3, 1, 30, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(run_folded(stem, x), stem(x), rtol=0, atol=1e-12)


def test_training_mode_runs_the_layers_as_they_are() -> None:
    layers = randomize(nn.Sequential(nn.Conv3d(2, 3, (3, 3, 3)), nn.BatchNorm3d(3)), 4).train()
    assert not foldable(layers[1])
    x = torch.randn(4, 2, 5, 5, 5, dtype=torch.float64)
    torch.manual_seed(0)
    expected = nn.Sequential(*layers)(x)  # batch statistics, running stats updated
    layers[1].reset_running_stats()
    torch.testing.assert_close(run_folded(layers, x), expected)
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        fold_into_conv(layers[0], layers[1])


def test_spatial_block_in_eval_mode_equals_its_unfolded_formula() -> None:
    block = randomize(ValidSpatialBlock3d(3), 5).eval()
    x = torch.randn(2, 3, 6, 9, 9, dtype=torch.float64)
    out = block.relu(block.bn1(block.conv1(x)))
    expected = block.relu(block.bn2(block.conv2(out)) + x[..., 2:-2, 2:-2])
    torch.testing.assert_close(block(x), expected, rtol=0, atol=1e-12)


def test_folding_keeps_gradients_flowing_to_the_parameters() -> None:
    block = randomize(ValidSpatialBlock3d(2), 6).eval()
    block(torch.randn(1, 2, 4, 7, 7, dtype=torch.float64)).sum().backward()
    for name in ("conv1.weight", "conv2.weight", "bn1.weight", "bn2.bias"):
        grad = block.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
