"""Property tests (hypothesis) for the band-preserving layers."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.layers import create_attention

BAND_PRESERVING = ["se_band", "eca_band", "eca_band_conv", "eca_dual", "cbam_band"]
SETTINGS = settings(max_examples=20, deadline=None)

names = st.sampled_from(BAND_PRESERVING)
dims = st.integers(min_value=1, max_value=9)


@SETTINGS
@given(name=names, channels=dims, bands=dims, height=st.integers(1, 4), width=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_any_channel_and_band_count_works(name: str, channels: int, bands: int, height: int, width: int, seed: int) -> None:
    torch.manual_seed(seed)
    layer = create_attention(name, channels, reduction=2, kernel_size=3).double()
    x = torch.randn(2, channels, bands, height, width, dtype=torch.float64)
    out = layer(x)
    assert out.shape == x.shape
    assert layer.gate(x).shape == (2, channels, bands, 1, 1)


@SETTINGS
@given(name=names, channels=dims, bands=dims, seed=st.integers(0, 2**16))
def test_shuffling_positions_shuffles_the_output_the_same_way(name: str, channels: int, bands: int, seed: int) -> None:
    torch.manual_seed(seed)
    layer = create_attention(name, channels, reduction=2, kernel_size=3).double()
    x = torch.randn(2, channels, bands, 3, 4, dtype=torch.float64)
    permutation = torch.randperm(12)
    shuffled = x.flatten(3)[..., permutation].view_as(x)
    expected = layer(x).flatten(3)[..., permutation].view_as(x)
    torch.testing.assert_close(layer(shuffled), expected)


@SETTINGS
@given(name=names, channels=st.integers(2, 9), bands=st.integers(2, 9), seed=st.integers(0, 2**16))
def test_gate_differs_across_bands_for_non_constant_input(name: str, channels: int, bands: int, seed: int) -> None:
    torch.manual_seed(seed)
    layer = create_attention(name, channels, reduction=2, kernel_size=3).double()
    # Alternate the sign of one spatial pattern across bands, with noise of zero spatial
    # mean (so each band's average descriptor is exactly +-the pattern's), and start from
    # zero biases: every ReLU unit of the SE and CBAM bottlenecks is then active at some
    # band, so a dead unit cannot flatten the gate (hypothesis found noise outweighing a
    # small pattern mean at channels=2, seed=169), and the descriptors differ between bands.
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(getattr(module, "bias", None), torch.Tensor):
                module.bias.zero_()
    pattern = torch.randn(1, channels, 1, 3, 3, dtype=torch.float64) * 3
    signs = torch.tensor([(-1.0) ** d for d in range(bands)], dtype=torch.float64).view(1, 1, bands, 1, 1)
    noise = 0.1 * torch.randn(1, channels, bands, 3, 3, dtype=torch.float64)
    x = pattern * signs + noise - noise.mean(dim=(3, 4), keepdim=True)
    gate = layer.gate(x)[0, :, :, 0, 0]  # (C, D)
    assert (gate.max(dim=1).values - gate.min(dim=1).values).max() > 1e-6


@SETTINGS
@given(channels=dims, bands=dims, reduction=st.sampled_from([1, 2, 4, 8, 16, 32]), seed=st.integers(0, 2**16))
def test_se_band_equals_a_loop_of_se_over_bands(channels: int, bands: int, reduction: int, seed: int) -> None:
    torch.manual_seed(seed)
    band = create_attention("se_band", channels, reduction=reduction).double()
    plain = create_attention("se", channels, reduction=reduction).double()
    plain.load_state_dict(band.state_dict())
    x = torch.randn(2, channels, bands, 3, 2, dtype=torch.float64)
    expected = torch.stack([plain(x[:, :, d]) for d in range(bands)], dim=2)
    torch.testing.assert_close(band(x), expected)
