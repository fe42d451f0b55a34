"""``resnet3d``: the flagship spectral-spatial residual 3-D network (dense-capable).

In the spirit of SSRN: Z. Zhong, J. Li, Z. Luo, M. Chapman, "Spectral-Spatial Residual
Network for Hyperspectral Image Classification: A 3-D Deep Learning Framework", IEEE TGRS
56(2), 2018, https://doi.org/10.1109/TGRS.2017.2755542

Layout (input ``(N, 1, B, p, p)``, bands as depth):

1. **spectral stem**: ``Conv3d(1, C, (7, 1, 1), stride (s, 1, 1))`` + BN + ReLU, spatially
   point-wise; D = ceil(B / s) bands remain (s = 4 by default: 50 of Indian Pines' 200
   bands, 8 of the default 30 PCA components);
2. **spatial stage**: ``min(spatial_blocks, (p - 1) // 4)`` residual blocks of two
   *valid* ``(3, 3, 3)`` convolutions (spectral padding 1, no spatial padding) with a
   shortcut centre-cropped by 2 pixels; each block shrinks the window by 4, from p to
   r = p - 4 * blocks. No attention here;
3. **average over the remaining r x r window**;
4. **spectral stage**: residual :class:`~hsi_attn.layers.BasicBlock3d` blocks with kernel
   ``(7, 1, 1)``, each carrying the chosen attention before its residual addition, on a
   1 x 1 spatial map with all D bands, so band-preserving attention has one descriptor
   per channel and band;
5. a linear classifier on the flattened channel x band features.

Why the order differs from SSRN (spectral blocks first, then spatial blocks), and why
the attention sits only in the spectral blocks: the model must be a sliding-window
function with an exact dense form (see :mod:`hsi_attn.models.dense`). Valid spatial
convolutions computed once over the padded scene serve every overlapping patch, and the
window average becomes a box filter. A gate computed from a whole window and followed by
more spatial convolutions would be specific to each patch and break that sharing, so all
spatial mixing happens first and every gate squeezes a single position after the window
average. The invariant, kept by construction and checked by tests: *spatial
convolutions are valid, the only spatial aggregation is the window average, and nothing
after it mixes positions*. Dense inference then equals per-patch inference exactly.

Any odd p >= 1 works: p = 1 or 3 has no spatial block (p = 1 is a purely spectral
network, as the scikit-learn estimator uses for spectra), p = 5 ends the spatial stage
on a 1 x 1 window, and larger p average what the spatial blocks leave.

Sizing (Indian Pines, 10 % random training, 40 epochs, AdamW 3e-3, cosine, no
augmentation, test OA, one run each): with all 200 bands, one spatial block at p = 9
reached 96.9 % against 94.1 % for two blocks (which cost more and leave a 1 x 1 window);
at p = 11 one block gave 97.8 % with s = 2 and 97.2 % / 98.6 % (seeds 0 / 1) with s = 4
at half the FLOPs. On 30 PCA components (the default preprocessing), s = 4 (D = 8,
14.7 MFLOP per patch) gave 98.7 % in 53 s of single-thread training, s = 1 (D = 30,
55 MFLOP) 98.4 %. Hence the defaults: width 16, one spatial block, two spectral
blocks, s = 4, ``ModelConfig.patch_size`` 11. One spatial block also keeps the dense
redundancy high (about 40 at p = 11 on 200 bands): most work sits at the widest
windows, where dense inference shares it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from hsi_attn.layers import BasicBlock3d
from hsi_attn.models.band_padded_conv import BandPaddedConv3d
from hsi_attn.models.checks import check_3d_attention, check_patch_size, check_positive_int
from hsi_attn.models.dense.positionwise import (
    PositionwiseHead,
    positionwise_block,
    positionwise_linear,
)
from hsi_attn.models.dense.spectral_matrices import MatrixHead, block_lowerable
from hsi_attn.models.dense.twin import WindowAveragedNet


class ValidSpatialBlock3d(nn.Module):
    """Two valid spatial convolutions with a centre-cropped residual shortcut.

    ``conv-BN-ReLU-conv-BN`` with kernel ``(k_d, 3, 3)`` and padding ``(k_d // 2, 0, 0)``;
    the shortcut is the input cropped by 2 pixels on every side; then ReLU. The fused
    dense twin folds the batch norms into the convolutions (``conv_bn_pairs``; see
    :func:`~hsi_attn.models.dense.folding.fold_batch_norm`).

    Args:
        channels: Channels C (unchanged).
        spectral_kernel: Odd kernel size k_d along the bands.

    Shape:
        Input ``(N, C, D, H, W)``; output ``(N, C, D, H - 4, W - 4)``.
    """

    shrink = 4
    conv_bn_pairs: ClassVar[tuple[tuple[str, str], ...]] = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, channels: int, *, spectral_kernel: int = 3) -> None:
        super().__init__()
        kernel = (spectral_kernel, 3, 3)
        padding = (spectral_kernel // 2, 0, 0)
        self.conv1 = nn.Conv3d(channels, channels, kernel, padding=padding, bias=False)
        self.bn1 = nn.BatchNorm3d(channels)
        self.conv2 = nn.Conv3d(channels, channels, kernel, padding=padding, bias=False)
        self.bn2 = nn.BatchNorm3d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x[..., 2:-2, 2:-2])


class SpectralHead(PositionwiseHead):
    """Spectral residual blocks with attention, then a linear classifier on C x D features.

    The classifier sees every band position (flattened channels x bands), as in
    SSRN's band-collapsing convolution, rather than a band average that would discard
    where along the spectrum a feature occurs.

    Shape:
        Input ``(N, C, D, 1, 1)``; output logits ``(N, K)``.
    """

    def __init__(
        self,
        channels: int,
        depth: int,
        n_classes: int,
        *,
        blocks: int,
        attention: str,
        attention_kwargs: dict[str, Any] | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(
                BasicBlock3d(
                    channels, channels, kernel_size=(7, 1, 1), padding=(3, 0, 0),
                    attention=attention, attention_kwargs=attention_kwargs,
                )
                for _ in range(blocks)
            )
        )
        self.classifier = nn.Linear(channels * depth, n_classes)
        self.depth = depth

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.blocks(x).flatten(1))

    def per_position(self, blocks: Tensor) -> Tensor:
        for block in self.blocks:
            blocks = positionwise_block(block, blocks)
        return positionwise_linear(self.classifier, blocks)

    def inference_form(self) -> nn.Module:
        """Where the band axis is short, every block and the classifier as matrix products.

        The blocks are lowered with batch norm folded (see
        :mod:`~hsi_attn.models.dense.spectral_matrices`) and run on one column per
        position; otherwise the convolutions run as they are on packed positions.
        """
        # every block keeps the band count (kernel 7, padding 3)
        if all(block_lowerable(block, self.depth) for block in self.blocks):
            return MatrixHead(list(self.blocks), self.classifier, self.depth)
        return super().inference_form()


class ResNet3d(WindowAveragedNet):
    """Spectral-spatial residual 3-D CNN with band-preserving attention (``resnet3d``).

    See the module docstring for the layout and the dense invariant.

    Args:
        n_bands: Number of input bands B (>= 1).
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p >= 1.
        attention: Registered 3-D attention name for every spectral block.
        attention_kwargs: Options for the attention (reduction, kernel_size, gate).
        width: Channels C throughout.
        spatial_blocks: Most valid spatial blocks (fewer when p is small).
        spectral_blocks: Spectral residual blocks carrying the attention.
        spectral_stride: Stride s of the stem along the bands (D = ceil(B / s)).

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
        width: int = 16,
        spatial_blocks: int = 1,
        spectral_blocks: int = 2,
        spectral_stride: int = 4,
    ) -> None:
        name = "resnet3d"
        super().__init__(
            check_positive_int(n_bands, name="n_bands"),
            check_positive_int(n_classes, name="n_classes"),
            patch_size=check_patch_size(patch_size, model=name),
            name=name,
        )
        attention = check_3d_attention(attention, model=name)
        check_positive_int(width, name="width")
        check_positive_int(spatial_blocks, name="spatial_blocks", minimum=0)
        check_positive_int(spectral_blocks, name="spectral_blocks", minimum=0)
        check_positive_int(spectral_stride, name="spectral_stride")
        depth = (n_bands - 1) // spectral_stride + 1  # stem: kernel 7, padding 3
        n_spatial = min(spatial_blocks, (patch_size - 1) // ValidSpatialBlock3d.shrink)
        self.window = patch_size - ValidSpatialBlock3d.shrink * n_spatial
        self.spatial = nn.Sequential(
            # explicit band padding: torch 2.13's oneDNN gets this stem's weight
            # gradient wrong for 5-7 bands at stride 2 (see band_padded_conv)
            BandPaddedConv3d(1, width, (7, 1, 1), stride=(spectral_stride, 1, 1),
                             band_padding=3, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            *(ValidSpatialBlock3d(width) for _ in range(n_spatial)),
        )
        self.head = SpectralHead(
            width, depth, n_classes, blocks=spectral_blocks,
            attention=attention, attention_kwargs=attention_kwargs,
        )
