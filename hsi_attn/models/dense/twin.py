"""The dense-capable interface, the base of the dense-capable families, and their twins.

A :class:`WindowAveragedNet` is a spatial stage, a window average and a head (see
:mod:`hsi_attn.models.dense`). Its twins run those same three parts over a padded scene:

* :meth:`WindowAveragedNet.dense_twin`, the **reference twin**: the model's own
  modules, parameters and arithmetic (the window average as average pooling, the head
  on every position as its own 1 x 1 map). It is what FLOP counts describe;
* :meth:`WindowAveragedNet.fused_twin`, the **fused twin** :func:`predict_scene
  <hsi_attn.inference.predict_scene>` runs: the spatial stage with batch norm folded
  (:func:`~hsi_attn.models.dense.folding.fold_batch_norm`), the window average as a box
  filter, the head in its :meth:`~.PositionwiseHead.inference_form`, and a single cube
  split into two halves on a CPU (:mod:`~hsi_attn.models.dense.cpu_choices`). It is a
  snapshot of an evaluation-mode model, equal to the reference twin up to rounding.

The patch model's own ``forward`` is the plain network it trains, in either mode.
"""

from __future__ import annotations

import abc

from torch import Tensor, nn

from hsi_attn.models.checks import check_padded_cube, check_patch_batch
from hsi_attn.models.dense.box_filter import BoxFilter
from hsi_attn.models.dense.cpu_choices import in_two_halves
from hsi_attn.models.dense.folding import fold_batch_norm
from hsi_attn.models.dense.positionwise import EveryPosition, PositionwiseHead


class DenseCapable(abc.ABC):
    """Interface of a patch classifier that has an exact fully-convolutional twin.

    A twin maps a cube padded by ``patch_size // 2`` on each side, ``(N, 1, B, H + p - 1,
    W + p - 1)``, to logits ``(N, K, H, W)``; the logits at (i, j) equal the model's
    logits for the p x p patch centred on pixel (i, j).
    """

    patch_size: int
    n_bands: int
    n_classes: int

    @abc.abstractmethod
    def dense_twin(self) -> nn.Module:
        """The twin in the model's own arithmetic, sharing this model's parameters."""

    def fused_twin(self) -> nn.Module:
        """The twin for inference, equal to :meth:`dense_twin` up to rounding (by default, it)."""
        return self.dense_twin()


class DenseTwin(nn.Module):
    """Spatial stage, window average and head, run over a padded scene.

    Args:
        spatial: ``(N, 1, B, H + p - 1, W + p - 1)`` to features ``(N, C, D, H + r - 1,
            W + r - 1)``.
        window_average: Stride-1 ``r x r`` mean, to ``(N, C, D, H, W)``.
        head: Every position's logits, ``(N, C, D, H, W)`` to ``(N, K, H, W)``.
        net: The patch model the twin belongs to (for its sizes and name).
        halves: Run a single cube on a CPU as two halves
            (:func:`~hsi_attn.models.dense.cpu_choices.in_two_halves`).

    Shape:
        Input ``(N, 1, B, H + p - 1, W + p - 1)`` (the cube padded by p // 2); output
        logits ``(N, K, H, W)``.
    """

    def __init__(
        self,
        spatial: nn.Module,
        window_average: nn.Module,
        head: nn.Module,
        *,
        net: WindowAveragedNet,
        halves: bool = False,
    ) -> None:
        super().__init__()
        self.spatial = spatial
        self.window_average = window_average
        self.head = head
        self.patch_size = net.patch_size
        self.n_bands = net.n_bands
        self.n_classes = net.n_classes
        self.family = net.family
        self.halves = halves
        self.training = net.training  # a new module starts training; mirror the net

    def forward(self, cube: Tensor) -> Tensor:
        check_padded_cube(cube, n_bands=self.n_bands, patch_size=self.patch_size, model=self.family)
        if self.halves:
            return in_two_halves(self._logits, cube, self.patch_size)
        return self._logits(cube)

    def _logits(self, cube: Tensor) -> Tensor:
        return self.head(self.window_average(self.spatial(cube)))


class WindowAveragedNet(nn.Module, DenseCapable):
    """Base of the dense-capable families: spatial stage, window average, head.

    Subclasses build ``self.spatial`` (patch ``(N, 1, B, p, p)`` to features
    ``(N, C, D, r, r)`` using only valid spatial convolutions and position-wise
    operations) and ``self.head``, a :class:`PositionwiseHead` (features
    ``(N, C, D, 1, 1)`` to logits ``(N, K)``), and set ``self.window`` to r.

    Args:
        n_bands: Number of input bands B.
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p.
        name: Registry name of the family, used in error messages.
    """

    spatial: nn.Module
    head: PositionwiseHead

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
        """The reference twin: this model's modules and arithmetic (see the module docstring)."""
        window = nn.AvgPool3d((1, self.window, self.window), stride=1)
        window.training = self.training
        return DenseTwin(self.spatial, window, EveryPosition(self.head), net=self)

    def fused_twin(self) -> DenseTwin:
        """The fused twin for inference (see the module docstring); this model is not changed.

        Raises:
            ValueError: If a module of this model is in training mode: batch norm then
                depends on the batch and folds into nothing.
        """
        training = [name for name, module in self.named_modules() if module.training]
        if training:
            raise ValueError(
                f"fused_twin needs the model in evaluation mode, but {training[0] or 'the model'!r} "
                "is training; call model.eval() first (or use "
                "hsi_attn.engine.evaluation_mode, which restores the modes afterwards)."
            )
        return DenseTwin(
            fold_batch_norm(self.spatial), BoxFilter(self.window), self.head.inference_form(),
            net=self, halves=True,
        )
