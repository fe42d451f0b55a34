"""The dense head's matrix form equals its convolution form; FLOPs are counted as convolutions."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hsi_attn.layers import BasicBlock3d
from hsi_attn.models import ResNet3d, forward_flops
from hsi_attn.models.band_padded_conv import BandPaddedConv3d
from hsi_attn.models.dense.cpu_choices import in_chunks, in_two_halves, two_halves
from hsi_attn.models.dense.positionwise import EveryPosition, PackedPositions
from hsi_attn.models.dense.spectral_matrices import (
    MatrixHead,
    band_matrix,
    block_lowerable,
    conv_bn_rows,
    lower_block,
    lowerable,
)

ATTENTIONS = ["none", "se3d", "se_band", "eca_band", "eca_band_conv", "eca_dual", "cbam_band", "danet3d"]


def randomize_batch_norm(module: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm3d):
                bn.weight.uniform_(0.5, 1.5, generator=gen)
                bn.bias.normal_(0, 0.3, generator=gen)
                bn.running_mean.normal_(0, 0.3, generator=gen)
                bn.running_var.uniform_(0.5, 1.5, generator=gen)


@settings(max_examples=60, deadline=None)
@given(
    c_in=st.integers(1, 4), c_out=st.integers(1, 4), k=st.integers(1, 7),
    stride=st.integers(1, 3), pad=st.integers(0, 3), depth=st.integers(1, 12),
    bias=st.booleans(),
)
def test_band_matrix_equals_the_convolution(c_in: int, c_out: int, k: int, stride: int,
                                            pad: int, depth: int, bias: bool) -> None:
    if depth + 2 * pad < k:
        return  # no output band: the convolution itself rejects this input
    torch.manual_seed(0)
    conv = nn.Conv3d(c_in, c_out, (k, 1, 1), stride=(stride, 1, 1), padding=(pad, 0, 0), bias=bias).double()
    x = torch.randn(5, c_in, depth, 1, 1, dtype=torch.float64)
    matrix, offset, out_depth = conv_bn_rows(conv, None, depth)
    expected = conv(x)
    assert out_depth == expected.shape[2]
    assert matrix.shape == (c_in * depth, c_out * out_depth)
    torch.testing.assert_close(x.flatten(1) @ matrix + offset, expected.flatten(1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bands", [5, 8, 30])
def test_band_matrix_of_an_explicitly_padded_convolution(bands: int) -> None:
    torch.manual_seed(3)
    conv = BandPaddedConv3d(1, 3, (7, 1, 1), stride=(4, 1, 1), band_padding=3, bias=False).double()
    x = torch.randn(4, 1, bands, 1, 1, dtype=torch.float64)
    matrix, _, out_depth = conv_bn_rows(conv, None, bands)
    expected = conv(x)
    assert out_depth == expected.shape[2]
    torch.testing.assert_close(x.flatten(1) @ matrix, expected.flatten(1), rtol=0, atol=1e-12)


def test_batch_norm_folds_into_the_matrix_in_eval_mode() -> None:
    torch.manual_seed(1)
    conv = nn.Conv3d(3, 5, (7, 1, 1), padding=(3, 0, 0), bias=False).double()
    bn = nn.BatchNorm3d(5).double().eval()
    randomize_batch_norm(bn, 1)
    x = torch.randn(6, 3, 8, 1, 1, dtype=torch.float64)
    matrix, offset, _ = conv_bn_rows(conv, bn, 8)
    torch.testing.assert_close(x.flatten(1) @ matrix + offset, bn(conv(x)).flatten(1), rtol=0, atol=1e-12)


def test_training_mode_batch_norm_is_refused_with_what_to_do() -> None:
    conv = nn.Conv3d(2, 2, (3, 1, 1), padding=(1, 0, 0))
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        conv_bn_rows(conv, nn.BatchNorm3d(2).train(), 4)


def test_a_spatial_convolution_has_no_band_matrix() -> None:
    with pytest.raises(ValueError, match="convolution instead"):
        band_matrix(nn.Conv3d(2, 2, (3, 3, 3)), 4)
    assert not lowerable(nn.Conv3d(2, 2, (3, 3, 3)), 4)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("in_channels", [4, 6])  # 6: projection shortcut
def test_lowered_block_equals_the_block(attention: str, in_channels: int) -> None:
    torch.manual_seed(2)
    block = BasicBlock3d(in_channels, 4, kernel_size=(7, 1, 1), padding=(3, 0, 0),
                         attention=attention, attention_kwargs={"reduction": 2, "kernel_size": 3})
    block = block.double().eval()
    randomize_batch_norm(block, 2)
    x = torch.randn(9, in_channels, 6, 1, 1, dtype=torch.float64)
    assert block_lowerable(block, 6)
    lowered = lower_block(block, 6)
    columns = x.flatten(1).t()  # one column per position
    torch.testing.assert_close(lowered(columns).t(), block(x).flatten(1), rtol=0, atol=1e-12)


def test_long_band_axes_and_training_mode_keep_the_convolutions() -> None:
    block = BasicBlock3d(4, 4, kernel_size=(7, 1, 1), padding=(3, 0, 0)).eval()
    assert block_lowerable(block, 14)  # D / k = 2: at the limit
    assert not block_lowerable(block, 15)
    assert not block_lowerable(block.train(), 8)
    assert block_lowerable(block.eval(), 8)


@pytest.mark.parametrize(("bands", "form"), [(12, MatrixHead), (120, PackedPositions)])
@pytest.mark.parametrize("attention", ["eca_band", "cbam_band", "danet3d"])
def test_the_head_in_its_inference_form_equals_the_head_on_every_position(
    bands: int, form: type, attention: str
) -> None:
    torch.manual_seed(4)
    model = ResNet3d(bands, 5, patch_size=5, attention=attention, width=4,
                     attention_kwargs={"reduction": 2, "kernel_size": 3}).double().eval()
    randomize_batch_norm(model, 4)
    features = torch.randn(2, 4, model.head.depth, 3, 7, dtype=torch.float64)
    fast = model.head.inference_form()
    assert type(fast) is form
    with torch.no_grad():
        torch.testing.assert_close(fast(features), EveryPosition(model.head)(features), rtol=0, atol=1e-12)


def test_chunks_give_the_same_columns() -> None:
    columns = torch.randn(6, 1000)
    weight = torch.randn(3, 6)
    torch.testing.assert_close(in_chunks(lambda c: weight @ c, columns, chunk=128), weight @ columns)


@pytest.mark.parametrize("height", [2, 3, 8])
def test_two_halves_cover_every_output_row_once(height: int) -> None:
    p = 5
    cube = torch.randn(1, 1, 3, height + p - 1, 4 + p - 1)
    halves = two_halves(cube, p)
    assert halves.shape[0] == 2 and halves.shape[3] == (height + 1) // 2 + p - 1

    def rows(x: torch.Tensor) -> torch.Tensor:  # a stand-in twin: the first band's window sums
        return x[:, :, 0].unfold(2, p, 1).unfold(3, p, 1).sum(dim=(-2, -1))

    torch.testing.assert_close(in_two_halves(rows, cube, p), rows(cube))


def test_flops_are_counted_on_the_reference_twin() -> None:
    model = ResNet3d(12, 4, patch_size=5, attention="eca_band").eval()
    cube = torch.zeros(1, 1, 12, 10, 10)
    fused = forward_flops(model.fused_twin(), cube)
    reference = forward_flops(model.dense_twin(), cube)
    # D = 3 bands, k = 7: the matrix form skips the padded taps, the convolution counts
    # them; the fused twin also counts its box filter and its two halves' shared row.
    assert fused != reference
    spatial = forward_flops(model.spatial, cube)
    head = forward_flops(model.head, torch.zeros(1, 16, 3, 1, 1))
    assert reference == spatial + 6 * 6 * head
