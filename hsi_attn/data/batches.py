"""The one batch source of the package: patches gathered around pixel coordinates.

:class:`PatchSource` is what training runs, Optuna trials, evaluation and the
estimator's patch path read batches from (it satisfies
:class:`hsi_attn.engine.BatchSource`): it cuts each batch from a
:class:`~hsi_attn.data.patches.PatchSampler` over the padded cube, shuffles with the
loop's seeded generator, and can apply a random dihedral transform per patch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from hsi_attn.data.patches import PatchSampler

__all__ = ["PatchSource", "dihedral"]


class PatchSource:
    """A :class:`~hsi_attn.engine.BatchSource` of patches gathered around coordinates.

    Args:
        sampler: A :class:`hsi_attn.data.patches.PatchSampler` over the preprocessed cube.
        coords: ``(n, 2)`` int64 pixel coordinates.
        labels: ``(n,)`` int64 labels ``0..K-1``.
        batch_size: Patches per batch.
        shuffle: Shuffle with the loop's generator each epoch.
        drop_last: Drop an incomplete last batch (training: keeps BatchNorm batches > 1).
        augment: Apply a random element of the dihedral group (flips and 90 degree
            rotations of the spatial window) to each patch, drawn from the generator.
    """

    def __init__(self, sampler: PatchSampler, coords: np.ndarray, labels: np.ndarray, *,
                 batch_size: int, shuffle: bool, drop_last: bool = False,
                 augment: bool = False) -> None:
        if len(coords) == 0:
            raise ValueError("a patch source needs at least one pixel; check the split sizes")
        self.sampler = sampler
        # Checked once here, not per batch; copied because split arrays are read-only.
        self.coords = sampler.check_coords(np.array(coords, dtype=np.int64))
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and len(coords) > batch_size
        self.augment = augment

    def __len__(self) -> int:
        n = len(self.coords)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batches(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(patches (b, 1, B, p, p), labels (b,))``."""
        n = len(self.coords)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            patches = self.sampler.gather(self.coords[index.to(self.coords.device)], check=False)
            if self.augment:
                patches = dihedral(patches, torch.randint(0, 8, (len(index),),
                                                           generator=generator))
            yield patches, self.labels[index]


def dihedral(patches: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Apply op ``k`` (rotate by ``k % 4`` quarter turns, transpose if ``k >= 4``) per patch."""
    out = patches.clone()
    ops = ops.to(patches.device)
    for k in range(1, 8):
        chosen = ops == k
        if bool(chosen.any()):
            window = patches[chosen]
            if k >= 4:
                window = window.transpose(-1, -2)
            out[chosen] = torch.rot90(window, k % 4, dims=(-2, -1))
    return out
