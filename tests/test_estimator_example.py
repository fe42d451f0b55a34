"""The README's scikit-learn example is the example file, and it runs (verbatim, on a small
fake Indian Pines)."""

from __future__ import annotations

import ast
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import hsi_attn
import hsi_attn.data
from hsi_attn.data import Scene
from hsi_attn.sklearn.estimator import HSIClassifier
from hsi_attn.sklearn.patch_extractor import PatchExtractor

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "experiments" / "examples" / "sklearn_example.py"
FAKE_BANDS = 40


def fake_indian_pines(name: str, *args: object, **kwargs: object) -> Scene:
    """24 x 24 x 40 uint16 cube with three classes in vertical stripes, 0 = unlabelled."""
    assert name == "indian_pines"
    rng = np.random.default_rng(0)
    stripe = np.repeat(np.arange(3), 8)
    cube = 1000 + 50 * rng.normal(size=(24, 24, FAKE_BANDS))
    cube += 400 * stripe[None, :, None] * np.linspace(-1, 1, FAKE_BANDS)[None, None, :]
    gt = np.broadcast_to(stripe + 1, (24, 24)).copy()
    gt[::5, ::7] = 0
    return Scene.from_arrays(
        cube.astype(np.uint16), gt, name=name, class_names=("Alfalfa", "Corn", "Woods")
    )


def example_code() -> str:
    """The example file without its docstring."""
    source = EXAMPLE.read_text(encoding="utf-8")
    docstring = ast.parse(source).body[0]
    assert isinstance(docstring, ast.Expr)
    return "\n".join(source.splitlines()[docstring.end_lineno:]).strip() + "\n"


def readme_example() -> str:
    """The Python block of the README's scikit-learn section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## scikit-learn\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the README's scikit-learn section should hold one Python block"
    return blocks[0].strip() + "\n"


def test_readme_example_is_the_example_file() -> None:
    assert readme_example() == example_code()


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
    assert namespace["model"][-1].n_bands == FAKE_BANDS // 10  # every 10th band
