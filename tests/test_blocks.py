"""Residual blocks carrying any registered attention."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hsi_attn.layers import BasicBlock2d, BasicBlock3d, attention_class, list_attention

NAMES_2D = [n for n in list_attention() if getattr(attention_class(n), "feature_ndim", 5) == 4 or n == "none"]
NAMES_3D = [n for n in list_attention() if getattr(attention_class(n), "feature_ndim", 5) == 5]


@pytest.mark.parametrize("attention", NAMES_2D)
@pytest.mark.parametrize(("in_ch", "out_ch", "stride"), [(8, 8, 1), (4, 8, 2)])
def test_basic_block_2d_shapes(attention: str, in_ch: int, out_ch: int, stride: int) -> None:
    block = BasicBlock2d(in_ch, out_ch, stride=stride, attention=attention, attention_kwargs={"reduction": 2, "kernel_size": 3})
    out = block(torch.randn(2, in_ch, 8, 8))
    assert out.shape == (2, out_ch, 8 // stride, 8 // stride)


@pytest.mark.parametrize("attention", NAMES_3D)
def test_basic_block_3d_spectral_kernel_keeps_shape(attention: str) -> None:
    block = BasicBlock3d(6, 6, kernel_size=(7, 1, 1), padding=(3, 0, 0), attention=attention, attention_kwargs={"reduction": 2})
    x = torch.randn(2, 6, 11, 3, 3, requires_grad=True)
    out = block(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert all(p.grad is not None for p in block.parameters())


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0


@pytest.mark.parametrize("block_type", [BasicBlock2d, BasicBlock3d])
def test_attention_sits_before_the_residual_addition(block_type: type[nn.Module]) -> None:
    block = block_type(4, 4, attention="none")
    block.attention = _Zero()  # a gate that closes completely leaves only the shortcut
    x = torch.randn(2, 4, 5, 5) if block_type is BasicBlock2d else torch.randn(2, 4, 3, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_valid_padding_mismatch_is_reported() -> None:
    block = BasicBlock3d(4, 4, kernel_size=3, padding=0)
    with pytest.raises(ValueError, match="same"):
        block(torch.randn(2, 4, 5, 5, 5))
