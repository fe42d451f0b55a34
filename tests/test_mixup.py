"""Mixup (hsi_attn.data.mixup): pairs of patches and their labels mixed by one weight per
batch, reproducibly; and a run trained with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data.batches import PatchSource
from hsi_attn.data.mixup import Mixup
from hsi_attn.run import train_run
from tests.test_training_run import tiny_config, tiny_scene


def _source(n: int = 12, k: int = 3, shuffle: bool = False) -> PatchSource:
    """Patches of constant value i, labels i % k."""
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None, None].expand(n, 1, 2, 3, 3)
    return PatchSource.from_tensors(x.clone(), torch.arange(n) % k, batch_size=4,
                                    shuffle=shuffle)


@settings(max_examples=30, deadline=None)
@given(alpha=st.floats(0.05, 4.0), seed=st.integers(0, 2**31 - 1))
def test_each_patch_and_its_label_are_the_same_convex_pair(alpha: float, seed: int) -> None:
    # One class per patch, so the soft label names both patches of the pair.
    mixed = Mixup(_source(k=12, shuffle=True), alpha, n_classes=12)
    batches = list(mixed.batches(torch.Generator().manual_seed(seed)))
    assert len(batches) == 3
    for x, y in batches:
        assert x.shape == (4, 1, 2, 3, 3) and y.shape == (4, 12)
        torch.testing.assert_close(y.sum(dim=1), torch.ones(4))
        values = x.reshape(4, -1)
        assert torch.allclose(values, values[:, :1].expand_as(values))  # still constant
        weights = torch.sort(y, dim=1, descending=True)
        pairs = []
        for row in range(4):
            top, second = weights.values[row, :2].tolist()
            a, b = weights.indices[row, :2].tolist()
            if second == 0.0:  # mixed with itself, or lam at 0 or 1
                assert values[row, 0] == pytest.approx(a, abs=1e-4)
                continue
            pairs.append((a, b, top))
            # The patch is the same combination of the two patches as the label.
            assert values[row, 0] == pytest.approx(top * a + second * b, abs=1e-4)
        # One lam per batch: every mixed row's larger weight is max(lam, 1 - lam).
        assert len({round(top, 5) for *_, top in pairs}) <= 1


def test_the_same_generator_mixes_the_same_way_and_the_labels_stay() -> None:
    mixed = Mixup(_source(shuffle=True), 0.4, n_classes=3)
    first = list(mixed.batches(torch.Generator().manual_seed(7)))
    again = list(mixed.batches(torch.Generator().manual_seed(7)))
    other = list(mixed.batches(torch.Generator().manual_seed(8)))
    for (a, ya), (b, yb) in zip(first, again):
        assert torch.equal(a, b) and torch.equal(ya, yb)
    assert any(not torch.equal(a, c) for (a, _), (c, _) in zip(first, other))
    assert mixed.labels is mixed.source.labels


def test_sharded_mixup_mixes_within_each_shard() -> None:
    mixed = Mixup(_source(shuffle=True), 1.0, n_classes=3)
    shard = mixed.sharded(1, 2)
    assert isinstance(shard, Mixup) and shard.alpha == 1.0
    assert len(shard) == len(mixed)
    for x, y in shard.batches(torch.Generator().manual_seed(0)):
        assert len(x) == 2 and y.shape == (2, 3)


def test_bad_alpha_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        Mixup(_source(), 0.0, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        Mixup(_source(), 0.2, n_classes=1)


def test_a_run_trains_with_mixup_and_reports_accuracy_of_the_soft_labels(tmp_path) -> None:
    result = train_run(tiny_config(mixup=0.4, epochs=3), tmp_path / "run", scene=tiny_scene())
    history = result.history
    assert len(history) == 3
    assert all(0.0 <= acc <= 1.0 for acc in history.column("train_acc"))
    assert np.isfinite(history.column("train_loss")).all()
    assert result.metrics["test"]["oa"] > 0.5  # three well separated classes
