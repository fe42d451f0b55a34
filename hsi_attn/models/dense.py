"""Dense (fully-convolutional) twins: one pass over a scene equals one pass per patch.

A patch classifier f maps the p x p window around a pixel to logits. Run naively over a
scene it recomputes every interior feature up to p^2 times, once for each window that
contains it. The dense-capable families here are built so that f is a *sliding-window
function* with an exact one-pass form:

1. a **spatial stage** of convolutions that are "valid" spatially (no spatial padding)
   and otherwise position-wise (BN, ReLU, spectral convolutions, centre-cropped
   shortcuts). Applied to the padded scene it yields, at every position, exactly the
   features each overlapping patch would compute: this is where the p^2-fold work is
   shared;
2. an **average over the remaining r x r window**, which over a scene is a stride-1 box
   filter (``avg_pool3d`` with kernel ``(1, r, r)``);
3. a **head** that only ever sees a 1 x 1 spatial map: spectral blocks (spatial kernel
   1), attention, the classifier. Whatever the head does at one position depends on
   that position alone, so the twin runs it on every position at once by folding the
   positions into the batch axis. The very same modules, with the same parameters,
   compute the same numbers.

Any attention works in the head, including ``danet3d``: there its Gram matrix is taken
over the bands of one position, not over a spatial window. What is *not* exact is
attention inside the spatial stage: a gate computed from a whole p x p window and then
followed by further spatial convolutions differs between overlapping patches, so the
families keep attention out of the spatial stage (see each family's docstring).

A model declares the capability by subclassing :class:`DenseCapable` and returning its
twin from :meth:`DenseCapable.dense_twin`; callers test ``isinstance(model,
DenseCapable)``, never model names.
"""

from __future__ import annotations

import abc

import torch.nn.functional as F
from torch import Tensor, nn

from hsi_attn.models.checks import check_padded_cube, check_patch_batch


class DenseCapable(abc.ABC):
    """Interface of a patch classifier that has an exact fully-convolutional twin.

    The twin shares the model's parameters (it holds the model's own submodules) and
    maps a cube padded by ``patch_size // 2`` on each side, ``(N, 1, B, H + p - 1,
    W + p - 1)``, to logits ``(N, K, H, W)``; the logits at (i, j) equal the model's
    logits for the p x p patch centred on pixel (i, j).
    """

    patch_size: int
    n_bands: int
    n_classes: int

    @abc.abstractmethod
    def dense_twin(self) -> nn.Module:
        """Return the fully-convolutional twin, sharing this model's parameters."""


class WindowAveragedNet(nn.Module, DenseCapable):
    """Base of the dense-capable families: spatial stage, window average, head.

    Subclasses build ``self.spatial`` (patch ``(N, 1, B, p, p)`` to features
    ``(N, C, D, r, r)`` using only valid spatial convolutions and position-wise
    operations) and ``self.head`` (features ``(N, C, D, 1, 1)`` to logits ``(N, K)``,
    never mixing spatial positions), and set ``self.window`` to r.

    Args:
        n_bands: Number of input bands B.
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p.
        name: Registry name of the family, used in error messages.
    """

    spatial: nn.Module
    head: nn.Module

    def __init__(self, n_bands: int, n_classes: int, *, patch_size: int, name: str) -> None:
        super().__init__()
        self.n_bands = n_bands
        self.n_classes = n_classes
        self.patch_size = patch_size
        self.family = name
        self.window = patch_size

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, K)`` for patches ``(N, 1, B, p, p)``."""
        check_patch_batch(x, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        features = self.spatial(x)
        return self.head(features.mean(dim=(-2, -1), keepdim=True))

    def dense_twin(self) -> DenseTwin:
        return DenseTwin(self)


class DenseTwin(nn.Module):
    """The fully-convolutional twin of a :class:`WindowAveragedNet` (shared parameters).

    Args:
        net: The patch model; its ``spatial`` and ``head`` modules are reused as they are.

    Shape:
        Input ``(N, 1, B, H + p - 1, W + p - 1)`` (the cube padded by p // 2); output
        logits ``(N, K, H, W)``.
    """

    def __init__(self, net: WindowAveragedNet) -> None:
        super().__init__()
        self.spatial = net.spatial
        self.head = net.head
        self.window = net.window
        self.patch_size = net.patch_size
        self.n_bands = net.n_bands
        self.n_classes = net.n_classes
        self.family = net.family

    def forward(self, cube: Tensor) -> Tensor:
        check_padded_cube(cube, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        features = self.spatial(cube)
        r = self.window
        if r > 1:
            features = F.avg_pool3d(features, kernel_size=(1, r, r), stride=1)
        n, c, d, h, w = features.shape
        folded = features.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d, 1, 1)
        logits = self.head(folded)
        return logits.reshape(n, h, w, -1).permute(0, 3, 1, 2)
