"""The one batch source of the package: patches served in seeded batches.

:class:`PatchSource` is what training runs, Optuna trials, evaluation and the
scikit-learn estimator read batches from (it satisfies
:class:`hsi_attn.engine.BatchSource`). Where the patches come from is a *sample getter*
that turns a batch of sample indices into a batch of patches:

* :meth:`PatchSource.from_cube`: gathered around pixel coordinates from a
  :class:`~hsi_attn.data.patches.PatchSampler` over the padded cube (runs, trials,
  evaluation: only the batch is ever allocated);
* :meth:`PatchSource.from_tensors`: taken from patches already in memory (the
  estimator, which is handed arrays).

Either way the order is drawn from the loop's seeded generator, and a random dihedral
transform per patch can be applied (drawn from the same generator, after the batch).

Several processes (``torchrun``) each read a shard: :meth:`PatchSource.sharded`. Every
rank draws the same permutation and the same dihedral ops from its identically seeded
generator, forms the same global batches as one process would, and keeps every
``world_size``-th sample of each, starting at its rank (:func:`shard_epoch`). So the
ranks' shards are disjoint, the batches of one step together are exactly the batch one
process would take, and the generators stay in step for the next epoch. A shuffled
(training) shard drops the incomplete last global batch, so every rank takes the same
number of equal steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from hsi_attn.data.patches import PatchSampler

__all__ = ["CubePatches", "PatchSource", "SampleGetter", "TensorPatches", "dihedral", "shard_of",
           "shard_epoch"]


class SampleGetter(Protocol):
    """Where a :class:`PatchSource` takes its samples from."""

    def __len__(self) -> int:
        """Number of samples."""
        ...

    def take(self, index: Tensor) -> Tensor:
        """The samples at ``index`` (a CPU long tensor), in that order."""
        ...


class CubePatches:
    """Patches gathered around pixel coordinates of a padded cube.

    Args:
        sampler: The padded cube.
        coords: ``(n, 2)`` integer ``(row, col)`` pixel coordinates.

    Raises:
        ValueError: On coordinates outside the cube or of the wrong shape.
    """

    def __init__(self, sampler: PatchSampler, coords: np.ndarray | Tensor) -> None:
        self.sampler = sampler
        # Checked once here, not per batch; copied because split arrays are read-only.
        if not isinstance(coords, Tensor):
            coords = np.array(coords, dtype=np.int64)
        self.coords = sampler.check_coords(coords)

    def __len__(self) -> int:
        return len(self.coords)

    def take(self, index: Tensor) -> Tensor:
        """``(b, 1, B, p, p)`` patches centred on ``coords[index]``."""
        return self.sampler.gather(self.coords[index.to(self.coords.device)], check=False)


class TensorPatches:
    """Samples already in memory, first axis the sample axis (e.g. ``(N, 1, B, p, p)``)."""

    def __init__(self, x: Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: Tensor) -> Tensor:
        """``x[index]``."""
        return self.x[index.to(self.x.device)]


class PatchSource:
    """A :class:`~hsi_attn.engine.BatchSource` of patches with integer labels.

    Build one with :meth:`from_cube` or :meth:`from_tensors`, or pass any
    :class:`SampleGetter`.

    Args:
        samples: Where the patches come from.
        labels: ``(n,)`` integer labels ``0..K-1``, one per sample.
        batch_size: Samples per batch.
        shuffle: Draw a new order from the loop's generator each epoch.
        drop_last: Drop an incomplete last batch when there is more than one batch
            (training: keeps BatchNorm batches larger than one).
        augment: Apply a random element of the dihedral group (flips and 90 degree
            rotations of the spatial window) to each patch, drawn from the generator.

    Raises:
        ValueError: On no samples, a label count that differs from the sample count, or
            a batch size below 1.
    """

    def __init__(self, samples: SampleGetter, labels: np.ndarray | Tensor, *,
                 batch_size: int, shuffle: bool, drop_last: bool = False,
                 augment: bool = False) -> None:
        n = len(samples)
        if n == 0:
            raise ValueError("a patch source needs at least one sample; check the split sizes")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.samples = samples
        self.labels = (labels.long() if isinstance(labels, Tensor)
                       else torch.as_tensor(np.asarray(labels, dtype=np.int64)))
        if tuple(self.labels.shape) != (n,):
            raise ValueError(
                f"labels has shape {tuple(self.labels.shape)}, expected ({n},): one label "
                "per sample"
            )
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and n > batch_size
        self.augment = augment
        self.rank, self.world_size = 0, 1

    def sharded(self, rank: int, world_size: int) -> PatchSource:
        """This source as rank ``rank`` of ``world_size`` processes reads it (see the module).

        ``batch_size`` stays the global batch: each rank's batches hold
        ``batch_size // world_size`` samples. A shuffled source drops the incomplete last
        global batch.

        Raises:
            ValueError: If a shuffled source's batch size is not a multiple of
                ``world_size``, or it has fewer samples than one global batch.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        n = len(self.samples)
        if self.shuffle and self.batch_size % world_size:
            raise ValueError(
                f"the global batch size {self.batch_size} does not split evenly over "
                f"{world_size} processes; use a multiple of {world_size} (e.g. --batch-size "
                f"{self.batch_size - self.batch_size % world_size or world_size})"
            )
        if self.shuffle and n < self.batch_size:
            raise ValueError(
                f"{n} training samples are fewer than one global batch of {self.batch_size}; "
                "lower --batch-size"
            )
        shard = PatchSource(self.samples, self.labels, batch_size=self.batch_size,
                            shuffle=self.shuffle, drop_last=self.drop_last or self.shuffle,
                            augment=self.augment)
        shard.rank, shard.world_size = rank, world_size
        return shard

    @classmethod
    def from_cube(cls, sampler: PatchSampler, coords: np.ndarray | Tensor,
                  labels: np.ndarray | Tensor, *, batch_size: int, shuffle: bool,
                  drop_last: bool = False, augment: bool = False) -> PatchSource:
        """Patches gathered around ``coords`` ``(n, 2)`` from ``sampler``'s padded cube."""
        return cls(CubePatches(sampler, coords), labels, batch_size=batch_size,
                   shuffle=shuffle, drop_last=drop_last, augment=augment)

    @classmethod
    def from_tensors(cls, x: Tensor, y: np.ndarray | Tensor, *, batch_size: int,
                     shuffle: bool = False, drop_last: bool = False,
                     augment: bool = False) -> PatchSource:
        """Samples ``x`` already in memory (first axis the sample axis) with labels ``y``.

        Raises:
            ValueError: If ``x`` and ``y`` differ in length (or see the class).
        """
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels; give one "
                             "label per sample")
        return cls(TensorPatches(x), y, batch_size=batch_size, shuffle=shuffle,
                   drop_last=drop_last, augment=augment)

    def __len__(self) -> int:
        n = len(self.samples)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batches(
        self, generator: torch.Generator | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield one epoch of ``(patches, labels)``; shuffle only with ``generator``."""
        n = len(self.samples)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            # Every rank draws the whole global batch's ops: the generators stay in step.
            ops = torch.randint(0, 8, (len(index),), generator=generator) if self.augment else None
            if self.world_size > 1:
                index = index[self.rank :: self.world_size]
                ops = ops[self.rank :: self.world_size] if ops is not None else None
                if len(index) == 0:
                    continue  # an in-order tail shorter than the world size
            patches = self.samples.take(index)
            if ops is not None:
                patches = dihedral(patches, ops)
            yield patches, self.labels[index.to(self.labels.device)]


def shard_of(source: object, rank: int, world_size: int) -> object:
    """Rank ``rank``'s part of ``source``, for the batch sources that wrap another.

    Raises:
        ValueError: If ``source`` cannot be split between processes.
    """
    sharded = getattr(type(source), "sharded", None)
    if not callable(sharded):
        raise ValueError(
            f"the wrapped {type(source).__name__} cannot be split between processes; "
            "wrap a hsi_attn.data.PatchSource"
        )
    return sharded(source, rank, world_size)


def shard_epoch(n: int, batch_size: int, *, rank: int, world_size: int,
                generator: torch.Generator) -> Tensor:
    """The sample indices rank ``rank`` trains on in one shuffled epoch, ``(steps, b)``.

    What :meth:`PatchSource.batches` of a sharded training source takes, without the
    augmentation draws: ``steps = n // batch_size`` and ``b = batch_size // world_size``.

    Args:
        n: Number of samples.
        batch_size: The global batch size (a multiple of ``world_size``).
        rank: This rank.
        world_size: Number of ranks.
        generator: The data-order generator (advanced by one permutation).
    """
    order = torch.randperm(n, generator=generator)
    steps = n // batch_size
    return order[: steps * batch_size].view(steps, batch_size)[:, rank::world_size]


def dihedral(patches: Tensor, ops: Tensor) -> Tensor:
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
