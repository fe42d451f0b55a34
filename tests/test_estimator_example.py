"""The README's scikit-learn example runs (verbatim, on a small fake Indian Pines)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import hsi_attn
import hsi_attn.data
from hsi_attn.data import Scene
from hsi_attn.sklearn.estimator import HSIClassifier
from hsi_attn.sklearn.patch_extractor import PatchExtractor

EXAMPLE = Path(__file__).resolve().parents[1] / "experiments" / "examples" / "sklearn_example.py"




def fake_indian_pines(name: str, *args: object, **kwargs: object) -> Scene:
    """24 x 24 x 8 uint16 cube with three classes in vertical stripes, 0 = unlabelled."""
    assert name == "indian_pines"
    rng = np.random.default_rng(0)
    stripe = np.repeat(np.arange(3), 8)
    cube = 1000 + 50 * rng.normal(size=(24, 24, 8))
    cube += 400 * stripe[None, :, None] * np.linspace(-1, 1, 8)[None, None, :]
    gt = np.broadcast_to(stripe + 1, (24, 24)).copy()
    gt[::5, ::7] = 0
    return Scene.from_arrays(
        cube.astype(np.uint16), gt, name=name, class_names=("Alfalfa", "Corn", "Woods")
    )


def test_package_exports_the_estimator_and_the_extractor() -> None:
    assert hsi_attn.HSIClassifier is HSIClassifier
    assert hsi_attn.PatchExtractor is PatchExtractor


def test_readme_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hsi_attn.data, "load_scene", fake_indian_pines)
    # Until hsi_attn/__init__.py exports them (checked by the test above).
    monkeypatch.setattr(hsi_attn, "HSIClassifier", HSIClassifier, raising=False)
    monkeypatch.setattr(hsi_attn, "PatchExtractor", PatchExtractor, raising=False)
    namespace = runpy.run_path(str(EXAMPLE), run_name="__main__")
    printed = capsys.readouterr().out
    assert printed.startswith("OA over 3 spatially disjoint folds: ")
    scores = namespace["scores"]
    assert scores.shape == (3,)
    assert scores.mean() > 0.8  # the fake stripes are separable by spectrum
    assert namespace["model"][-1].n_bands == 8
