"""Frozen configuration objects: the one source of defaults.

The CLI, the scikit-learn estimator, the Optuna tuner and the experiment runner all
build these same objects; JSON is only how they are saved (``config.json`` in a run
directory). :func:`from_dict` rejects unknown keys with a suggestion, so a typo in a
saved or hand-written config is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, TypeVar

C = TypeVar("C")


@dataclass(frozen=True)
class DataConfig:
    """Which scene, how it is split and how it is preprocessed.

    Attributes:
        scene: Registered scene name (see ``hsi-attn scenes``).
        split: ``"random"`` (stratified per class) or ``"disjoint"`` (spatial blocks
            with a guard band, no patch overlap between sets).
        train_size: Fraction per class in (0, 1), or an int count per class.
        val_size: Fraction (or count) per class held out for early stopping; never the
            test set.
        normalization: ``"standard"``, ``"minmax"`` or ``"none"``; fitted on training
            pixels only.
        pca: Number of PCA components fitted on training pixels, or None for all bands.
            The default 30 keeps the main job (``hsi-attn train``) within its 10-minute
            budget on a 2-core CPU (30 components keep ~99 % of Indian Pines' variance).
        pad_mode: How the cube is padded so border pixels get full patches
            (``"reflect"`` or ``"symmetric"``).
        cube_path: Your own cube file (.mat, ENVI .hdr, .npy, .npz) used instead of the
            registered ``scene``; None for a registered scene.
        gt_path: Ground-truth file for ``cube_path`` (0 = unlabelled).
        cube_variable: Array name inside ``cube_path`` when it holds several.
        gt_variable: Array name inside ``gt_path`` when it holds several.
    """

    scene: str = "indian_pines"
    split: str = "random"
    train_size: float | int = 0.1
    val_size: float | int = 0.05
    normalization: str = "standard"
    pca: int | None = 30
    pad_mode: str = "reflect"
    cube_path: str | None = None
    gt_path: str | None = None
    cube_variable: str | None = None
    gt_variable: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Which network and which attention.

    Attributes:
        name: Registered model family (see ``hsi-attn models``).
        attention: Registered attention name (see ``hsi-attn attention``).
        reduction: SE-family reduction ratio r (hidden width ``max(1, C // r)``).
        kernel_size: ECA-family kernel size (odd int) or ``"adaptive"``.
        patch_size: Odd spatial window side p; inputs are ``(N, 1, B, p, p)``.
    """

    name: str = "resnet3d"
    attention: str = "eca_band"
    reduction: int = 4
    kernel_size: int | str = "adaptive"
    patch_size: int = 11

    def attention_kwargs(self) -> dict[str, Any]:
        """Keyword options for :func:`hsi_attn.layers.create_attention`."""
        return {"reduction": self.reduction, "kernel_size": self.kernel_size}


@dataclass(frozen=True)
class TrainConfig:
    """How the network is optimised.

    Attributes:
        epochs: Maximum number of epochs.
        batch_size: Training batch size.
        lr: Peak learning rate.
        weight_decay: Decoupled weight decay (AdamW) or L2 (SGD).
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"``.
        scheduler: ``"cosine"``, ``"onecycle"``, ``"step"`` or ``"none"``.
        grad_clip: Max gradient norm, or None for no clipping.
        class_weights: Weight the loss by inverse class frequency.
        label_smoothing: Cross-entropy label smoothing.
        patience: Early-stopping patience in epochs on validation OA (None: off).
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast).
        compile: Wrap the model in ``torch.compile``.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        seed: Seeds python, numpy, torch and the data order.
        eval_batch_size: Batch size for validation and full-scene prediction.
        augment: Random flips and 90-degree rotations of each training patch, drawn
            from the seeded data-order generator.
    """

    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    scheduler: str = "cosine"
    grad_clip: float | None = 5.0
    class_weights: bool = False
    label_smoothing: float = 0.0
    patience: int | None = None
    precision: str = "auto"
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    eval_batch_size: int = 512
    augment: bool = True


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, JSON-serialisable."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys raise ValueError."""
        _reject_unknown(cls, data)
        return cls(
            data=from_dict(DataConfig, data.get("data", {})),
            model=from_dict(ModelConfig, data.get("model", {})),
            train=from_dict(TrainConfig, data.get("train", {})),
        )


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build the flat dataclass ``cls`` from ``data``, rejecting unknown keys.

    Args:
        cls: A frozen config dataclass.
        data: Field values; missing ones take the dataclass defaults.

    Raises:
        ValueError: On a key that is not a field of ``cls`` (with close matches).
    """
    _reject_unknown(cls, data)
    return cls(**data)


def _reject_unknown(cls: type, data: dict[str, Any]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} expects a mapping, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=2)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"unknown {cls.__name__} key {key!r}.{hint} Accepted keys: {', '.join(names)}."
            )
