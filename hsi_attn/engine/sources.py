"""Batch sources: what :func:`hsi_attn.engine.fit` reads an epoch of data from.

A batch source is any object with ``batches(generator)`` yielding ``(x, y)`` tensor
pairs for one epoch, ``__len__`` giving the number of batches per epoch, and a
``labels`` attribute with every sample's integer label (used for class weights and
counts). The loop never creates a ``DataLoader``: the caller decides where samples live
(in memory, gathered from a padded cube on the GPU, ...), and the only randomness is
the :class:`torch.Generator` that the loop passes in, so the data order is seeded and is
restored exactly on resume.

The package's implementation is :class:`hsi_attn.data.batches.PatchSource`
(``PatchSource.from_cube`` for patches around pixel coordinates,
``PatchSource.from_tensors`` for samples in memory).

Under ``torchrun`` the loop reads a shard per process: a source it trains on with
several processes must also be a :class:`ShardableSource`, whose ``sharded(rank,
world_size)`` gives the part rank ``rank`` reads, with the same number of equal batches
on every rank (``PatchSource`` is one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch

__all__ = ["BatchSource", "ShardableSource"]


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


@runtime_checkable
class ShardableSource(BatchSource, Protocol):
    """A :class:`BatchSource` that several processes can split between them."""

    def sharded(self, rank: int, world_size: int) -> BatchSource:
        """The part of every epoch that rank ``rank`` of ``world_size`` reads."""
        ...
