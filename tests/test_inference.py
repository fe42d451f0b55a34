"""Full-scene prediction: dense equals per-patch exactly, across tiles; clear errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from patch_reference import patch_logits
from torch import nn

from hsi_attn.data.patches import PatchSampler
from hsi_attn.inference import dense_tile_size, predict_scene, tile_grid
from hsi_attn.models import DenseCapable, Hamida3d, ResNet3d, create_model, forward_flops
from hsi_attn.models.dense.box_filter import box_filter

ATTENTIONS = ["none", "se3d", "se_band", "eca_band", "eca_band_conv", "eca_dual", "cbam_band", "danet3d"]
PATCH_SIZES = [1, 5, 9, 11]
FAMILIES = {
    # Narrow versions of the dense-capable families keep each case well under a second.
    "resnet3d": lambda bands, p, att: ResNet3d(bands, 4, patch_size=p, attention=att, attention_kwargs={"reduction": 2, "kernel_size": 3}, width=4),
    "hamida3d": lambda bands, p, att: Hamida3d(bands, 4, patch_size=p, attention=att, attention_kwargs={"reduction": 2, "kernel_size": 3}, channels=(3, 4)),
}


def randomized(model: nn.Module, seed: int) -> nn.Module:
    """Random weights *and* BN statistics, float64, eval mode: no layer is an identity.

    Weights are scaled by 1/sqrt(fan-in) so the logits stay moderate and the softmax
    probabilities are informative (not saturated to 0/1).
    """
    gen = torch.Generator().manual_seed(seed)
    model = model.double().eval()
    with torch.no_grad():
        for param in model.parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=param.dtype)
            if param.dim() > 1:
                param.copy_(noise * 1.5 / (param[0].numel() ** 0.5))
            elif param.numel() == 1:  # DANet's gamma: open the attention branch
                param.fill_(0.5)
            else:
                param.copy_(noise * 0.2)
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.2)
                module.running_var.uniform_(0.5, 1.5, generator=gen)
    return model


def calibrated(model: nn.Module, cube: np.ndarray, p: int) -> nn.Module:
    """Rescale and centre the classifier's logits on ``cube``: an unsaturated softmax."""
    coords = np.stack(np.divmod(np.arange(0, cube.shape[0] * cube.shape[1], 3), cube.shape[1]), axis=1)
    patches = PatchSampler(cube, p).gather(coords)
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        logits = model(patches.to(next(model.parameters()).dtype))
        scale = 2 / logits.std(dim=0).mean()
        classifier.weight.mul_(scale)
        classifier.bias.mul_(scale).sub_(logits.mean(dim=0) * scale)
    return model


def assert_dense_equals_patch(model: nn.Module, cube: np.ndarray, p: int, *, atol: float = 1e-6) -> None:
    model = calibrated(model, cube, p)
    patch = predict_scene(model, cube, patch_size=p, method="patch", batch_size=97)
    whole = predict_scene(model, cube, patch_size=p, method="dense")
    tile = min(cube.shape[:2]) // 2 - 1
    assert len(list(tile_grid(*cube.shape[:2], tile))) >= 4
    tiled = predict_scene(model, cube, patch_size=p, method="dense", tile_size=tile)
    assert patch.shape == (*cube.shape[:2], 4)
    assert patch.dtype == whole.dtype == tiled.dtype
    np.testing.assert_allclose(patch.sum(axis=2), 1.0, atol=atol)
    assert patch.std(axis=(0, 1)).max() > 0.02  # the map is not constant: a real check
    np.testing.assert_allclose(whole, patch, rtol=0, atol=atol)
    np.testing.assert_allclose(tiled, patch, rtol=0, atol=atol)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_dense_equals_patch_on_a_random_cube(family: str, attention: str, patch_size: int) -> None:
    model = randomized(FAMILIES[family](8, patch_size, attention), seed=patch_size)
    cube = np.random.default_rng(patch_size).normal(size=(13, 11, 8)).astype(np.float32)
    assert_dense_equals_patch(model, cube, patch_size)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_the_reference_twin_equals_the_patch_model(attention: str, patch_size: int) -> None:
    # predict_scene runs the fused twin (head as matrix products on these 8 bands, box
    # filter as a convolution); the reference twin, which FLOP counts run, must be exact too.
    model = calibrated(randomized(FAMILIES["resnet3d"](8, patch_size, attention), seed=50 + patch_size),
                       np.random.default_rng(patch_size).normal(size=(13, 11, 8)).astype(np.float32), patch_size)
    cube = torch.randn(1, 1, 8, 6 + patch_size - 1, 5 + patch_size - 1, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(patch_size))
    with torch.no_grad():
        torch.testing.assert_close(model.dense_twin()(cube), patch_logits(model, cube), rtol=0, atol=1e-10)


