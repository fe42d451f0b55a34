"""Shared test fixtures: where the real scenes and the generated data fixtures are."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from hsi_attn.data import Scene, load_scene

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def data_fixtures() -> Path:
    """Folder written by tests/fixtures/make_data_fixtures.py."""
    return FIXTURES / "data"


@pytest.fixture
def isolated_data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No HSI_ATTN_DATA and an empty HSI_ATTN_CACHE, so only explicit sources count."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.delenv("HSI_ATTN_DATA", raising=False)
    monkeypatch.setenv("HSI_ATTN_CACHE", str(cache))
    return cache


def real_scenes_available() -> bool:
    """True when the real Indian Pines can be found: HSI_ATTN_DATA or tensorly's copy."""
    return bool(os.environ.get("HSI_ATTN_DATA")) or importlib.util.find_spec("tensorly") is not None


@pytest.fixture(scope="session")
def indian_pines() -> Scene:
    """The real Indian Pines scene, through HSI_ATTN_DATA or tensorly's copy."""
    if not real_scenes_available():
        pytest.skip("real Indian Pines unavailable: set HSI_ATTN_DATA or pip install tensorly")
    return load_scene("indian_pines")
