"""Contract tests run over every registered attention layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hsi_attn.layers import (
    ChannelGate,
    attention_class,
    create_attention,
    eca_kernel_size,
    hidden_width,
    list_attention,
)

C, D, H, W = 16, 7, 5, 4
R, K = 4, 3


def hidden(c: int, r: int) -> int:
    return max(1, c // r)


# The parameter counts of the table, with the hidden width floored at 1.
EXPECTED_PARAMETERS = {
    "none": lambda c, r, k: 0,
    "se": lambda c, r, k: 2 * c * hidden(c, r),
    "eca": lambda c, r, k: k,
    "cbam": lambda c, r, k: 2 * c * hidden(c, r),
    "danet": lambda c, r, k: 1,
    "se3d": lambda c, r, k: 2 * c * hidden(c, r),
    "se_band": lambda c, r, k: 2 * c * hidden(c, r),
    "eca_band": lambda c, r, k: k,
    "eca_band_conv": lambda c, r, k: c * c * k,
    "eca_dual": lambda c, r, k: c * c * k + k,
    "cbam_band": lambda c, r, k: 2 * c * hidden(c, r),
    "danet3d": lambda c, r, k: 1,
}


def feature_ndim(name: str) -> int:
    return getattr(attention_class(name), "feature_ndim", 5)


def make_input(name: str, *, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (2, C, H, W) if feature_ndim(name) == 4 else (2, C, D, H, W)
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype)


def build(name: str, *, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_attention(name, C, reduction=R, kernel_size=K)


def test_every_table_entry_is_registered() -> None:
    assert sorted(list_attention()) == sorted(EXPECTED_PARAMETERS)


@pytest.mark.parametrize("name", list_attention())
def test_output_shape_equals_input_shape(name: str) -> None:
    x = make_input(name)
    assert build(name)(x).shape == x.shape


@pytest.mark.parametrize("name", list_attention())
def test_gradients_reach_input_and_every_parameter(name: str) -> None:
    layer = build(name)
    x = make_input(name).requires_grad_(True)
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    (layer(x) * weights).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for param_name, param in layer.named_parameters():
        assert param.grad is not None, param_name
        assert param.grad.abs().sum() > 0, param_name


@pytest.mark.parametrize("name", [n for n in list_attention() if issubclass(attention_class(n), ChannelGate)])
def test_gate_values_lie_strictly_between_zero_and_one(name: str) -> None:
    layer = build(name)
    x = make_input(name)
    gate = layer.gate(x)
    assert gate.dim() == x.dim()
    assert gate.shape[:2] == x.shape[:2] and gate.shape[-2:] == (1, 1)
    assert torch.all(gate > 0) and torch.all(gate < 1)
    torch.testing.assert_close(layer(x), x * gate)


@pytest.mark.parametrize("name", list_attention())
@pytest.mark.parametrize(("channels", "reduction", "kernel"), [(16, 4, 3), (10, 4, 5), (3, 16, 1), (64, 8, 7)])
def test_parameter_count_matches_the_formula(name: str, channels: int, reduction: int, kernel: int) -> None:
    layer = create_attention(name, channels, reduction=reduction, kernel_size=kernel)
    count = sum(p.numel() for p in layer.parameters())
    assert count == EXPECTED_PARAMETERS[name](channels, reduction, kernel)


@pytest.mark.parametrize("name", list_attention())
def test_layer_exports_with_torch_export(name: str) -> None:
    layer = build(name).eval()
    x = make_input(name)
    exported = torch.export.export(layer, (x,))
    torch.testing.assert_close(exported.module()(x), layer(x))


@pytest.mark.parametrize("name", list_attention())
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_layer_runs_in_float64_and_bfloat16(name: str, dtype: torch.dtype) -> None:
    layer = build(name)
    if isinstance(layer, nn.Module) and name.startswith("danet"):
        with torch.no_grad():
            layer.gamma.fill_(0.5)  # exercise the attention branch, not just the identity
    reference = layer(make_input(name, dtype=torch.float64).float())
    layer = layer.to(dtype)
    out = layer(make_input(name, dtype=dtype))
    assert out.dtype == dtype and out.shape == reference.shape
    assert torch.isfinite(out).all()
    tolerance = 1e-5 if dtype == torch.float64 else 0.1
    torch.testing.assert_close(out.float(), reference, atol=tolerance * reference.abs().max().item(), rtol=tolerance)


@pytest.mark.parametrize("name", [n for n in list_attention() if n != "none"])
def test_wrong_rank_raises_a_clear_error(name: str) -> None:
    layer = build(name)
    wrong = torch.randn(2, C, D, H, W) if feature_ndim(name) == 4 else torch.randn(2, C, H, W)
    with pytest.raises(ValueError, match=r"expects a [45]-D feature map"):
        layer(wrong)


@pytest.mark.parametrize("name", [n for n in list_attention() if n != "none"])
def test_wrong_channel_count_raises_a_clear_error(name: str) -> None:
    layer = build(name)
    x = make_input(name)[:, : C - 1]
    with pytest.raises(ValueError, match=r"built for 16 channels but the input has 15"):
        layer(x)


@pytest.mark.parametrize(("channels", "expected"), [(16, 3), (64, 3), (200, 5), (256, 5)])
def test_adaptive_kernel_size_matches_hand_computed_values(channels: int, expected: int) -> None:
    # C=16: log2=4, (4+1)/2=2.5 -> 2, even -> 3.   C=64: (6+1)/2=3.5 -> 3.
    # C=200: log2=7.64, 8.64/2=4.32 -> 4, even -> 5.   C=256: (8+1)/2=4.5 -> 4 -> 5.
    assert eca_kernel_size(channels) == expected
    for name in ("eca", "eca_band", "eca_band_conv", "eca_dual"):
        assert create_attention(name, channels, kernel_size="adaptive").kernel_size == expected


@pytest.mark.parametrize("reduction", [2, 4, 8, 16, 32])
@pytest.mark.parametrize("name", ["se", "se3d", "se_band", "cbam", "cbam_band"])
def test_reduction_sets_the_bottleneck_width(name: str, reduction: int) -> None:
    layer = create_attention(name, 64, reduction=reduction)
    linears = [m for m in layer.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [64 // reduction, 64]


@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
@pytest.mark.parametrize("name", ["eca", "eca_band", "eca_band_conv", "eca_dual"])
def test_kernel_size_is_honoured(name: str, kernel: int) -> None:
    layer = create_attention(name, 12, kernel_size=kernel)
    assert {m.kernel_size[0] for m in layer.modules() if isinstance(m, nn.Conv1d)} == {kernel}


def test_hidden_width_never_reaches_zero_and_allows_uneven_division() -> None:
    assert hidden_width(3, 16) == 1
    assert hidden_width(10, 4) == 2
    layer = create_attention("se_band", 3, reduction=32)
    assert layer(torch.randn(1, 3, 4, 2, 2)).shape == (1, 3, 4, 2, 2)
