"""Streaming prediction: the same map as predict_scene, tile borders and edges included,
nodata kept out of the network, and memory bounded by the budget, not the scene."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data import nodata_mask
from hsi_attn.data.preprocess import Preprocessor, fit_preprocessor
from hsi_attn.inference import predict_scene, predict_stream
from hsi_attn.inference.stream import padded_indices, stream_tile_shape
from hsi_attn.inference.writers import PredictedTile
from hsi_attn.models import Hamida3d, ResNet3d


class Collect:
    """A writer that keeps the whole map in memory (tests only)."""

    def __init__(self, height: int, width: int, n_classes: int) -> None:
        self.probabilities = np.full((height, width, n_classes), np.nan)
        self.valid = np.zeros((height, width), dtype=bool)
        self.written = np.zeros((height, width), dtype=np.int64)

    def write(self, tile: PredictedTile) -> None:
        rows = slice(tile.top, tile.top + tile.height)
        cols = slice(tile.left, tile.left + tile.width)
        self.probabilities[rows, cols] = tile.probabilities
        self.valid[rows, cols] = tile.valid
        self.written[rows, cols] += 1


def random_model(family: str, bands: int, p: int, seed: int = 0) -> torch.nn.Module:
    """A small random model in float64 with random batch-norm statistics (no identity layer)."""
    torch.manual_seed(seed)
    if family == "resnet3d":
        model = ResNet3d(bands, 3, patch_size=p, attention="eca_band",
                         attention_kwargs={"kernel_size": 3}, width=4)
    else:
        model = Hamida3d(bands, 3, patch_size=p, attention="se_band",
                         attention_kwargs={"reduction": 2}, channels=(3, 4))
    model = model.double().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.2)
                module.running_var.uniform_(0.5, 1.5, generator=gen)
    return model


def scene(seed: int = 0, shape: tuple[int, int, int] = (19, 13, 8)) -> tuple[np.ndarray,
                                                                             Preprocessor]:
    rng = np.random.default_rng(seed)
    cube = rng.normal(3.0, 1.0, size=shape).astype(np.float32)
    coords = np.stack(np.divmod(np.arange(0, shape[0] * shape[1], 2), shape[1]), axis=1)
    return cube, fit_preprocessor(cube, coords, pca=4, seed=0)


def in_memory(model: torch.nn.Module, cube: np.ndarray, prep: Preprocessor, p: int,
              pad_mode: str = "reflect", method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """predict_scene on the whole preprocessed cube, nodata pixels set to 0."""
    missing = nodata_mask(cube, None)
    filled = np.where(missing[..., None], 0, cube)
    transformed = prep.transform(filled)
    transformed[missing] = 0
    return predict_scene(model, transformed, patch_size=p, pad_mode=pad_mode,
                         method=method), ~missing


@pytest.mark.parametrize("family", ["resnet3d", "hamida3d"])
@pytest.mark.parametrize(("p", "pad_mode"), [(5, "reflect"), (9, "symmetric"), (1, "reflect")])
def test_streaming_equals_predict_scene_with_tiny_tiles(family: str, p: int,
                                                        pad_mode: str) -> None:
    cube, prep = scene()
    model = random_model(family, 4, p)
    expected, _ = in_memory(model, cube, prep, p, pad_mode)
    # 1-row strips, 2x3 blocks (thinner than the halo), the whole scene.
    for tile_shape in [(1, 13), (2, 3), (19, 13)]:
        collect = Collect(19, 13, 3)
        stats = predict_stream(cube, model, prep, patch_size=p, pad_mode=pad_mode,
                               writers=[collect], tile_shape=tile_shape)
        assert (collect.written == 1).all()
        assert stats.tiles == len(range(0, 19, tile_shape[0])) * len(range(0, 13, tile_shape[1]))
        np.testing.assert_allclose(collect.probabilities, expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(collect.probabilities.argmax(2), expected.argmax(2))


def test_the_patch_method_streams_to_the_same_map() -> None:
    cube, prep = scene(1)
    model = random_model("resnet3d", 4, 5)
    expected, _ = in_memory(model, cube, prep, 5, method="patch")
    collect = Collect(19, 13, 3)
    predict_stream(cube, model, prep, patch_size=5, method="patch", writers=[collect],
                   tile_shape=(4, 5))
    np.testing.assert_allclose(collect.probabilities, expected, rtol=0, atol=1e-12)


def test_a_memmapped_cube_and_a_budget_give_the_same_map(tmp_path: Path) -> None:
    cube, prep = scene(2, (40, 30, 8))
    np.save(tmp_path / "cube.npy", cube)
    lazy = np.load(tmp_path / "cube.npy", mmap_mode="r")
    model = random_model("resnet3d", 4, 5)
    expected, _ = in_memory(model, cube, prep, 5)
    for source in (lazy, tmp_path / "cube.npy"):  # an array, or a path opened lazily
        collect = Collect(40, 30, 3)
        stats = predict_stream(source, model, prep, patch_size=5, writers=[collect],
                               max_memory=200_000)
        assert stats.tiles > 1
        np.testing.assert_allclose(collect.probabilities, expected, rtol=0, atol=1e-12)


def test_nodata_pixels_are_zeroed_before_the_network_and_written_as_nodata() -> None:
    cube, prep = scene(3)
    cube[2:5, 3:6] = -9999.0  # the cube's nodata value
    cube[10, 0] = np.nan  # a NaN spectrum
    cube[15:17, 10:] = 0.0  # all-zero spectra
    model = random_model("resnet3d", 4, 5)
    expected, valid = in_memory(model, np.where(cube == -9999.0, 0, cube), prep, 5)
    collect = Collect(19, 13, 3)
    stats = predict_stream(cube, model, prep, patch_size=5, writers=[collect], nodata=-9999.0,
                           tile_shape=(3, 4))
    np.testing.assert_array_equal(collect.valid, valid)
    assert stats.nodata_pixels == 9 + 1 + 6 and not np.isnan(collect.probabilities).any()
    np.testing.assert_allclose(collect.probabilities, expected, rtol=0, atol=1e-12)
    assert stats.class_counts.sum() == 19 * 13 - stats.nodata_pixels


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 12), halo=st.integers(0, 30),
       mode=st.sampled_from(["reflect", "symmetric"]))
def test_padded_indices_are_numpy_padding(size: int, halo: int, mode: str) -> None:
    values = np.random.default_rng(size).normal(size=size)
    np.testing.assert_array_equal(values[padded_indices(size, halo, mode)],
                                  np.pad(values, halo, mode=mode))


def test_tile_shape_follows_the_budget() -> None:
    strips = stream_tile_shape(20_000, 1_000, halo=5, bytes_per_pixel=1_000,
                               budget=64 << 20)
    assert strips[1] == 1_000 and 1 <= strips[0] < 20_000
    assert (strips[0] + 10) * 1_010 * 1_000 <= 64 << 20
    aligned = stream_tile_shape(20_000, 1_000, halo=5, bytes_per_pixel=100, budget=64 << 20,
                                align=256)
    assert aligned[0] % 256 == 0 and aligned[0] > 256
    blocks = stream_tile_shape(500, 100_000, halo=5, bytes_per_pixel=1_000, budget=1 << 20)
    assert blocks[0] == blocks[1] and (blocks[0] + 10) ** 2 * 1_000 <= 1 << 20
    with pytest.raises(ValueError, match="max_memory is too small.*at least"):
        stream_tile_shape(10, 10, halo=5, bytes_per_pixel=1_000, budget=10_000)


def test_band_count_mismatch_is_explained() -> None:
    cube, prep = scene()
    with pytest.raises(ValueError, match="7 bands.*fitted on 8"):
        predict_stream(cube[:, :, :7], random_model("resnet3d", 4, 5), prep, patch_size=5)


def test_memory_stays_within_the_budget_on_a_cube_many_times_larger(tmp_path: Path) -> None:
    """A 48 MB memory-mapped cube, an 8 MB budget: traced peak (numpy) under the budget."""
    rng = np.random.default_rng(0)
    height, width, bands = 300, 400, 200
    path = tmp_path / "large.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.int16,
                                    shape=(height, width, bands))
    for top in range(0, height, 50):
        big[top:top + 50] = rng.integers(100, 4000, size=(50, width, bands), dtype=np.int16)
    big.flush()
    del big
    lazy = np.load(path, mmap_mode="r")
    sample = np.asarray(lazy[::10, ::10], dtype=np.float32)
    coords = np.stack(np.divmod(np.arange(0, sample.shape[0] * sample.shape[1], 3),
                                sample.shape[1]), axis=1)
    prep = fit_preprocessor(sample, coords, pca=3, seed=0)
    torch.manual_seed(0)
    model = Hamida3d(3, 4, patch_size=3, attention="none", channels=(2, 2)).eval()
    budget = 8 << 20
    collect_counts = np.zeros(4, dtype=np.int64)

    class Count:
        def write(self, tile: PredictedTile) -> None:
            collect_counts[:] += np.bincount(tile.indices.ravel(), minlength=4)

    tracemalloc.start()
    try:
        stats = predict_stream(lazy, model, prep, patch_size=3, writers=[Count()],
                               max_memory=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 5 * budget
    assert stats.tiles > 5 and collect_counts.sum() == height * width
    assert peak < budget, f"traced peak {peak} bytes over the {budget}-byte budget"
