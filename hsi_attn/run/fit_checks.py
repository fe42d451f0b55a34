"""Does this run fit this scene and this machine? The checks that need the data.

The configuration checks itself when constructed (:mod:`hsi_attn.config`), but some
mistakes only show once the scene is known: a patch wider than the image, a ground
truth with a single class, or settings whose batches need more memory than the machine
has (``--patch-size 301`` on Indian Pines once grew to 23 GB before the kernel killed
it). :func:`check_run_fits` makes these checks in well under a second, before the split
and the preprocessing, and fails with the number that is wrong.

The memory estimate builds the network on PyTorch's ``meta`` device (shapes only, no
memory, no arithmetic) and runs one patch through it to measure its activations:

* training keeps every layer's output for the backward pass, plus one gradient of the
  largest, per patch of a ``batch_size`` batch; and the weights, their gradients and two
  optimiser moments (AdamW), four copies of the parameters;
* validation and full-scene prediction run ``eval_batch_size`` patches without
  gradients: about three copies of the largest layer output per patch (a layer's
  input, its output and a temporary);
* the data: the preprocessed cube, its padded copy and the probability map.

On a CPU it is compared with the memory the kernel reports as available, on a CUDA
device with its free memory. Against the peak resident memory measured on this
project's CPU (one training step of 64 patches and one evaluation batch of 512, for
resnet3d, hamida3d and hybridsn with 30 bands at 31x31, and resnet3d at 61x61) it was
between 25 % under and 18 % over the measurement.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings

import numpy as np
import torch
from torch import nn

from hsi_attn.config import RunConfig, setting_label
from hsi_attn.data import Scene
from hsi_attn.models import create_model

__all__ = [
    "InsufficientMemoryError",
    "MemoryEstimate",
    "available_memory",
    "check_run_fits",
    "estimate_memory",
    "largest_patch_size",
]

logger = logging.getLogger(__name__)

_GIB = float(1 << 30)
_OPTIMIZER_COPIES = 4  # weights, gradients and AdamW's two moments
_WORKING_COPIES = 3  # without gradients: a layer's input, its output and one temporary
_FLOAT32 = 4
_PROBE_BATCH = 2


class InsufficientMemoryError(ValueError):
    """The run's settings need more memory than this machine has available."""


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by where they live.

    Attributes:
        training: One training step: activations kept for the backward pass, the input
            batch, and the parameters with their gradients and optimiser moments.
        evaluation: One validation or prediction batch, without gradients.
        data: The preprocessed cube, its padded copy and the probability map (host
            memory, wherever the network runs).
    """

    training: int
    evaluation: int
    data: int

    @property
    def compute(self) -> int:
        """The larger of a training step and an evaluation batch (they never overlap)."""
        return max(self.training, self.evaluation)


def largest_patch_size(height: int, width: int) -> int:
    """The largest odd patch side whose border padding (p // 2) is smaller than both sides.

    A wider patch would mirror the image more than once; ``numpy.pad`` and
    ``torch``'s reflect padding need the pad to be smaller than the side.
    """
    return 2 * min(height, width) - 1


def check_run_fits(config: RunConfig, scene: Scene, *, device: torch.device | None = None
                   ) -> None:
    """Fail fast if ``config`` cannot run on ``scene`` (on ``device``).

    Args:
        config: The run's configuration.
        scene: The loaded scene.
        device: Where the network will run; default ``config.train.device`` resolved.

    Raises:
        ValueError: If the ground truth holds fewer than two classes, or the patch is
            wider than the image allows.
        InsufficientMemoryError: If the estimated memory exceeds what is available.
    """
    _check_classes(scene)
    _check_patch_fits(config, scene)
    _check_memory(config, scene, device)


def _check_classes(scene: Scene) -> None:
    labels, counts = np.unique(scene.gt[scene.gt > 0], return_counts=True)
    if len(labels) == 1:
        raise ValueError(
            f"the ground truth of scene {scene.name!r} has a single class (label "
            f"{int(labels[0])}, {int(counts[0])} pixels); a classifier needs at least 2 "
            "classes. Check the ground-truth file (0 = unlabelled, 1..K = classes)"
        )


def _check_patch_fits(config: RunConfig, scene: Scene) -> None:
    height, width = scene.gt.shape
    p = config.model.patch_size
    largest = largest_patch_size(height, width)
    if p > largest:
        label = setting_label(next(f for f in dataclasses.fields(config.model)
                                   if f.name == "patch_size"))
        raise ValueError(
            f"{label} {p} is too large for the {height}x{width} scene {scene.name!r}: the "
            f"padding p // 2 = {p // 2} must be smaller than the image's shorter side "
            f"({min(height, width)}), so the largest patch size that works is {largest}"
        )


def _check_memory(config: RunConfig, scene: Scene, device: torch.device | None) -> None:
    if device is None:
        from hsi_attn.engine import resolve_device

        try:
            device = resolve_device(config.train.device)
        except ValueError as error:
            logger.debug("memory check skipped: %s", error)
            return
    estimate = estimate_memory(config, scene)
    if estimate is None:
        return
    places = [("host", estimate.data + (estimate.compute if device.type == "cpu" else 0),
               torch.device("cpu"))]
    if device.type != "cpu":
        places.append((str(device), estimate.compute, device))
    for where, needed, target in places:
        available = available_memory(target)
        if available is None:
            logger.debug("memory check skipped: the available memory of %s is unknown", where)
            continue
        logger.debug("memory: about %.2f GiB needed, %.2f GiB available on %s",
                     needed / _GIB, available / _GIB, where)
        if needed > available:
            raise InsufficientMemoryError(_memory_message(config, scene, estimate, needed,
                                                          available, where))


def _memory_message(config: RunConfig, scene: Scene, estimate: MemoryEstimate, needed: int,
                    available: int, where: str) -> str:
    model, train = config.model, config.train
    bands = _bands_after_preprocessing(config, scene)
    p = model.patch_size
    return (
        f"this run needs about {needed / _GIB:.1f} GiB of memory but {available / _GIB:.1f} "
        f"GiB is available ({where}): a training batch of {train.batch_size} patches of "
        f"{bands}x{p}x{p} through {model.name} takes about {estimate.training / _GIB:.1f} "
        f"GiB and an evaluation batch of {train.eval_batch_size} about "
        f"{estimate.evaluation / _GIB:.1f} GiB; lower --batch-size, --eval-batch-size or "
        "--patch-size (or --pca)"
    )


def _bands_after_preprocessing(config: RunConfig, scene: Scene) -> int:
    pca = config.data.pca
    return scene.n_bands if pca is None else min(pca, scene.n_bands)


def estimate_memory(config: RunConfig, scene: Scene) -> MemoryEstimate | None:
    """Estimate the bytes a run of ``config`` on ``scene`` needs (see the module docstring).

    Returns:
        The estimate, or None when the network cannot take one patch of this size (the
        model build reports that with its own message).

    Raises:
        ValueError: When the model family cannot be built for these sizes (the same
            error :func:`hsi_attn.models.create_model` raises).
    """
    bands = _bands_after_preprocessing(config, scene)
    height, width = scene.gt.shape
    p = config.model.patch_size
    profile = _activation_profile(config, bands, scene.n_classes)
    if profile is None:
        return None
    kept, largest, parameters = profile
    patch = bands * p * p * _FLOAT32
    train = config.train
    padded = bands * (height + p - 1) * (width + p - 1) * _FLOAT32
    probabilities = height * width * scene.n_classes * _FLOAT32
    return MemoryEstimate(
        training=train.batch_size * (kept + largest + patch) + _OPTIMIZER_COPIES * parameters,
        evaluation=train.eval_batch_size * (_WORKING_COPIES * largest + patch) + parameters,
        data=height * width * bands * _FLOAT32 + padded + probabilities,
    )


def _activation_profile(config: RunConfig, bands: int, n_classes: int
                        ) -> tuple[int, int, int] | None:
    """(sum of layer outputs, largest layer output, parameter bytes) for one patch."""
    model_cfg = config.model
    p = model_cfg.patch_size
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")  # the real build warns; this probe must not repeat it
        model = create_model(model_cfg.name, n_bands=bands, n_classes=n_classes, patch_size=p,
                             attention=model_cfg.attention,
                             attention_kwargs=model_cfg.attention_kwargs())
    kept = largest = 0

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal kept, largest
        if isinstance(output, torch.Tensor):
            size = output.numel() * output.element_size()
            kept += size
            largest = max(largest, size)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(record) for m in leaves]
    try:
        model.train()
        # Two patches: batch norm in training mode refuses a batch of one 1x1 map.
        model(torch.zeros(_PROBE_BATCH, 1, bands, p, p, device="meta"))
    except (RuntimeError, ValueError) as error:
        logger.debug("memory check skipped: %s cannot take %dx%d patches (%s)",
                     model_cfg.name, p, p, str(error).splitlines()[0])
        return None
    finally:
        for hook in hooks:
            hook.remove()
    parameters = sum(q.numel() * q.element_size() for q in model.parameters())
    return kept // _PROBE_BATCH, largest // _PROBE_BATCH, parameters


def available_memory(device: torch.device) -> int | None:
    """Bytes that can still be allocated on ``device``, or None when unknown.

    The host: ``MemAvailable`` from ``/proc/meminfo`` (else ``os.sysconf``; a container's
    cgroup limit is not read). A CUDA device: its free memory. Anything else: None.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    host = _meminfo_available()
    if host is None:
        try:
            host = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    return host


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
