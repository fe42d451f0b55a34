"""Batch sources: what :func:`hsi_attn.engine.fit` reads an epoch of data from.

A batch source is any object with ``batches(generator)`` yielding ``(x, y)`` tensor
pairs for one epoch, ``__len__`` giving the number of batches per epoch, and a
``labels`` attribute with every sample's integer label (used for class weights and
counts). The loop never creates a ``DataLoader``: the caller decides where samples live
(in memory, gathered from a padded cube on the GPU, ...), and the only randomness is
the :class:`torch.Generator` that the loop passes in, so the data order is seeded and is
restored exactly on resume.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch

__all__ = ["BatchSource", "TensorSource"]


@runtime_checkable
class BatchSource(Protocol):
    """The protocol :func:`~hsi_attn.engine.fit` trains and validates on."""

    labels: torch.Tensor

    def batches(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield one epoch of ``(x, y)`` batches; shuffle only with ``generator``."""
        ...

    def __len__(self) -> int:
        """Number of batches per epoch."""
        ...


class TensorSource:
    """In-memory samples ``x`` with integer labels ``y``, served in batches.

    Args:
        x: Samples, first axis is the sample axis (e.g. ``(N, 1, B, p, p)``).
        y: Integer labels ``(N,)``.
        batch_size: Samples per batch.
        shuffle: Draw a new permutation from the generator each epoch.
        drop_last: Drop a final incomplete batch (useful with BatchNorm and tiny batches).

    Raises:
        ValueError: On mismatched lengths, an empty set or a non-positive batch size.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
        if len(x) == 0:
            raise ValueError("a batch source needs at least one sample")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x = x
        self.labels = y.long()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and len(x) >= batch_size

    def __len__(self) -> int:
        count = len(self.x) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def batches(
        self, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` batches, shuffled with ``generator`` when ``shuffle`` is set."""
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            index = index.to(self.x.device)
            yield self.x[index], self.labels[index.to(self.labels.device)]
