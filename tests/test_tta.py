"""Test-time augmentation: the scene-level average equals the per-window average."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data.batches import dihedral
from hsi_attn.data.patches import PatchSampler
from hsi_attn.inference import predict_scene
from hsi_attn.inference.tta import dihedral_average, dihedral_inverse, dihedral_transform
from hsi_attn.models import create_model


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 9), width=st.integers(1, 9), k=st.integers(0, 7))
def test_every_symmetry_is_undone(height: int, width: int, k: int) -> None:
    cube = np.arange(height * width * 2).reshape(height, width, 2)
    assert np.array_equal(dihedral_inverse(dihedral_transform(cube, k), k), cube)


@pytest.mark.parametrize("pad_mode", ["reflect", "symmetric"])
def test_scene_average_equals_the_average_over_each_pixels_windows(pad_mode: str) -> None:
    torch.manual_seed(0)
    model = create_model("resnet3d", n_bands=6, n_classes=3, patch_size=5).double().eval()
    cube = np.random.default_rng(1).normal(size=(9, 7, 6))

    def predict(view: np.ndarray) -> np.ndarray:
        return predict_scene(model, view, patch_size=5, method="patch",
                             pad_mode=pad_mode).astype(np.float64)

    averaged = dihedral_average(predict, cube)
    sampler = PatchSampler(cube.astype(np.float32), 5, pad_mode=pad_mode)
    coords = torch.tensor([[0, 0], [4, 3], [8, 6], [2, 6], [8, 0]])
    windows = sampler.gather(coords).double()
    with torch.no_grad():
        expected = sum(torch.softmax(model(dihedral(windows, torch.full((5,), k))), 1)
                       for k in range(8)) / 8
    got = averaged[coords[:, 0].numpy(), coords[:, 1].numpy()]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-12)
    np.testing.assert_allclose(averaged.sum(axis=2), 1.0, atol=1e-12)
    assert not np.allclose(averaged, predict(cube)), "the untrained net is not invariant"


def test_one_element_is_plain_prediction_and_bad_counts_are_refused() -> None:
    cube = np.random.default_rng(0).normal(size=(4, 5, 3))
    assert np.array_equal(dihedral_average(lambda c: c * 2, cube, elements=1), cube * 2)
    for bad in (0, 9, True, 2.0):
        with pytest.raises(ValueError, match="1..8"):
            dihedral_average(lambda c: c, cube, elements=bad)  # type: ignore[arg-type]


def test_evaluating_a_run_with_tta_matches_the_scene_level_average(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import json

    from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from hsi_attn.data import Scene
    from hsi_attn.run import evaluate_run, train_run

    rng = np.random.default_rng(0)
    gt = np.repeat(np.repeat(np.arange(1, 4), 5)[None, :14], 14, axis=0)
    cube = rng.normal(size=(3, 6))[gt - 1] + rng.normal(scale=0.8, size=(14, 14, 6))
    scene = Scene.from_arrays(cube.astype(np.float32), gt, name="tiny")
    config = RunConfig(
        data=DataConfig(scene="tiny", train_size=0.3, val_size=0.2, pca=None),
        model=ModelConfig(name="resnet3d", attention="eca_band", patch_size=5),
        train=TrainConfig(epochs=2, batch_size=16, device="cpu", seed=0, tta=True),
    )
    result = train_run(config, tmp_path / "run", scene=scene, command="test")
    recorded = json.loads((result.out_dir / "metrics.json").read_text())["test"]["oa"]
    assert evaluate_run(result.out_dir, scene=scene)["oa"] == pytest.approx(recorded)
    plain = evaluate_run(result.out_dir, scene=scene, tta=False)["oa"]
    plain_config = dataclasses.replace(config, train=dataclasses.replace(config.train, tta=False))
    again = train_run(plain_config, tmp_path / "plain", scene=scene, command="test")
    assert plain == pytest.approx(again.metrics["test"]["oa"])


def test_patch_average_is_invariant_and_keeps_the_centre() -> None:
    from hsi_attn.inference.tta import dihedral_patch_average

    rng = np.random.default_rng(0)
    patches = rng.normal(size=(4, 3, 5, 5))

    def window(x: np.ndarray) -> np.ndarray:  # each patch's first band, flattened
        return x[:, 0].reshape(len(x), -1)

    averaged = dihedral_patch_average(window, patches)
    # The average over the group is the same for every symmetry of the input.
    for turned in (patches[..., ::-1], np.rot90(patches, 1, axes=(2, 3)),
                   patches.swapaxes(2, 3)):
        np.testing.assert_allclose(dihedral_patch_average(window, turned), averaged)
    assert not np.allclose(averaged, window(patches))
    # The centre pixel is fixed by every symmetry.
    np.testing.assert_allclose(averaged[:, 12], patches[:, 0, 2, 2])
