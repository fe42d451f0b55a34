"""The attention registry: one table from name to layer class, and its factory.

Every entry follows one constructor contract: ``channels`` first and positional, then
keyword-only options (``reduction``, ``kernel_size``, ``gate``). ``none`` maps to
``nn.Identity``, so a block asks the factory for its attention and never branches on
names. Each row of the table also says, as data, what input the layer takes and what it
computes (:func:`describe_attention`, ``hsi-attn attention``).

Which layer uses which option is read from the constructors' signatures
(:func:`accepted_options`, :func:`attentions_using`), so the configuration can warn
about a setting the chosen attention ignores without a table of names to keep in step.

A reduction ratio larger than a layer's channels is clamped to a hidden width of 1
(``max(1, C // r)``). That is warned about once per model build: inside
:func:`one_warning_per_model` (which :func:`hsi_attn.models.create_model` uses) the
layers' clamps are collected and reported together when the model is built.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple

from torch import nn

from hsi_attn.checks import AdjustedSettingWarning
from hsi_attn.layers.cbam import BandCBAM3d, CBAMChannel2d
from hsi_attn.layers.danet import DANetChannel2d, DANetChannel3d
from hsi_attn.layers.eca import BandECA3d, EfficientChannelAttention2d
from hsi_attn.layers.eca_band_conv import BandConvECA3d
from hsi_attn.layers.eca_dual import DualECA3d
from hsi_attn.layers.options import check_channels
from hsi_attn.layers.squeeze_excite import BandSE3d, SqueezeExcite2d, SqueezeExcite3d
from hsi_attn.registry import lookup, make_registry

logger = logging.getLogger(__name__)


class AttentionInfo(NamedTuple):
    """What an attention layer takes and computes, in one line each (``hsi-attn attention``)."""

    input_shape: str
    summary: str


_MAPS_2D, _MAPS_3D = "(N,C,H,W)", "(N,C,D,H,W)"

# name, class, input shape, one-line summary (D is the band axis).
_LAYERS: tuple[tuple[str, type[nn.Module], str, str], ...] = (
    ("none", nn.Identity, "any", "no attention: the input unchanged"),
    ("se", SqueezeExcite2d, _MAPS_2D,
     "Squeeze-and-Excitation: bottleneck MLP on the pooled channels, gate (N,C,1,1)"),
    ("eca", EfficientChannelAttention2d, _MAPS_2D,
     "ECA: size-k 1-D convolution across the pooled channels, gate (N,C,1,1)"),
    ("cbam", CBAMChannel2d, _MAPS_2D,
     "CBAM channel attention: shared MLP on average and max pools, gate (N,C,1,1)"),
    ("danet", DANetChannel2d, _MAPS_2D,
     "DANet channel attention: (N,C,C) channel affinity over the H*W positions"),
    ("se3d", SqueezeExcite3d, _MAPS_3D,
     "SE pooled over D, H, W together: one gate per channel (N,C,1,1,1)"),
    ("se_band", BandSE3d, _MAPS_3D, "SE per band: gate (N,C,D,1,1)"),
    ("eca_band", BandECA3d, _MAPS_3D, "ECA per band: gate (N,C,D,1,1)"),
    ("eca_band_conv", BandConvECA3d, _MAPS_3D,
     "cross-band: Conv1d(C, C, k) along the bands, gate (N,C,D,1,1)"),
    ("eca_dual", DualECA3d, _MAPS_3D,
     "product of a cross-band gate and a global ECA channel gate, (N,C,D,1,1)"),
    ("cbam_band", BandCBAM3d, _MAPS_3D,
     "CBAM channel attention per band: gate (N,C,D,1,1)"),
    ("danet3d", DANetChannel3d, _MAPS_3D,
     "DANet channel attention: (N,C,C) channel affinity over the D*H*W positions"),
)

ATTENTION: dict[str, type[nn.Module]] = make_registry(  # type: ignore[assignment]
    [(name, cls) for name, cls, _, _ in _LAYERS], kind="attention"
)

ATTENTION_INFO: Mapping[str, AttentionInfo] = make_registry(
    [(name, AttentionInfo(shape, summary)) for name, _, shape, summary in _LAYERS],
    kind="attention",
)

SHARED_OPTIONS = frozenset({"reduction", "kernel_size", "gate"})
"""Knobs a caller may pass to any attention; a layer that has no use for one ignores it.

