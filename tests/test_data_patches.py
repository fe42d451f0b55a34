"""Patches: equal to slices of the padded cube, border pixels included, odd sizes only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data import (
    PatchDataset,
    PatchSampler,
    iter_batches,
    iter_scene_batches,
    scene_coords,
)


@settings(max_examples=20, deadline=None)
@given(height=st.integers(1, 9), width=st.integers(1, 9), bands=st.integers(1, 4),
       patch_size=st.sampled_from([1, 3, 5, 7, 11, 21]),
       pad_mode=st.sampled_from(["reflect", "symmetric"]), seed=st.integers(0, 999))
def test_gathered_patch_equals_padded_slice(height: int, width: int, bands: int,
                                            patch_size: int, pad_mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cube = rng.normal(size=(height, width, bands)).astype(np.float32)
    g = patch_size // 2
    padded = np.pad(cube, ((g, g), (g, g), (0, 0)), mode=pad_mode)
    sampler = PatchSampler(cube, patch_size, pad_mode=pad_mode)
    assert sampler.pad_width == g
    assert np.array_equal(sampler.padded.numpy(), padded.transpose(2, 0, 1))
    coords = scene_coords((height, width))
    batch = sampler.gather(coords)
    assert batch.shape == (len(coords), 1, bands, patch_size, patch_size)
    assert batch.is_contiguous() and batch.dtype == torch.float32
    for i, (r, c) in enumerate(coords):
        expected = padded[r:r + patch_size, c:c + patch_size].transpose(2, 0, 1)
        assert np.array_equal(batch[i, 0].numpy(), expected)
        assert np.array_equal(batch[i, 0, :, g, g].numpy(), cube[r, c])


def test_border_pixels_get_full_patches() -> None:
    cube = np.arange(5 * 4 * 2, dtype=np.float32).reshape(5, 4, 2)
    sampler = PatchSampler(cube, 5)
    seen = []
    for coords, x in iter_scene_batches(sampler, batch_size=7):
        assert x.shape[1:] == (1, 2, 5, 5)
        assert np.array_equal(x[:, 0, :, 2, 2].numpy(), cube[coords[:, 0], coords[:, 1]])
        seen.extend(map(tuple, coords.tolist()))
    assert sorted(seen) == [(r, c) for r in range(5) for c in range(4)]
    corner = sampler.gather(np.array([[0, 0]]))[0, 0, 0].numpy()
    assert np.array_equal(corner[2:, 2:], cube[:3, :3, 0])
    assert np.array_equal(corner[0, 2:], cube[2, :3, 0])  # reflected, edge not repeated
    mask = np.zeros((5, 4), dtype=bool)
    mask[0, 3] = mask[4, 0] = True
    coords, _ = next(iter_scene_batches(sampler, batch_size=8, mask=mask))
    assert coords.tolist() == [[0, 3], [4, 0]]


@pytest.mark.parametrize("patch_size", [0, 2, 4, 10, -3])
def test_even_or_zero_patch_size_is_rejected(patch_size: int) -> None:
    with pytest.raises(ValueError, match=rf"patch_size must be an odd integer >= 1.*got {patch_size}"):
        PatchSampler(np.zeros((4, 4, 2), dtype=np.float32), patch_size)


def test_bad_sampler_inputs() -> None:
    with pytest.raises(ValueError, match=r"3-D \(H, W, B\)"):
        PatchSampler(np.zeros((4, 4), dtype=np.float32), 3)
    with pytest.raises(ValueError, match="pad_mode must be one of"):
        PatchSampler(np.zeros((4, 4, 2), dtype=np.float32), 3, pad_mode="zeros")
    sampler = PatchSampler(np.zeros((4, 4, 2), dtype=np.float32), 3)
    with pytest.raises(ValueError, match=r"outside the 4x4 cube"):
        sampler.gather(np.array([[4, 0]]))
    with pytest.raises(ValueError, match=r"\(n, 2\) integer"):
        sampler.gather(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        next(iter_batches(sampler, np.array([[0, 0]]), batch_size=0))
    with pytest.raises(ValueError, match=r"labels has shape \(2,\), expected \(1,\)"):
        next(iter_batches(sampler, np.array([[0, 0]]), np.array([1, 2]), batch_size=1))


def test_iter_batches_covers_coords_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    cube = rng.normal(size=(6, 7, 3)).astype(np.float32)
    coords = scene_coords((6, 7))[::2]
    labels = np.arange(len(coords))

    def run(seed: int) -> list[int]:
        order: list[int] = []
        generator = torch.Generator().manual_seed(seed)
        for x, y in iter_batches(PatchSampler(cube, 3), coords, labels, batch_size=4,
                                 shuffle=True, generator=generator):
            assert x.shape[1:] == (1, 3, 3, 3) and y.dtype == torch.int64
            centre = x[:, 0, :, 1, 1].numpy()
            index = y.numpy()
            assert np.array_equal(centre, cube[coords[index, 0], coords[index, 1]])
            order.extend(y.tolist())
        return order

    first = run(5)
    assert sorted(first) == labels.tolist() and first != labels.tolist()
    assert run(5) == first
    sizes = [len(x) for x in iter_batches(PatchSampler(cube, 3), coords, batch_size=4,
                                          drop_last=True)]
    assert sizes == [4] * (len(coords) // 4)


def test_dataset_with_dataloader() -> None:
    cube = np.random.default_rng(2).normal(size=(5, 5, 2)).astype(np.float32)
    sampler = PatchSampler(torch.from_numpy(cube), 3)
    coords = scene_coords((5, 5))
    dataset = PatchDataset(sampler, coords, np.arange(25))
    assert len(dataset) == 25
    x, y = dataset[7]
    assert x.shape == (1, 2, 3, 3) and int(y) == 7
    assert torch.equal(dataset[-1][0], sampler.gather(coords[-1:])[0])
    loader = torch.utils.data.DataLoader(dataset, batch_size=10)
    xs, ys = next(iter(loader))
    assert xs.shape == (10, 1, 2, 3, 3) and ys.tolist() == list(range(10))
    assert torch.equal(xs, sampler.gather(coords[:10]))
    unlabelled = PatchDataset(sampler, coords)
    assert unlabelled[0].shape == (1, 2, 3, 3)
