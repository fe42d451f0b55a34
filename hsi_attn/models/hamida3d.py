"""``hamida3d``: the 3-D CNN of Ben Hamida et al., with attention (dense-capable).

Reference: A. Ben Hamida, A. Benoit, P. Lambert, C. Ben Amar, "3-D Deep Learning Approach
for Remote Sensing Image Classification", IEEE TGRS 56(8), 2018,
https://doi.org/10.1109/TGRS.2018.2818945 -- the network the DeepHyperX toolbox ships,
so this family gives a like-for-like comparison with it.

Layout (input ``(N, 1, B, p, p)``, bands as depth; every convolution followed by ReLU,
no normalisation, as in the paper):

* ``conv1``: 20 kernels ``(3, 3, 3)``, valid in all three axes;
* ``pool1``: 20 kernels ``(3, 1, 1)``, spectral stride 2 (the paper's learned
  "pooling" convolution that halves the band axis);
* ``conv2``: 35 kernels ``(3, 3, 3)``, spectral padding 1, spatially valid;
* ``pool2``: 35 kernels ``(3, 1, 1)``, spectral stride 2;
* ``conv3``: 35 kernels ``(3, 1, 1)``; ``conv4``: 35 kernels ``(2, 1, 1)``, spectral
  stride 2;
* the chosen attention (one gate per channel, and per band for band-preserving layers);
* a linear classifier on the flattened channel x band features.

At the paper's patch size p = 5 the two valid 3 x 3 convolutions leave a 1 x 1 window.
Two departures keep the family usable at any odd p and dense-capable:

* for p > 5 the ``r = p - 4`` window left after ``conv2`` is **averaged** before
  ``pool2`` (the paper has no such case); the spectral layers, attention and classifier
  then act on one position, so the model is a sliding-window function with an exact
  dense twin (see :mod:`hsi_attn.models.dense`);
* for p < 5 the spatial extent of ``conv2`` (p = 3), and of ``conv1`` too (p = 1),
  shrinks to 1, so p = 1 is a purely spectral network.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from hsi_attn.layers import create_attention
from hsi_attn.models.checks import check_3d_attention, check_patch_size, check_positive_int
from hsi_attn.models.dense.positionwise import (
    PositionwiseHead,
    positionwise_attention,
    positionwise_linear,
)
from hsi_attn.models.dense.twin import WindowAveragedNet

MIN_BANDS = 3
"""``conv1`` is spectrally valid with kernel 3, so at least 3 bands are needed."""


def _spectral_length(n_bands: int) -> int:
    """Number of bands left after conv1, pool1, conv2, pool2, conv3 and conv4."""
    d = n_bands - 2  # conv1, valid
    d = (d - 1) // 2 + 1  # pool1: kernel 3, stride 2, padding 1
    d = (d - 1) // 2 + 1  # pool2 (conv2 and conv3 keep the length)
    return d // 2 + 1  # conv4: kernel 2, stride 2, padding 1


class HamidaHead(PositionwiseHead):
    """``pool2``, ``conv3``, ``conv4``, attention and classifier on a 1 x 1 window.

    Shape:
        Input ``(N, C, D, 1, 1)``; output logits ``(N, K)``.
    """

    def __init__(
        self,
        n_bands: int,
        n_classes: int,
        *,
        channels: int,
        attention: str,
        attention_kwargs: dict[str, Any] | None,
    ) -> None:
        super().__init__()
        c = channels
        self.pool2 = nn.Conv3d(c, c, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))
        self.conv3 = nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))
        self.conv4 = nn.Conv3d(c, c, (2, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))
        self.relu = nn.ReLU(inplace=True)
        self.attention = create_attention(attention, c, **(attention_kwargs or {}))
        self.classifier = nn.Linear(c * _spectral_length(n_bands), n_classes)

    def _spectral(self, x: Tensor) -> Tensor:
        x = self.relu(self.pool2(x))
        x = self.relu(self.conv3(x))
        return self.relu(self.conv4(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.attention(self._spectral(x)).flatten(1))

    def per_position(self, blocks: Tensor) -> Tensor:
        x = positionwise_attention(self.attention, self._spectral(blocks))
        return positionwise_linear(self.classifier, x)


class Hamida3d(WindowAveragedNet):
    """Ben Hamida et al.'s 3-D CNN with attention after its last spectral convolution.

    See the module docstring for the layout and the departures from the paper.

    Args:
        n_bands: Number of input bands B (>= 3).
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p >= 1 (the paper uses 5).
        attention: Registered 3-D attention name, applied after ``conv4``.
        attention_kwargs: Options for the attention (reduction, kernel_size, gate).
        channels: Kernels of the first and of the later layers; the paper's (20, 35).

    Shape:
        Input ``(N, 1, B, p, p)``; output logits ``(N, K)``.
    """

    def __init__(
        self,
        n_bands: int,
        n_classes: int,
        *,
        patch_size: int,
        attention: str = "none",
        attention_kwargs: dict[str, Any] | None = None,
        channels: tuple[int, int] = (20, 35),
    ) -> None:
        name = "hamida3d"
        super().__init__(
            check_positive_int(n_bands, name="n_bands", minimum=MIN_BANDS, model=name),
            check_positive_int(n_classes, name="n_classes"),
            patch_size=check_patch_size(patch_size, model=name),
            name=name,
        )
        attention = check_3d_attention(attention, model=name)
        first, later = (check_positive_int(c, name="channels") for c in channels)
        k1 = 3 if patch_size >= 3 else 1
        k2 = 3 if patch_size >= 5 else 1
        self.window = patch_size - (k1 - 1) - (k2 - 1)
        self.spatial = nn.Sequential(
            nn.Conv3d(1, first, (3, k1, k1)),
            nn.ReLU(inplace=True),
            nn.Conv3d(first, first, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)),
            nn.ReLU(inplace=True),
            nn.Conv3d(first, later, (3, k2, k2), padding=(1, 0, 0)),
            nn.ReLU(inplace=True),
        )
        self.head = HamidaHead(
            n_bands, n_classes, channels=later,
            attention=attention, attention_kwargs=attention_kwargs,
        )
