"""The model registry: one table from family name to class, and its factory.

Every family takes the same constructor contract, ``(n_bands, n_classes, *,
patch_size, attention, attention_kwargs)``, so :func:`create_model` builds any of them
by name; family-specific knobs keep their defaults. Each row of the table also says, as
data, what the family takes and what it is (:func:`describe_model`, ``hsi-attn models``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from torch import nn

from hsi_attn.layers import one_warning_per_model
from hsi_attn.models.hamida3d import Hamida3d
from hsi_attn.models.hybridsn import HybridSN
from hsi_attn.models.resnet3d import ResNet3d
from hsi_attn.registry import lookup, make_registry


class ModelInfo(NamedTuple):
    """What a model family takes and what it is, in one line each (``hsi-attn models``)."""

    input_shape: str
    summary: str


_PATCHES = "(N,1,B,p,p)"

# name, class, input shape, one-line summary; the flagship first.
_FAMILIES: tuple[tuple[str, type[nn.Module], str, str], ...] = (
    ("resnet3d", ResNet3d, _PATCHES,
     "spectral-spatial residual 3-D CNN (SSRN-like), attention in every spectral block; "
     "exact dense twin"),
    ("hamida3d", Hamida3d, _PATCHES,
     "Ben Hamida et al.'s 3-D CNN, attention after its last spectral convolution; "
     "exact dense twin"),
    ("hybridsn", HybridSN, _PATCHES,
     "HybridSN: 3-D then 2-D convolutions, attention after the 3-D stage; patch-only "
     "(B >= 16, p >= 9)"),
)

MODELS: Mapping[str, type[nn.Module]] = make_registry(
    [(name, cls) for name, cls, _, _ in _FAMILIES], kind="model"
)

MODEL_INFO: Mapping[str, ModelInfo] = make_registry(
    [(name, ModelInfo(shape, summary)) for name, _, shape, summary in _FAMILIES], kind="model"
)


def list_models() -> list[str]:
    """Registered model family names, the flagship first."""
    return list(MODELS)


def model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``; ValueError with close matches if unknown."""
    return lookup(MODELS, name, kind="model")


def describe_model(name: str) -> ModelInfo:
    """The input shape and one-line summary of the family ``name``; ValueError if unknown."""
    return lookup(MODEL_INFO, name, kind="model")


def create_model(
    name: str,
    *,
    n_bands: int,
    n_classes: int,
    patch_size: int,
    attention: str = "none",
    attention_kwargs: dict[str, Any] | None = None,
) -> nn.Module:
    """Build the model family registered as ``name``.

    Args:
        name: A name from :func:`list_models` (case-insensitive).
        n_bands: Number of input bands B (after any PCA).
        n_classes: Number of classes K.
        patch_size: Odd spatial window side p; inputs are ``(N, 1, B, p, p)``.
        attention: A registered 3-D attention name (see ``hsi-attn attention``).
        attention_kwargs: Attention options (``reduction``, ``kernel_size``, ``gate``).

    Returns:
        The model, mapping ``(N, 1, B, p, p)`` patches to logits ``(N, K)``. Families
        with an exact one-pass full-scene form are instances of
        :class:`hsi_attn.models.DenseCapable`.

    Raises:
        ValueError: On an unknown model or attention name (with close matches), a patch
            size or band count the family cannot take, or a bad attention option.
    """
    cls = model_class(name)
    with one_warning_per_model():  # a clamped reduction is reported once, not per layer
        return cls(
            n_bands,
            n_classes,
            patch_size=patch_size,
            attention=attention,
            attention_kwargs=attention_kwargs,
        )
