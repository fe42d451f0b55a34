"""Patches: equal to slices of the padded cube, border pixels included, odd sizes only;
the one batch source serves them (from the cube or from memory) in the same seeded order
as the batchers it replaced."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data import PatchSampler, PatchSource, iter_scene_batches, scene_coords
from hsi_attn.data.batches import dihedral
from hsi_attn.engine import BatchSource


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
        PatchSource.from_cube(sampler, np.array([[0, 0]]), np.array([1]), batch_size=0,
                              shuffle=False)
    with pytest.raises(ValueError, match=r"labels has shape \(2,\), expected \(1,\)"):
        PatchSource.from_cube(sampler, np.array([[0, 0]]), np.array([1, 2]), batch_size=1,
                              shuffle=False)
    with pytest.raises(ValueError, match="x has 3 samples but y has 2 labels"):
        PatchSource.from_tensors(torch.zeros(3, 1, 2, 3, 3), torch.zeros(2), batch_size=1)
    with pytest.raises(ValueError, match="at least one sample"):
        PatchSource.from_tensors(torch.zeros(0, 1, 2, 3, 3), torch.zeros(0), batch_size=1)
    with pytest.raises(ValueError, match=r"outside the 4x4 cube"):
        PatchSource.from_cube(sampler, np.array([[0, 9]]), np.array([1]), batch_size=1,
                              shuffle=False)


def test_source_from_cube_covers_coords_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    cube = rng.normal(size=(6, 7, 3)).astype(np.float32)
    coords = scene_coords((6, 7))[::2]
    labels = np.arange(len(coords))
    source = PatchSource.from_cube(PatchSampler(cube, 3), coords, labels, batch_size=4,
                                   shuffle=True)
    assert isinstance(source, BatchSource) and len(source) == math.ceil(len(coords) / 4)

    def run(seed: int) -> list[int]:
        order: list[int] = []
        for x, y in source.batches(torch.Generator().manual_seed(seed)):
            assert x.shape[1:] == (1, 3, 3, 3) and y.dtype == torch.int64
            index = y.numpy()
            assert np.array_equal(x[:, 0, :, 1, 1].numpy(),
                                  cube[coords[index, 0], coords[index, 1]])
            order.extend(y.tolist())
        return order

    first = run(5)
    assert sorted(first) == labels.tolist() and first != labels.tolist()
    assert run(5) == first
    in_order = PatchSource.from_cube(PatchSampler(cube, 3), coords, labels, batch_size=4,
                                     shuffle=False, drop_last=True)
    batches = list(in_order.batches(None))
    assert [len(x) for x, _ in batches] == [4] * (len(coords) // 4) == [4] * len(in_order)
    assert torch.cat([y for _, y in batches]).tolist() == labels[:len(batches) * 4].tolist()


def test_source_from_tensors_serves_the_samples_it_holds() -> None:
    x = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1, 1).expand(10, 1, 2, 3, 3)
    source = PatchSource.from_tensors(x, torch.arange(10), batch_size=3, shuffle=True)
    assert isinstance(source, BatchSource) and len(source) == 4
    seen = []
    for batch, y in source.batches(torch.Generator().manual_seed(0)):
        assert torch.equal(batch[:, 0, 0, 0, 0], y.float())
        seen.extend(y.tolist())
    assert sorted(seen) == list(range(10))
    dropped = PatchSource.from_tensors(x, torch.arange(10), batch_size=3, drop_last=True)
    assert [len(y) for _, y in dropped.batches(None)] == [3, 3, 3]
    # One incomplete batch is never dropped: that would leave nothing to train on.
    single = PatchSource.from_tensors(x, torch.arange(10), batch_size=16, drop_last=True)
    assert len(single) == 1


def test_augmented_patches_are_symmetries_of_the_gathered_ones() -> None:
    cube = np.random.default_rng(3).normal(size=(5, 6, 2)).astype(np.float32)
    sampler = PatchSampler(cube, 3)
    coords = scene_coords((5, 6))
    source = PatchSource.from_cube(sampler, coords, np.arange(len(coords)), batch_size=8,
                                   shuffle=True, augment=True)
    for x, y in source.batches(torch.Generator().manual_seed(1)):
        plain = sampler.gather(coords[y.numpy()])
        for patch, original in zip(x, plain, strict=True):
            symmetries = dihedral(original.expand(8, -1, -1, -1, -1), torch.arange(8))
            assert any(torch.equal(patch, candidate) for candidate in symmetries)


# The batchers PatchSource replaced, kept here verbatim as the reference order: the old
# PatchSource (patches around coordinates, with augmentation) and the engine's
# TensorSource (in-memory samples).
def _old_cube_batches(sampler: PatchSampler, coords: np.ndarray, labels: np.ndarray, *,
                      batch_size: int, shuffle: bool, drop_last: bool, augment: bool,
                      generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    checked = sampler.check_coords(np.array(coords, dtype=np.int64))
    target = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    drop_last = drop_last and len(coords) > batch_size
    n = len(checked)
    count = n // batch_size if drop_last else math.ceil(n / batch_size)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(count):
        index = order[i * batch_size : (i + 1) * batch_size]
        patches = sampler.gather(checked[index.to(checked.device)], check=False)
        if augment:
            patches = dihedral(patches, torch.randint(0, 8, (len(index),), generator=generator))
        yield patches, target[index]


def _old_tensor_batches(x: torch.Tensor, y: torch.Tensor, *, batch_size: int, shuffle: bool,
                        drop_last: bool, generator: torch.Generator
                        ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    labels = y.long()
    drop_last = drop_last and len(x) >= batch_size
    count = math.floor(len(x) / batch_size) if drop_last else math.ceil(len(x) / batch_size)
    order = torch.randperm(len(x), generator=generator) if shuffle else torch.arange(len(x))
    for i in range(count):
        index = order[i * batch_size : (i + 1) * batch_size]
        yield x[index.to(x.device)], labels[index.to(labels.device)]


def _assert_same_batches(new: Iterator[tuple[torch.Tensor, torch.Tensor]],
                         old: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> None:
    new_batches, old_batches = list(new), list(old)
    assert len(new_batches) == len(old_batches)
    for (x, y), (x_old, y_old) in zip(new_batches, old_batches, strict=True):
        assert torch.equal(x, x_old) and torch.equal(y, y_old)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 45), shuffle=st.booleans(),
       drop_last=st.booleans(), augment=st.booleans(), seed=st.integers(0, 2**31))
def test_cube_batches_are_bit_identical_to_the_old_patch_source(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, augment: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    cube = rng.normal(size=(7, 8, 3)).astype(np.float32)
    sampler = PatchSampler(cube, 3)
    coords = scene_coords((7, 8))[rng.permutation(56)[:n]]
    labels = rng.integers(0, 5, n)
    source = PatchSource.from_cube(sampler, coords, labels, batch_size=batch_size,
                                   shuffle=shuffle, drop_last=drop_last, augment=augment)
    _assert_same_batches(
        source.batches(torch.Generator().manual_seed(seed)),
        _old_cube_batches(sampler, coords, labels, batch_size=batch_size, shuffle=shuffle,
                          drop_last=drop_last, augment=augment,
                          generator=torch.Generator().manual_seed(seed)),
    )


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 45), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**31))
def test_tensor_batches_are_bit_identical_to_the_old_tensor_source(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 2, 3, 3, generator=generator)
    y = torch.randint(0, 4, (n,), generator=generator)
    source = PatchSource.from_tensors(x, y, batch_size=batch_size, shuffle=shuffle,
                                      drop_last=drop_last)
    _assert_same_batches(
        source.batches(torch.Generator().manual_seed(seed)),
        _old_tensor_batches(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                            generator=torch.Generator().manual_seed(seed)),
    )


def _digest(source: PatchSource, seed: int) -> str:
    digest = hashlib.sha256()
    for x, y in source.batches(torch.Generator().manual_seed(seed)):
        digest.update(x.contiguous().numpy().tobytes())
        digest.update(y.numpy().tobytes())
    return digest.hexdigest()[:16]


def test_batches_match_digests_recorded_with_the_old_batchers() -> None:
    """Digests of every batch, recorded with the old PatchSource and TensorSource."""
    rng = np.random.default_rng(7)
    cube = rng.normal(size=(9, 11, 5)).astype(np.float32)
    coords = np.argwhere(np.ones((9, 11), bool)).astype(np.int64)[rng.permutation(99)[:37]]
    labels = rng.integers(0, 4, 37)
    for (shuffle, drop_last, augment, batch_size), expected in [
        ((True, True, True, 8), "1919035968c2a34f"),
        ((True, False, False, 8), "73002932d276bc3e"),
        ((False, False, False, 5), "09ee59af1121345d"),
        ((True, True, False, 37), "b22e5ea12ad453a9"),
        ((True, True, True, 40), "9ad62f200f8487e7"),
    ]:
        source = PatchSource.from_cube(PatchSampler(cube, 5), coords, labels,
                                       batch_size=batch_size, shuffle=shuffle,
                                       drop_last=drop_last, augment=augment)
        assert _digest(source, 3) == expected
    x = torch.from_numpy(rng.normal(size=(23, 1, 4, 3, 3)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 3, 23))
    for (shuffle, drop_last, batch_size), expected in [
        ((True, True, 4), "6b6d7383fa30f8fe"),
        ((True, False, 4), "df028d3c4eeecd89"),
        ((False, False, 6), "8cda692d398a23f0"),
        ((True, True, 23), "8e41a951e3b954f8"),
        ((True, True, 30), "8e41a951e3b954f8"),
    ]:
        source = PatchSource.from_tensors(x, y, batch_size=batch_size, shuffle=shuffle,
                                          drop_last=drop_last)
        assert _digest(source, 5) == expected
