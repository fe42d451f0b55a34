"""Channel attention layers (2-D and band-preserving 3-D) and residual blocks.

Every layer takes ``channels`` first, then keyword-only options, and returns a tensor of
the input's shape. Build them by name with :func:`create_attention`.
"""

from hsi_attn.layers.blocks import BasicBlock2d, BasicBlock3d
from hsi_attn.layers.cbam import BandCBAM3d, CBAMChannel2d
from hsi_attn.layers.danet import DANetChannel2d, DANetChannel3d
from hsi_attn.layers.eca import BandECA3d, EfficientChannelAttention2d
from hsi_attn.layers.eca_band_conv import BandConvECA3d
from hsi_attn.layers.eca_dual import DualECA3d
from hsi_attn.layers.factory import (
    ATTENTION,
    SHARED_OPTIONS,
    accepted_options,
    attention_class,
    attentions_using,
    create_attention,
    list_attention,
    one_warning_per_model,
)
from hsi_attn.layers.gating import ChannelGate
from hsi_attn.layers.options import eca_kernel_size, hidden_width
from hsi_attn.layers.squeeze_excite import BandSE3d, SqueezeExcite2d, SqueezeExcite3d

__all__ = [
    "ATTENTION",
    "SHARED_OPTIONS",
    "BandCBAM3d",
    "BandConvECA3d",
    "BandECA3d",
    "BandSE3d",
    "BasicBlock2d",
    "BasicBlock3d",
    "CBAMChannel2d",
    "ChannelGate",
    "DANetChannel2d",
    "DANetChannel3d",
    "DualECA3d",
    "EfficientChannelAttention2d",
    "SqueezeExcite2d",
    "SqueezeExcite3d",
    "accepted_options",
    "attention_class",
    "attentions_using",
    "create_attention",
    "eca_kernel_size",
    "hidden_width",
    "list_attention",
    "one_warning_per_model",
]
