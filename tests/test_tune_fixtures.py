"""Tiny synthetic scenes and configurations for the tuner's tests (and their own checks).

The scene is generated, not stored: a 20x20 cube with 12 bands and 3 classes laid out in
5x5 blocks, each class with its own mean spectrum plus Gaussian noise (fixed seed), so
a 3-epoch model separates the classes well above chance and bad learning rates are
visibly worse, which is what the pruning test needs.
"""

from __future__ import annotations

import numpy as np

from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.data import Scene


def tiny_scene(seed: int = 0, size: int = 20, bands: int = 12, classes: int = 3) -> Scene:
    """A blocky, spectrally separable scene (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((size, size))
    gt = ((rows // 5 + cols // 5) % classes + 1).astype(np.int64)
    means = rng.normal(0.0, 1.0, (classes + 1, bands))
    cube = means[gt] + 0.3 * rng.normal(0.0, 1.0, (size, size, bands))
    return Scene(name="tiny", cube=cube.astype(np.float32), gt=gt,
                 class_names=tuple(f"class {k}" for k in range(1, classes + 1)),
                 rgb_bands=(0, 1, 2))


def tiny_base(epochs: int = 3, patch_size: int = 5) -> RunConfig:
    """A base configuration that trains in well under a second per epoch on one core."""
    return RunConfig(
        data=DataConfig(scene="tiny", train_size=0.3, val_size=0.2, pca=None),
        model=ModelConfig(name="resnet3d", attention="eca_band", patch_size=patch_size),
        train=TrainConfig(epochs=epochs, batch_size=16, device="cpu", eval_batch_size=256),
    )


def test_tiny_scene_is_deterministic_and_covers_every_class() -> None:
    a, b = tiny_scene(), tiny_scene()
    np.testing.assert_array_equal(a.cube, b.cube)
    np.testing.assert_array_equal(a.gt, b.gt)
    assert set(np.unique(a.gt)) == {1, 2, 3}
    assert not np.array_equal(tiny_scene(seed=1).cube, a.cube)
