"""Each layer against a straightforward formula written out here, with the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hsi_attn.layers import create_attention


def seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def eca_reference(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Zero-padded size-k convolution across channels of z (N, C), one kernel w (k,)."""
    k = w.numel()
    padded = F.pad(z, (k // 2, k // 2))
    return torch.stack([(padded[:, c : c + k] * w).sum(dim=1) for c in range(z.shape[1])], dim=1)


def mlp_reference(z: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    return torch.relu(z @ w1.T) @ w2.T


def test_se_matches_formula() -> None:
    layer = create_attention("se", 12, reduction=4).double()
    x = seeded(3, 12, 5, 6)
    z = x.mean(dim=(2, 3))
    s = torch.sigmoid(mlp_reference(z, layer.fc[0].weight, layer.fc[2].weight))
    torch.testing.assert_close(layer(x), x * s[:, :, None, None])


def test_eca_matches_formula() -> None:
    layer = create_attention("eca", 12, kernel_size=5).double()
    x = seeded(3, 12, 5, 6)
    s = torch.sigmoid(eca_reference(x.mean(dim=(2, 3)), layer.conv.weight.view(-1)))
    torch.testing.assert_close(layer(x), x * s[:, :, None, None])


def test_cbam_matches_formula() -> None:
    layer = create_attention("cbam", 12, reduction=3).double()
    x = seeded(3, 12, 5, 6)
    w1, w2 = layer.mlp[0].weight, layer.mlp[2].weight
    s = torch.sigmoid(mlp_reference(x.mean(dim=(2, 3)), w1, w2) + mlp_reference(x.amax(dim=(2, 3)), w1, w2))
    torch.testing.assert_close(layer(x), x * s[:, :, None, None])


def danet_reference(x: torch.Tensor, gamma: float) -> torch.Tensor:
    n, c = x.shape[:2]
    out = torch.empty_like(x)
    for i in range(n):
        flat = x[i].reshape(c, -1)
        energy = flat @ flat.T
        energy_new = energy.max(dim=1, keepdim=True).values - energy  # DANet's rowmax trick
        attention = torch.exp(energy_new) / torch.exp(energy_new).sum(dim=1, keepdim=True)
        out[i] = (gamma * (attention @ flat) + flat).reshape(x[i].shape)
    return out


def test_danet_matches_formula_including_the_rowmax_trick() -> None:
    layer = create_attention("danet", 6).double()
    with torch.no_grad():
        layer.gamma.fill_(0.7)
    x = seeded(2, 6, 4, 3) * 0.3
    torch.testing.assert_close(layer(x), danet_reference(x, 0.7))


def test_danet3d_flattens_bands_and_positions() -> None:
    layer = create_attention("danet3d", 6).double()
    with torch.no_grad():
        layer.gamma.fill_(-0.4)
    x = seeded(2, 6, 5, 3, 3) * 0.3
    torch.testing.assert_close(layer(x), danet_reference(x, -0.4))


def test_danet_starts_as_identity() -> None:
    x = seeded(2, 6, 5, 3, 3)
    torch.testing.assert_close(create_attention("danet3d", 6).double()(x), x)


def test_se3d_squeezes_bands_and_space_together() -> None:
    layer = create_attention("se3d", 12, reduction=4).double()
    x = seeded(2, 12, 7, 3, 4)
    s = torch.sigmoid(mlp_reference(x.mean(dim=(2, 3, 4)), layer.fc[0].weight, layer.fc[2].weight))
    torch.testing.assert_close(layer(x), x * s[:, :, None, None, None])


def test_eca_band_is_eca_at_every_band() -> None:
    layer = create_attention("eca_band", 12, kernel_size=3).double()
    x = seeded(2, 12, 7, 3, 4)
    w = layer.conv.weight.view(-1)
    gates = torch.stack([torch.sigmoid(eca_reference(x[:, :, d].mean(dim=(2, 3)), w)) for d in range(7)], dim=2)
    torch.testing.assert_close(layer(x), x * gates[..., None, None])


def test_eca_band_conv_convolves_along_bands() -> None:
    layer = create_attention("eca_band_conv", 5, kernel_size=3).double()
    x = seeded(2, 5, 9, 3, 4)
    z = x.mean(dim=(3, 4))  # (N, C, D)
    weight = layer.conv.weight  # (C_out, C_in, k)
    padded = F.pad(z, (1, 1))
    logits = torch.stack(
        [torch.einsum("oik,nik->no", weight, padded[:, :, d : d + 3]) for d in range(9)], dim=2
    )
    torch.testing.assert_close(layer(x), x * torch.sigmoid(logits)[..., None, None])


def test_eca_dual_is_the_product_of_its_two_gates() -> None:
    layer = create_attention("eca_dual", 5, kernel_size=3).double()
    x = seeded(2, 5, 9, 3, 4)
    band = torch.sigmoid(F.conv1d(x.mean(dim=(3, 4)), layer.band_conv.weight, padding=1))
    channel = torch.sigmoid(eca_reference(x.mean(dim=(2, 3, 4)), layer.channel_conv.weight.view(-1)))
    torch.testing.assert_close(layer(x), x * (band * channel[:, :, None])[..., None, None])


def test_cbam_band_is_cbam_at_every_band() -> None:
    band = create_attention("cbam_band", 12, reduction=4).double()
    flat = create_attention("cbam", 12, reduction=4).double()
    flat.load_state_dict(band.state_dict())
    x = seeded(2, 12, 6, 3, 4)
    per_band = torch.stack([flat.gate(x[:, :, d]) for d in range(6)], dim=2)
    torch.testing.assert_close(band.gate(x), per_band)


def test_eca_kernel_wider_than_the_channel_axis_matches_formula() -> None:
    # Shifts of |s| >= C contribute nothing: only zero padding is under them.
    layer = create_attention("eca_band", 2, kernel_size=7).double()
    x = seeded(3, 2, 4, 2, 2, seed=5)
    pooled = x.mean(dim=(3, 4)).transpose(1, 2).reshape(-1, 2)
    s = torch.sigmoid(eca_reference(pooled, layer.conv.weight.view(-1))).reshape(3, 4, 2).transpose(1, 2)
    torch.testing.assert_close(layer(x), x * s[..., None, None])


def test_conv_across_channels_refuses_a_conv_it_cannot_slide() -> None:
    from hsi_attn.layers.feature_maps import conv_across_channels

    with pytest.raises(ValueError, match="channel_conv"):
        conv_across_channels(torch.nn.Conv1d(1, 1, 3, padding=0), seeded(2, 4, 3))
