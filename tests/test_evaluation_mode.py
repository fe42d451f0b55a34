"""evaluation_mode switches back exactly the modules that were training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.models import create_model, dense_profile, forward_flops


def modes(module: nn.Module) -> dict[str, bool]:
    return {name: sub.training for name, sub in module.named_modules()}


def test_mixed_modes_come_back_exactly_also_after_an_error() -> None:
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5).eval()
    model.head.train()  # fine-tuning the head only
    before = modes(model)
    with pytest.raises(RuntimeError, match="boom"), evaluation_mode(model):
        assert not any(sub.training for sub in model.modules())
        raise RuntimeError("boom")
    assert modes(model) == before


def test_a_wrapper_in_training_mode_does_not_switch_the_modules_it_shares() -> None:
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5).eval()
    wrapper = nn.Sequential(model.spatial)  # a new module starts in training mode
    assert wrapper.training
    forward_flops(wrapper, torch.zeros(1, 1, 8, 5, 5))
    assert not any(sub.training for sub in model.modules())
    assert wrapper.training


def test_dense_profile_leaves_an_eval_model_in_eval_mode() -> None:
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5).eval()
    dense_profile(model)
    assert not any(sub.training for sub in model.modules())
    assert not model.dense_twin().training
