"""The two torch modules that are exported: raw spectra in, class probabilities out.

* :class:`PatchProbabilities`: raw patches ``(N, 1, B_raw, p, p)`` -> preprocessing ->
  the patch classifier -> softmax ``(N, K)``. Any model family.
* :class:`DenseProbabilities`: a raw tile with its halo ``(N, 1, B_raw, h + p - 1,
  w + p - 1)`` -> preprocessing -> the model's dense twin -> softmax over the class
  axis ``(N, K, h, w)``; output pixel ``(i, j)`` is the patch centred on input pixel
  ``(i + p // 2, j + p // 2)``. Only for :class:`~hsi_attn.models.DenseCapable` models.

The dense graph runs the **reference twin** (:meth:`~hsi_attn.models.DenseCapable.dense_twin`:
the model's own modules, the window average as average pooling, the head on every
position folded into the batch axis), not the fused twin
:func:`~hsi_attn.inference.predict_scene` runs: the fused twin's CPU choices (two
halves, slices per thread, packed blocks) branch on the tile's size and thread count,
which a graph with dynamic height and width cannot hold, and ONNX Runtime makes its own
kernel choices (it folds batch norm itself). Both twins equal the patch model up to
rounding.

:func:`activation_bytes` measures, with one probe pass, the memory the runtime sizes
its tiles and batches from.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from hsi_attn.data.preprocess import Preprocessor
from hsi_attn.export.preprocessing import SpectralPreprocessing
from hsi_attn.models.dense import DenseCapable

__all__ = ["DenseProbabilities", "PatchProbabilities", "activation_bytes"]

_PROBE_TILE = 8
_WORKING_COPIES = 3  # a layer's input, its output and one temporary


def _frozen_copy(model: nn.Module) -> nn.Module:
    """A float32, evaluation-mode CPU copy: exporting never changes the caller's model."""
    return copy.deepcopy(model).cpu().float().eval()


class PatchProbabilities(nn.Module):
    """Raw patches to class probabilities, preprocessing included.

    Args:
        model: A patch classifier ``(N, 1, B, p, p)`` -> logits ``(N, K)`` (copied).
        preprocessor: The run's fitted preprocessing (``B = n_bands_out``).

    Shape:
        Input ``(N, 1, B_raw, p, p)`` float32; output ``(N, K)`` float32 (rows sum to 1).
    """

    def __init__(self, model: nn.Module, preprocessor: Preprocessor) -> None:
        super().__init__()
        self.preprocessing = SpectralPreprocessing(preprocessor)
        self.net = _frozen_copy(model)
        self.eval()

    def forward(self, patches: Tensor) -> Tensor:
        return torch.softmax(self.net(self.preprocessing(patches)), dim=1)


class DenseProbabilities(nn.Module):
    """A raw tile with its halo to a tile of class probabilities, preprocessing included.

    Args:
        model: A :class:`~hsi_attn.models.DenseCapable` patch classifier (copied).
        preprocessor: The run's fitted preprocessing.

    Shape:
        Input ``(N, 1, B_raw, h + p - 1, w + p - 1)`` float32; output ``(N, K, h, w)``
        float32 (softmax over K).

    Raises:
        ValueError: If ``model`` has no dense twin.
    """

    def __init__(self, model: nn.Module, preprocessor: Preprocessor) -> None:
        super().__init__()
        if not isinstance(model, DenseCapable):
            raise ValueError(
                f"{type(model).__name__} has no dense twin (it is not DenseCapable); export "
                "the patch graph only (--graph patch)"
            )
        self.preprocessing = SpectralPreprocessing(preprocessor)
        net = _frozen_copy(model)
        self.twin = net.dense_twin()  # type: ignore[attr-defined]
        self.eval()

    def forward(self, tile: Tensor) -> Tensor:
        return torch.softmax(self.twin(self.preprocessing(tile)), dim=1)


def activation_bytes(graph: PatchProbabilities | DenseProbabilities, n_bands_raw: int,
                     patch_size: int) -> int:
    """Approximate activation bytes per patch (patch graph) or per padded input pixel (dense).

    One probe pass records the largest output of any module; a few such tensors are
    taken as the peak (as :func:`~hsi_attn.inference.dense_tile_size` does), per patch
    or per pixel of the padded probe tile, which bounds every layer of the dense graph
    (spatial maps only shrink through the network).
    """
    dense = isinstance(graph, DenseProbabilities)
    side = _PROBE_TILE + patch_size - 1 if dense else patch_size
    batch = 1 if dense else 4
    probe = torch.zeros((batch, 1, n_bands_raw, side, side))
    largest = 0

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal largest
        if isinstance(output, Tensor):
            largest = max(largest, output.numel() * output.element_size())

    hooks = [m.register_forward_hook(record) for m in graph.modules()]
    try:
        with torch.inference_mode():
            graph(probe)
    finally:
        for hook in hooks:
            hook.remove()
    units = side * side if dense else batch
    return max(1, math.ceil(_WORKING_COPIES * largest / units))