Models and tuners carry one set of attention options whatever the layer is, so a
``reduction`` given to an ECA layer is dropped (and logged at debug level) rather than
rejected; :class:`~hsi_attn.config.ModelConfig` warns when such a setting differs from
its default. Any other unknown keyword is an error.
"""


def list_attention() -> list[str]:
    """Registered attention names, in registry order."""
    return list(ATTENTION)


def attention_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``; ValueError with close matches if unknown."""
    return lookup(ATTENTION, name, kind="attention")


def describe_attention(name: str) -> AttentionInfo:
    """The input shape and one-line summary of the attention ``name``; ValueError if unknown."""
    return lookup(ATTENTION_INFO, name, kind="attention")


def accepted_options(name: str) -> frozenset[str]:
    """The keyword options the attention ``name`` actually uses (e.g. {"reduction", "gate"})."""
    cls = attention_class(name)
    if cls is nn.Identity:
        return frozenset()
    params = inspect.signature(cls.__init__).parameters
    return frozenset(p for p, spec in params.items() if spec.kind is inspect.Parameter.KEYWORD_ONLY)


def attentions_using(option: str) -> list[str]:
    """Registered attention names whose layer takes ``option`` (e.g. ``"reduction"``)."""
    return [name for name in ATTENTION if option in accepted_options(name)]


_Clamp = tuple[str, int, int]
"""(attention name, channels, requested reduction) of a layer whose width was clamped."""

_CLAMPS: ContextVar[list[_Clamp] | None] = ContextVar("hsi_attn_clamped_reductions",
                                                      default=None)


@contextlib.contextmanager
def one_warning_per_model() -> Iterator[None]:
    """Report the clamped reduction ratios of the layers built inside as one warning.

    Without it, every layer built with ``reduction`` larger than its channels warns on
    its own; a model builds many layers, so :func:`hsi_attn.models.create_model` wraps
    the build in this and the user sees one line naming the ratio and the width used.
    """
    token = _CLAMPS.set([])
    try:
        yield
        clamps = _CLAMPS.get() or []
    finally:
        _CLAMPS.reset(token)
    if clamps:  # levels: here, the generator, contextlib's __exit__, the model factory
        _warn_clamped(clamps, stacklevel=5)


def _warn_clamped(clamps: list[_Clamp], *, stacklevel: int) -> None:
    names = sorted({name for name, _, _ in clamps})
    channels = sorted({c for _, c, _ in clamps})
    reductions = sorted({r for _, _, r in clamps})
    layers = "layer" if len(clamps) == 1 else "layers"
    warnings.warn(AdjustedSettingWarning(
        f"reduction={', '.join(map(str, reductions))} is larger than the "
        f"{', '.join(map(str, channels))} channels of {len(clamps)} "
        f"{'/'.join(names)} attention {layers}: the hidden width max(1, C // r) is clamped "
        f"to 1; use a reduction of at most {channels[0]} for a real bottleneck"
    ), stacklevel=stacklevel)


def create_attention(name: str, channels: int, **kwargs: Any) -> nn.Module:
    """Build the attention layer registered as ``name`` for ``channels`` channels.

    Args:
        name: A name from :func:`list_attention` (case-insensitive).
        channels: Number of input channels C.
        **kwargs: Layer options, e.g. ``reduction=8`` or ``kernel_size="adaptive"``.
            Shared options the layer does not use are ignored (see ``SHARED_OPTIONS``).

    Returns:
        The layer; ``nn.Identity()`` for ``"none"``. Its output has the input's shape.

    Raises:
        ValueError: On an unknown name (the message lists close matches), a bad
            channel count or a bad option value.
        TypeError: On an option that is neither used by this layer nor shared.
    """
    cls = attention_class(name)
    check_channels(channels)
    accepted = accepted_options(name)
    unknown = set(kwargs) - accepted - SHARED_OPTIONS
    if unknown:
        raise TypeError(
            f"attention {name!r} got unexpected option(s) {sorted(unknown)}; it accepts "
            f"{sorted(accepted) or 'no options'}"
        )
    used = {key: value for key, value in kwargs.items() if key in accepted}
    ignored = sorted(set(kwargs) - set(used))
    if ignored:
        logger.debug("attention %r ignores option(s) %s", name, ignored)
    if cls is nn.Identity:
        return nn.Identity()
    layer = cls(channels, **used)
    reduction = used.get("reduction")
    if reduction is not None and reduction > channels:
        _note_clamp((name.strip().lower(), channels, reduction))
    return layer


def _note_clamp(clamp: _Clamp) -> None:
    collected = _CLAMPS.get()
    if collected is None:
        _warn_clamped([clamp], stacklevel=4)
    else:
        collected.append(clamp)
