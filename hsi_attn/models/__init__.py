"""Patch classifiers for hyperspectral cubes and their registry.

Every model maps patches ``(N, 1, B, p, p)`` (bands as the 3-D depth) to logits
``(N, K)``. Build them by name with :func:`create_model`. Families that are
:class:`DenseCapable` also have fully-convolutional twins that compute a whole scene in
one pass, exactly equal to per-patch prediction (:mod:`hsi_attn.models.dense`).
"""

from hsi_attn.models.dense import (
    DenseCapable,
    DenseTwin,
    PositionwiseHead,
    WindowAveragedNet,
    fold_batch_norm,
)
from hsi_attn.models.hamida3d import Hamida3d
from hsi_attn.models.hybridsn import HybridSN
from hsi_attn.models.profile import count_parameters, dense_profile, forward_flops, profile
from hsi_attn.models.registry import MODELS, create_model, list_models, model_class
from hsi_attn.models.resnet3d import ResNet3d

__all__ = [
    "MODELS",
    "DenseCapable",
    "DenseTwin",
    "Hamida3d",
    "HybridSN",
    "PositionwiseHead",
    "ResNet3d",
    "WindowAveragedNet",
    "count_parameters",
    "create_model",
    "dense_profile",
    "fold_batch_norm",
    "forward_flops",
    "list_models",
    "model_class",
    "profile",
]
