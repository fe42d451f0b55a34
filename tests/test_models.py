"""Model registry: every family x attention trains, bad arguments get clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hsi_attn.models import (
    DenseCapable,
    count_parameters,
    create_model,
    dense_profile,
    list_models,
    profile,
)

ATTENTIONS_3D = ["none", "se3d", "se_band", "eca_band", "eca_band_conv", "eca_dual", "cbam_band", "danet3d"]
OPTIONS = {"reduction": 2, "kernel_size": 3}
# Smallest sensible configuration per family (hybridsn needs B >= 16 and p >= 9).
TINY = {"resnet3d": (12, 5), "hamida3d": (12, 5), "hybridsn": (16, 9)}


def test_registry_lists_the_three_families_flagship_first() -> None:
    assert list_models()[0] == "resnet3d"
    assert set(list_models()) == {"resnet3d", "hamida3d", "hybridsn"}
    assert set(TINY) == set(list_models())


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("attention", ATTENTIONS_3D)
def test_forward_and_backward(name: str, attention: str) -> None:
    bands, p = TINY[name]
    torch.manual_seed(0)
    model = create_model(name, n_bands=bands, n_classes=4, patch_size=p, attention=attention, attention_kwargs=OPTIONS)
    if attention == "danet3d":  # gamma starts at 0; open it so the layer is exercised
        for m in model.modules():
            if hasattr(m, "gamma"):
                nn.init.constant_(m.gamma, 0.5)
    x = torch.randn(3, 1, bands, p, p)
    logits = model(x)
    assert logits.shape == (3, 4)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 3])).backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
    assert any(param.grad.abs().sum() > 0 for param in model.parameters())


@pytest.mark.parametrize("name", ["resnet3d", "hamida3d"])
@pytest.mark.parametrize("patch_size", [1, 3, 5, 7, 9, 11])
def test_dense_capable_families_take_any_odd_patch_size(name: str, patch_size: int) -> None:
    model = create_model(name, n_bands=12, n_classes=3, patch_size=patch_size, attention="eca_band")
    assert isinstance(model, DenseCapable)
    assert model(torch.randn(2, 1, 12, patch_size, patch_size)).shape == (2, 3)


def test_hybridsn_is_patch_only() -> None:
    model = create_model("hybridsn", n_bands=16, n_classes=3, patch_size=9)
    assert not isinstance(model, DenseCapable)
    assert not hasattr(model, "dense_twin")


def test_attention_is_inserted_by_name() -> None:
    plain = create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5)
    gated = create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5, attention="se_band", attention_kwargs={"reduction": 2})
    names = {type(m).__name__ for m in gated.modules()}
    assert "BandSE3d" in names
    assert "BandSE3d" not in {type(m).__name__ for m in plain.modules()}
    assert count_parameters(gated) > count_parameters(plain)


def test_attention_options_reach_the_layer() -> None:
    model = create_model("hamida3d", n_bands=12, n_classes=3, patch_size=5, attention="eca_band", attention_kwargs={"kernel_size": 7})
    (layer,) = [m for m in model.modules() if type(m).__name__ == "BandECA3d"]
    assert layer.kernel_size == 7


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(ValueError, match="resnet3d"):
        create_model("resnet3", n_bands=12, n_classes=3, patch_size=5)


def test_unknown_attention_suggests_close_names() -> None:
    with pytest.raises(ValueError, match="eca_band"):
        create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5, attention="eca_bnd")


def test_two_d_attention_is_refused_with_the_three_d_choices() -> None:
    with pytest.raises(ValueError, match=r"2-D.*se_band"):
        create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5, attention="se")


@pytest.mark.parametrize(
    ("name", "patch_size", "accepted"),
    [("resnet3d", 4, ">= 1"), ("resnet3d", 0, ">= 1"), ("hamida3d", -3, ">= 1"), ("hybridsn", 7, ">= 9"), ("hybridsn", 10, ">= 9")],
)
def test_bad_patch_size_names_the_accepted_values(name: str, patch_size: int, accepted: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: patch_size must be an odd integer {accepted}"
                                         rf".*got {patch_size}"):
        create_model(name, n_bands=16, n_classes=3, patch_size=patch_size)


def test_non_integer_patch_size_is_refused() -> None:
    with pytest.raises(ValueError, match="odd integer"):
        create_model("resnet3d", n_bands=16, n_classes=3, patch_size=5.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "bands"), [("hamida3d", 2), ("hybridsn", 15), ("resnet3d", 0)])
def test_too_few_bands_is_refused(name: str, bands: int) -> None:
    with pytest.raises(ValueError, match="n_bands"):
        create_model(name, n_bands=bands, n_classes=3, patch_size=9)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((2, 12, 5, 5), "unsqueeze"), ((2, 1, 11, 5, 5), "12 bands"), ((2, 1, 12, 7, 7), "5x5")],
)
def test_wrong_input_shape_is_explained(shape: tuple[int, ...], match: str) -> None:
    model = create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5)
    with pytest.raises(ValueError, match=match):
        model(torch.randn(shape))


def test_profile_counts_multiply_adds_by_hand() -> None:
    model = nn.Sequential(nn.Conv3d(1, 2, (3, 1, 1)), nn.Flatten(), nn.Linear(2 * 4 * 3 * 3, 5))
    info = profile(model, (2, 1, 6, 3, 3))
    conv_macs = 2 * 4 * 3 * 3 * 3  # out channels x D' x H x W x kernel volume
    linear_macs = 72 * 5
    assert info["macs_per_patch"] == conv_macs + linear_macs
    assert info["flops_per_patch"] == 2 * (conv_macs + linear_macs)
    assert info["params"] == (2 * 3 + 2) + (72 * 5 + 5)


def test_profile_restores_training_mode() -> None:
    model = create_model("resnet3d", n_bands=12, n_classes=3, patch_size=5)
    model.train()
    profile(model, (1, 1, 12, 5, 5))
    assert model.training


def test_dense_profile_redundancy_grows_with_the_window() -> None:
    spectral = dense_profile(create_model("resnet3d", n_bands=12, n_classes=3, patch_size=1))
    spatial = dense_profile(create_model("resnet3d", n_bands=12, n_classes=3, patch_size=9))
    assert spectral["redundancy_factor"] == pytest.approx(1.0)
    assert spatial["redundancy_factor"] > 3


def test_dense_profile_refuses_patch_only_models() -> None:
    with pytest.raises(ValueError, match="dense"):
        dense_profile(create_model("hybridsn", n_bands=16, n_classes=3, patch_size=9))  # type: ignore[arg-type]


# FLOPs the code before issue 13 reported (counting its twin in a "reference form" that
# a flag read inside forward passes switched on): 30 bands, 16 classes, default options.
# Keys: (family, p, attention); values: (per patch, dense per pixel on the 16 x 16 probe).
RECORDED_FLOPS = {
    ("resnet3d", 11, "eca_band"): (14712576.0, 581436.0),
    ("resnet3d", 5, "danet3d"): (1285888.0, 388528.0),
    ("resnet3d", 1, "none"): (120576.0, 120576.0),
    ("hamida3d", 11, "eca_band"): (31228820.0, 1271138.75),
    ("hamida3d", 9, "cbam_band"): (16487380.0, 1076792.5),
}


@pytest.mark.parametrize(("name", "patch_size", "attention"), sorted(RECORDED_FLOPS))
def test_flop_counts_are_those_recorded_before(name: str, patch_size: int, attention: str) -> None:
    model = create_model(name, n_bands=30, n_classes=16, patch_size=patch_size, attention=attention)
    per_patch, per_pixel = RECORDED_FLOPS[name, patch_size, attention]
    assert profile(model, (1, 1, 30, patch_size, patch_size))["flops_per_patch"] == per_patch
    assert dense_profile(model)["flops_per_pixel"] == per_pixel


def test_the_full_scene_count_differs_from_the_recorded_one_by_padding_positions_only() -> None:
    # On 145 x 145 the old count ran two copies of the scene (42,050 positions) through a
    # head that packed positions into 4 x 4 blocks, padding 14 of them with zeros, and
    # counted the head on those too. The reference twin counts every real position once.
    from hsi_attn.config import ModelConfig

    config = ModelConfig()
    model = create_model(config.name, n_bands=30, n_classes=16, patch_size=config.patch_size,
                         attention=config.attention, attention_kwargs=config.attention_kwargs())
    positions = 2 * 145 * 145
    head_per_position = profile(model.head, (1, 16, 8, 1, 1))["flops_per_patch"]
    assert head_per_position == 118784  # two blocks of two (7, 1, 1) convs, and the classifier
    counted = dense_profile(model, height=145, width=145)["flops_per_pixel"]
    recorded = 363936.94211652793
    assert counted * positions + 14 * head_per_position == pytest.approx(recorded * positions, rel=1e-12)


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
@pytest.mark.parametrize("bands", [5, 6, 7, 8, 30])
@pytest.mark.parametrize("stride", [1, 2, 4])
def test_band_padded_conv_is_a_padded_conv_with_correct_gradients(bands: int, stride: int) -> None:
    # torch 2.13's oneDNN weight gradient of the padded form is wrong (or crashes) for
    # 5-7 bands at stride 2; the explicit padding must give the reference everywhere.
    from hsi_attn.models.band_padded_conv import BandPaddedConv3d

    torch.manual_seed(bands)
    conv = BandPaddedConv3d(1, 4, (7, 1, 1), stride=(stride, 1, 1), band_padding=3, bias=False)
    reference = nn.Conv3d(1, 4, (7, 1, 1), stride=(stride, 1, 1), padding=(3, 0, 0), bias=False)
    assert conv.state_dict().keys() == reference.state_dict().keys()
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(16, 1, bands, 3, 3)
    out = conv(x)
    (out * out).sum().backward()
    with torch.backends.mkldnn.flags(enabled=False):  # the slow but correct kernel
        expected = reference(x)
        (expected * expected).sum().backward()
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(conv.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
