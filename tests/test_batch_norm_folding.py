"""Batch norm folding is an explicit step: it returns a folded copy and leaves the model alone."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from patch_reference import patch_logits
from torch import nn

from hsi_attn.models import Hamida3d, ResNet3d, fold_batch_norm
from hsi_attn.models.band_padded_conv import BandPaddedConv3d
from hsi_attn.models.dense.folding import fold_into_conv, folded_conv, foldable
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
    expected = bn(conv(x))
    torch.testing.assert_close(conv._conv_forward(x, *fold_into_conv(conv, bn)), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(folded_conv(conv, bn)(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(fold_batch_norm(layers)(x), expected, rtol=0, atol=1e-12)


def test_band_padded_stem_folds_with_its_own_padding() -> None:
    stem = randomize(nn.Sequential(
        BandPaddedConv3d(1, 4, (7, 1, 1), stride=(4, 1, 1), band_padding=3, bias=False),
        nn.BatchNorm3d(4),
        nn.ReLU(),
    ), 3).eval()
    folded = fold_batch_norm(stem)
    assert isinstance(folded[0], BandPaddedConv3d) and isinstance(folded[1], nn.Identity)
    x = torch.randn(3, 1, 30, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(folded(x), stem(x), rtol=0, atol=1e-12)


def test_training_mode_folds_nothing() -> None:
    layers = randomize(nn.Sequential(nn.Conv3d(2, 3, (3, 3, 3)), nn.BatchNorm3d(3)), 4).train()
    assert not foldable(layers[1])
    assert fold_batch_norm(layers) is layers
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        fold_into_conv(layers[0], layers[1])


def test_a_sequential_subclass_keeps_its_own_forward() -> None:
    class Reversed(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self[1](self[0](x)) * 2

    layers = randomize(Reversed(nn.Conv3d(2, 3, (3, 3, 3)), nn.BatchNorm3d(3)), 5).eval()
    assert fold_batch_norm(layers) is layers


def test_spatial_block_folds_its_declared_pairs_into_a_copy() -> None:
    block = randomize(ValidSpatialBlock3d(3), 5).eval()
    x = torch.randn(2, 3, 6, 9, 9, dtype=torch.float64)
    out = block.relu(block.bn1(block.conv1(x)))
    expected = block.relu(block.bn2(block.conv2(out)) + x[..., 2:-2, 2:-2])
    folded = fold_batch_norm(block)
    assert isinstance(folded.bn1, nn.Identity) and isinstance(folded.bn2, nn.Identity)
    assert isinstance(block.bn1, nn.BatchNorm3d) and isinstance(block.bn2, nn.BatchNorm3d)
    torch.testing.assert_close(block(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(folded(x), expected, rtol=0, atol=1e-12)


FAMILIES = {
    "resnet3d": lambda p: ResNet3d(8, 4, patch_size=p, attention="eca_band", attention_kwargs={"kernel_size": 3}, width=4),
    "resnet3d (head as convolutions)": lambda p: ResNet3d(40, 4, patch_size=p, attention="cbam_band", attention_kwargs={"reduction": 2}, width=4, spectral_stride=1),
    "hamida3d": lambda p: Hamida3d(8, 4, patch_size=p, attention="se_band", attention_kwargs={"reduction": 2}, channels=(3, 4)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(("patch_size", "height"), [(1, 3), (5, 1), (5, 4), (9, 7)])
def test_fused_twin_equals_reference_twin_equals_patch_model(family: str, patch_size: int, height: int) -> None:
    model = randomize(FAMILIES[family](patch_size), seed=patch_size + height).eval()
    bands = model.n_bands
    cube = torch.randn(1, 1, bands, height + patch_size - 1, 5 + patch_size - 1, dtype=torch.float64)
    with torch.no_grad():
        expected = patch_logits(model, cube)
        reference = model.dense_twin()(cube)
        fused = model.fused_twin()(cube)
    assert fused.shape == reference.shape == (1, 4, height, 5)
    torch.testing.assert_close(reference, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-10)


def test_fusing_leaves_the_patch_model_untouched() -> None:
    model = randomize(FAMILIES["resnet3d"](9), seed=1).eval()
    modules = dict(model.named_modules())
    state = {name: value.clone() for name, value in model.state_dict().items()}
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    x = torch.randn(3, 1, 8, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        before = model(x)
    twin = model.fused_twin()
    folded = fold_batch_norm(model)
    assert folded is not model and isinstance(folded.spatial[1], nn.Identity)
    assert dict(model.named_modules()) == modules  # same objects, same places
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=0)
        torch.testing.assert_close(folded(x), before, rtol=0, atol=1e-12)
    frozen = [p for p in twin.spatial.parameters() if not any(p is q for q in model.parameters())]
    assert frozen and not any(p.requires_grad for p in frozen)  # the folded weights


def test_the_patch_models_gradients_do_not_depend_on_fusing() -> None:
    def gradients(fuse_first: bool) -> dict[str, torch.Tensor]:
        model = randomize(FAMILIES["resnet3d"](9), seed=2)
        if fuse_first:
            model.eval()
            model.fused_twin()(torch.randn(1, 1, 8, 12, 12, dtype=torch.float64))
            fold_batch_norm(model)
        model.train()
        x = torch.randn(4, 1, 8, 9, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    plain, after_fusing = gradients(False), gradients(True)
    assert plain.keys() == after_fusing.keys() and len(plain) > 10
    for name, grad in plain.items():
        torch.testing.assert_close(after_fusing[name], grad, rtol=0, atol=0)


def test_a_training_model_has_no_fused_twin() -> None:
    model = FAMILIES["resnet3d"](5)
    model.eval()
    model.head.train()
    with pytest.raises(ValueError, match=r"'head'.*model\.eval\(\)"):
        model.fused_twin()
