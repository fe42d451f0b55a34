"""Device and precision resolution, seeding, checkpoint files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi_attn.engine import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    resolve_device,
    resolve_precision,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)


def test_auto_and_cpu_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is absent")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CUDA is not available.*--device cpu"):
        resolve_device("cuda")


def test_unknown_device_lists_choices() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu0'.*auto, cpu, cuda"):
        resolve_device("gpu0")


def test_precision_policies() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu).dtype is None
    assert resolve_precision("bf16", cpu).dtype is torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)


def test_rng_snapshot_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    generator = seed_everything(7)
    state = capture_rng_state(generator)
    first = (random.random(), np.random.rand(), torch.rand(1).item(),
             torch.rand(1, generator=generator).item())
    save_checkpoint(tmp_path / "rng.pt", {"format": 1, "rng": state})
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"], generator)
    again = (random.random(), np.random.rand(), torch.rand(1).item(),
             torch.rand(1, generator=generator).item())
    assert first == again


def test_corrupt_and_foreign_checkpoints(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "ok.pt", {"format": 1, "x": torch.ones(3)})
    corrupt = tmp_path / "bad.pt"
    corrupt.write_bytes(good.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(corrupt)
    foreign = save_checkpoint(tmp_path / "foreign.pt", {"weights": torch.ones(1)})
    with pytest.raises(CheckpointError, match="not an hsi_attn checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    umask = os.umask(0)
    os.umask(umask)
    assert good.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0o600


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_and_autocast() -> None:
    device = resolve_device("cuda")
    precision = resolve_precision("auto", device)
    assert precision.name in ("bf16", "fp32")
    fp16 = resolve_precision("fp16", device)
    assert fp16.use_scaler and fp16.make_scaler() is not None


def test_describe_device_names_the_machine_and_keeps_unknown_strings() -> None:
    from hsi_attn.engine.device import describe_device

    assert describe_device("cpu").startswith("cpu: ") and "logical cores" in describe_device("cpu")
    assert describe_device("unknown") == "unknown"
