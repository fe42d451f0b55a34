"""Spectral augmentation: identity at strength 0, the physics it claims, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsi_attn.data.batches import PatchSource
from hsi_attn.data.preprocess import fit_preprocessor
from hsi_attn.data.spectral_jitter import SpectralJitter, SpectrallyJittered


def _source(pca: int | None, n: int = 12, bands: int = 8, p: int = 3):
    rng = np.random.default_rng(0)
    cube = rng.normal(loc=5.0, scale=2.0, size=(6, 6, bands))
    coords = np.argwhere(np.ones((6, 6), dtype=bool))
    preprocessor = fit_preprocessor(cube, coords, normalization="standard", pca=pca, seed=0)
    features = preprocessor.transform(cube).astype(np.float64)
    depth = features.shape[2]
    x = torch.as_tensor(rng.normal(size=(n, 1, depth, p, p)))
    x[:, 0] = torch.as_tensor(features[:p, :p].transpose(2, 0, 1))[None]
    labels = torch.arange(n) % 3
    return PatchSource.from_tensors(x, labels, batch_size=4), preprocessor


@pytest.mark.parametrize("pca", [None, 4])
def test_zero_strength_gives_the_patches_back(pca: int | None) -> None:
    source, preprocessor = _source(pca)
    off = SpectrallyJittered(source, preprocessor, SpectralJitter.scaled(0.0))
    for (a, ya), (b, yb) in zip(source.batches(None), off.batches(None)):
        assert torch.equal(a, b) and torch.equal(ya, yb)


def test_a_brightness_gain_scales_the_raw_spectrum() -> None:
    source, preprocessor = _source(None)
    only_gain = SpectralJitter(gain=0.3, band_gain=0.0, offset=0.0, noise=0.0)
    jittered = SpectrallyJittered(source, preprocessor, only_gain)
    generator = torch.Generator().manual_seed(3)
    (x, _), *_ = list(source.batches(None))
    (y, _), *_ = list(jittered.batches(generator))
    scale = torch.as_tensor(preprocessor.scale)[None, None, :, None, None]
    offset = torch.as_tensor(preprocessor.offset)[None, None, :, None, None]
    raw_x, raw_y = x * scale + offset, y * scale + offset
    ratio = raw_y / raw_x
    per_patch = ratio.reshape(len(x), -1)
    torch.testing.assert_close(per_patch, per_patch[:, :1].expand_as(per_patch))
    assert not torch.allclose(per_patch[:, 0], torch.ones(len(x), dtype=x.dtype))


@pytest.mark.parametrize("pca", [None, 4])
def test_same_generator_same_jitter_and_shapes_kept(pca: int | None) -> None:
    source, preprocessor = _source(pca)
    jittered = SpectrallyJittered(source, preprocessor,
                                  SpectralJitter(noise=0.1, dropout=0.2))
    first = [x for x, _ in jittered.batches(torch.Generator().manual_seed(5))]
    again = [x for x, _ in jittered.batches(torch.Generator().manual_seed(5))]
    plain = [x for x, _ in source.batches(None)]
    assert len(jittered) == len(source) and jittered.labels is source.labels
    for a, b, c in zip(first, again, plain):
        assert a.shape == c.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_bad_strengths_are_refused() -> None:
    with pytest.raises(ValueError, match="gain"):
        SpectralJitter(gain=-0.1)
    with pytest.raises(ValueError, match="below 1"):
        SpectralJitter(dropout=1.0)


def test_a_sharded_jittered_source_jitters_each_ranks_shard() -> None:
    source, preprocessor = _source(4)
    shuffled = type(source)(source.samples, source.labels, batch_size=4, shuffle=True)
    jittered = SpectrallyJittered(shuffled, preprocessor, SpectralJitter())
    shards = [jittered.sharded(rank, 2) for rank in (0, 1)]
    assert all(isinstance(shard, SpectrallyJittered) for shard in shards)
    plain = [shuffled.sharded(rank, 2) for rank in (0, 1)]
    for shard, unjittered in zip(shards, plain):
        got = list(shard.batches(torch.Generator().manual_seed(1)))
        ref = list(unjittered.batches(torch.Generator().manual_seed(1)))
        assert len(got) == len(ref) and all(x.shape[0] == 2 for x, _ in got)
        assert all(torch.equal(ya, yb) for (_, ya), (_, yb) in zip(got, ref))
        assert not any(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(got, ref))