@pytest.fixture(scope="module")
def indian_pines_crop() -> np.ndarray:
    """A 40x40 crop of real Indian Pines, every 20th band, standardised."""
    from hsi_attn.data import DatasetNotFoundError, load_scene

    try:
        scene = load_scene("indian_pines", dtype="float32")
    except DatasetNotFoundError as exc:
        pytest.skip(f"Indian Pines is not available locally: {exc}")
    crop = scene.cube[50:90, 30:70, ::20]
    return ((crop - crop.mean(axis=(0, 1))) / crop.std(axis=(0, 1))).astype(np.float32)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_dense_equals_patch_on_real_indian_pines(indian_pines_crop: np.ndarray, family: str, attention: str, patch_size: int) -> None:
    # float32 (tolerance 1e-4): torch has no fast float64 3-D convolution on CPU, and
    # 1,600 float64 patches per case would take seconds; float64 is covered above.
    model = randomized(FAMILIES[family](indian_pines_crop.shape[2], patch_size, attention), seed=100 + patch_size).float()
    assert_dense_equals_patch(model, indian_pines_crop, patch_size, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40), tile=st.integers(1, 50))
def test_tiles_cover_every_pixel_exactly_once(height: int, width: int, tile: int) -> None:
    cover = np.zeros((height, width), dtype=int)
    for top, left, h, w in tile_grid(height, width, tile):
        assert 1 <= h <= tile and 1 <= w <= tile
        cover[top : top + h, left : left + w] += 1
    assert (cover == 1).all()


@settings(max_examples=40, deadline=None)
@given(r=st.integers(1, 13), extra_h=st.integers(0, 4), extra_w=st.integers(0, 4), seed=st.integers(0, 99))
def test_box_filter_is_the_mean_of_every_window(r: int, extra_h: int, extra_w: int, seed: int) -> None:
    x = torch.randn(2, 3, 2, r + extra_h, r + extra_w, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    expected = nn.functional.avg_pool3d(x, (1, r, r), stride=1)
    torch.testing.assert_close(box_filter(x, r), expected, rtol=0, atol=1e-12)


def test_only_the_fused_twin_counts_flops_for_the_window_average() -> None:
    # The patch model's window mean is not counted; the reference twin's average
    # pooling is not either, so both count alike. The box filter's convolution is.
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=9).eval()
    features = torch.randn(1, 16, 2, 12, 12)
    assert forward_flops(model.dense_twin().window_average, features) == 0
    assert forward_flops(model.fused_twin().window_average, features) > 0


def test_tile_size_follows_the_memory_budget() -> None:
    twin = create_model("resnet3d", n_bands=20, n_classes=4, patch_size=9).eval().fused_twin()
    small = dense_tile_size(twin, n_bands=20, patch_size=9, max_memory=1 << 20)
    large = dense_tile_size(twin, n_bands=20, patch_size=9, max_memory=1 << 28)
    assert 1 <= small < large


def test_the_tile_probe_runs_once_per_model_and_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import hsi_attn.inference.tiles as tiles

    calls: list[int] = []
    probe = tiles.dense_tile_size

    def counting_probe(*args: object, **kwargs: object) -> int:
        calls.append(1)
        return probe(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tiles, "dense_tile_size", counting_probe)
    model = create_model("resnet3d", n_bands=6, n_classes=3, patch_size=5)
    cube = np.random.default_rng(0).normal(size=(9, 9, 6)).astype(np.float32)
    first = predict_scene(model, cube, patch_size=5, method="dense")
    np.testing.assert_array_equal(predict_scene(model, cube, patch_size=5, method="dense"), first)
    assert len(calls) == 1
    predict_scene(model, cube, patch_size=5, method="dense", max_memory=1 << 20)
    predict_scene(create_model("resnet3d", n_bands=6, n_classes=3, patch_size=5), cube,
                  patch_size=5, method="dense")
    assert len(calls) == 3  # a new budget and a new model are probed again


def test_a_small_memory_budget_gives_many_tiles_and_the_same_map() -> None:
    model = randomized(FAMILIES["resnet3d"](8, 5, "cbam_band"), seed=1)
    cube = np.random.default_rng(1).normal(size=(16, 16, 8)).astype(np.float32)
    budget = 40_000
    tile = dense_tile_size(model.fused_twin(), n_bands=8, patch_size=5, max_memory=budget)
    assert len(list(tile_grid(16, 16, tile))) >= 4
    np.testing.assert_allclose(
        predict_scene(model, cube, patch_size=5, method="dense", max_memory=budget),
        predict_scene(model, cube, patch_size=5, method="patch"),
        rtol=0, atol=1e-6,
    )


def test_float32_dense_matches_patch_within_1e_4() -> None:
    model = randomized(FAMILIES["resnet3d"](8, 9, "eca_band"), seed=3).float()
    cube = np.random.default_rng(3).normal(size=(12, 10, 8)).astype(np.float32)
    patch = predict_scene(model, cube, patch_size=9, method="patch")
    dense = predict_scene(model, cube, patch_size=9, method="dense", tile_size=5)
    assert dense.dtype == np.float32
    np.testing.assert_allclose(dense, patch, atol=1e-4)


