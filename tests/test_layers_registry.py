"""The attention registry's error paths and option handling."""

from __future__ import annotations

import pytest
from torch import nn

from hsi_attn.layers import BandECA3d, accepted_options, create_attention
from hsi_attn.registry import lookup, make_registry


def test_none_is_identity() -> None:
    assert isinstance(create_attention("none", 8), nn.Identity)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown attention 'se_bnad'.*Did you mean 'se_band'"):
        create_attention("se_bnad", 8)


def test_names_are_case_insensitive() -> None:
    assert isinstance(create_attention("ECA_Band", 8), BandECA3d)


def test_duplicate_registration_is_an_error() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        make_registry([("a", 1), ("a", 2)], kind="thing")


def test_lookup_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        lookup(make_registry([("a", 1)], kind="thing"), 3, kind="thing")  # type: ignore[arg-type]


def test_shared_options_a_layer_does_not_use_are_ignored() -> None:
    layer = create_attention("eca_band", 16, reduction=8, kernel_size=5)
    assert layer.kernel_size == 5
    assert accepted_options("eca_band") == {"kernel_size", "gate"}


def test_unknown_option_is_a_type_error_naming_the_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['reductoin'\].*reduction"):
        create_attention("se_band", 16, reductoin=4)


@pytest.mark.parametrize("kernel", [0, 2, 4, -1, 2.5, "big", True])
def test_bad_kernel_size_is_rejected(kernel: object) -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        create_attention("eca_band", 16, kernel_size=kernel)


@pytest.mark.parametrize("reduction", [0, -2, 1.5, "4", True])
def test_bad_reduction_is_rejected(reduction: object) -> None:
    with pytest.raises(ValueError, match="reduction"):
        create_attention("se_band", 16, reduction=reduction)


@pytest.mark.parametrize("channels", [0, -1, 2.0])
def test_bad_channel_count_is_rejected(channels: object) -> None:
    with pytest.raises(ValueError, match="channels"):
        create_attention("se", channels)  # type: ignore[arg-type]


def test_unknown_gate_suggests_the_fix() -> None:
    with pytest.raises(ValueError, match="Did you mean 'sigmoid'"):
        create_attention("se_band", 16, gate="sigmod")


def test_hard_sigmoid_gate_is_honoured() -> None:
    import torch

    layer = create_attention("eca_band", 8, gate="hard_sigmoid")
    x = torch.randn(2, 8, 3, 2, 2)
    avg = x.mean(dim=(-2, -1), keepdim=True)
    expected = torch.nn.functional.hardsigmoid(
        torch.nn.functional.conv1d(avg.movedim(1, -1).reshape(-1, 1, 8), layer.conv.weight, padding=layer.kernel_size // 2)
    ).reshape(2, 3, 1, 1, 8).movedim(-1, 1)
    torch.testing.assert_close(layer.gate(x), expected)
