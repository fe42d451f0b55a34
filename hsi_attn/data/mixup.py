"""Mixup of training patches: convex combinations of pairs of patches and of their labels.

Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018. Each training
batch is mixed with a shuffled copy of itself, ``x = lam * x_i + (1 - lam) * x_j`` and
``y = lam * onehot(y_i) + (1 - lam) * onehot(y_j)``, with one ``lam ~ Beta(alpha,
alpha)`` per batch. The network is trained on the soft labels (cross-entropy against
class probabilities), which discourages confident extrapolation between the training
fields' spectra. ``alpha`` near 0 leaves most batches almost unmixed; ``alpha = 1``
draws ``lam`` uniformly.

The draws come from the loop's seeded generator, so a seeded run stays reproducible
and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from hsi_attn.checks import check_int, check_real
from hsi_attn.data.batches import shard_of

__all__ = ["Mixup"]


class Mixup:
    """A batch source whose batches are mixed pairwise (training only).

    Wraps any :class:`~hsi_attn.engine.BatchSource` with integer labels ``0..K-1`` and
    yields ``(x, y)`` with ``y`` the ``(N, K)`` float soft labels.

    Args:
        source: The training batches.
        alpha: The Beta distribution's parameter, ``> 0``.
        n_classes: Number of classes K.

    Raises:
        ValueError: On ``alpha <= 0`` or ``n_classes < 2``.
    """

    def __init__(self, source: object, alpha: float, n_classes: int) -> None:
        self.source = source
        self.alpha = float(check_real(alpha, "alpha", above=0))
        self.n_classes = int(check_int(n_classes, "n_classes", minimum=2))  # type: ignore[arg-type]
        self.labels: Tensor = source.labels  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def sharded(self, rank: int, world_size: int) -> Mixup:
        """This source as rank ``rank`` of ``world_size`` processes reads it (``torchrun``):
        each rank mixes within its own shard.

        Raises:
            ValueError: If the wrapped source cannot be sharded.
        """
        return Mixup(shard_of(self.source, rank, world_size), self.alpha, self.n_classes)

    def batches(self, generator: torch.Generator | None = None
                ) -> Iterator[tuple[Tensor, Tensor]]:
        """The wrapped source's batches, each mixed with a shuffled copy of itself."""
        for patches, labels in self.source.batches(generator):  # type: ignore[attr-defined]
            soft = torch.nn.functional.one_hot(labels.long(), self.n_classes).to(patches.dtype)
            lam = self._draw(generator)
            partner = torch.randperm(len(labels), generator=generator).to(patches.device)
            mixed = lam * patches + (1.0 - lam) * patches[partner]
            yield mixed, lam * soft + (1.0 - lam) * soft[partner]

    def _draw(self, generator: torch.Generator | None) -> float:
        """``lam ~ Beta(alpha, alpha)``, seeded from ``generator``."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        return float(np.random.default_rng(seed).beta(self.alpha, self.alpha))