def test_auto_picks_dense_for_dense_capable_and_patch_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    cube = np.random.default_rng(0).normal(size=(9, 9, 16)).astype(np.float32)
    caplog.set_level(logging.INFO, logger="hsi_attn.inference")
    predict_scene(create_model("resnet3d", n_bands=16, n_classes=3, patch_size=5), cube, patch_size=5)
    predict_scene(create_model("hybridsn", n_bands=16, n_classes=3, patch_size=9), cube, patch_size=9)
    methods = [r.getMessage().split("method=")[1].split()[0] for r in caplog.records if "method=" in r.getMessage()]
    assert methods == ["dense", "patch"]


def test_patch_only_model_predicts_every_pixel() -> None:
    torch.manual_seed(0)
    model = create_model("hybridsn", n_bands=16, n_classes=3, patch_size=9)
    cube = np.random.default_rng(0).normal(size=(6, 7, 16)).astype(np.float32)
    probs = predict_scene(model, cube, patch_size=9)
    assert probs.shape == (6, 7, 3)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)


def test_training_mode_is_restored() -> None:
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5).train()
    predict_scene(model, np.zeros((4, 4, 8), dtype=np.float32), patch_size=5)
    assert all(module.training for module in model.modules())


def test_mixed_training_modes_are_restored_module_by_module() -> None:
    model = create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5).eval()
    model.head.train()  # e.g. a user fine-tuning only the head
    before = {name: module.training for name, module in model.named_modules()}
    cube = np.random.default_rng(0).normal(size=(4, 4, 8)).astype(np.float32)
    first = predict_scene(model, cube, patch_size=5)
    assert {name: module.training for name, module in model.named_modules()} == before
    # and the prediction itself ran in eval mode: batch norm used running statistics
    np.testing.assert_array_equal(predict_scene(model.eval(), cube, patch_size=5), first)


@pytest.fixture()
def model() -> nn.Module:
    return create_model("resnet3d", n_bands=8, n_classes=3, patch_size=5)


def test_band_count_mismatch_is_explained(model: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"7 bands.*built for 8"):
        predict_scene(model, np.zeros((4, 4, 7)), patch_size=5)


def test_patch_size_the_model_cannot_take_is_explained(model: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"patch_size=7.*pass patch_size=5"):
        predict_scene(model, np.zeros((4, 4, 8)), patch_size=7)


def test_dense_on_a_patch_only_model_names_the_method_to_use() -> None:
    model = create_model("hybridsn", n_bands=16, n_classes=3, patch_size=9)
    assert not isinstance(model, DenseCapable)
    with pytest.raises(ValueError, match="method='patch'"):
        predict_scene(model, np.zeros((4, 4, 16)), patch_size=9, method="dense")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "fast"}, "method must be one of auto, patch, dense"),
        ({"pad_mode": "zeros"}, "pad_mode must be one of reflect, symmetric"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_memory": -1}, "max_memory"),
        ({"tile_size": 0}, "tile_size"),
    ],
)
def test_bad_options_are_explained(model: nn.Module, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        predict_scene(model, np.zeros((4, 4, 8)), patch_size=5, **kwargs)


@pytest.mark.parametrize("cube", [np.zeros((4, 8)), np.zeros((0, 4, 8))])
def test_cube_of_wrong_shape_is_explained(model: nn.Module, cube: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, B\)"):
        predict_scene(model, cube, patch_size=5)


def test_non_finite_cube_is_refused(model: nn.Module) -> None:
    cube = np.zeros((4, 4, 8))
    cube[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict_scene(model, cube, patch_size=5)


@pytest.mark.parametrize("height", [1, 2, 3, 4, 7])
def test_both_twins_equal_the_patch_model_for_any_output_height(height: int) -> None:
    # Odd and even heights: the fused twin runs a single cube as two overlapping halves.
    p, width, bands = 5, 3, 6
    model = randomized(FAMILIES["resnet3d"](bands, p, "se_band"), seed=height)
    cube = torch.randn(1, 1, bands, height + p - 1, width + p - 1, dtype=torch.float64)
    with torch.no_grad():
        expected = patch_logits(model, cube)
        for twin in (model.dense_twin(), model.fused_twin()):
            dense = twin(cube)
            assert dense.shape == (1, 4, height, width)
            torch.testing.assert_close(dense, expected, rtol=0, atol=1e-10)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("attention", ["none", "eca_band", "cbam_band", "danet3d"])
def test_dense_equals_patch_on_cuda_and_cpu(
    family: str, attention: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cuDNN convolutions default to TF32 (10-bit mantissa) on Ampere and later GPUs,
    # which moves probabilities by up to 1e-3; this test compares the float32 function.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cube = np.random.default_rng(7).normal(size=(21, 17, 8)).astype(np.float32)
    model = calibrated(randomized(FAMILIES[family](8, 9, attention), seed=7).float(), cube, 9)
    on_cpu = predict_scene(model, cube, patch_size=9, method="patch")
    assert np.isfinite(on_cpu).all() and on_cpu.std(axis=(0, 1)).max() > 0.02
    model = model.cuda()
    patch = predict_scene(model, cube, patch_size=9, method="patch")
    dense = predict_scene(model, cube, patch_size=9, method="dense", tile_size=8)
    np.testing.assert_allclose(dense, patch, rtol=0, atol=1e-4)
    np.testing.assert_allclose(patch, on_cpu, rtol=0, atol=1e-4)
