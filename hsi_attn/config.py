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


VALUE_KINDS = ("str", "int", "float", "bool", "path", "fraction_or_count", "int_or_none",
               "int_or_adaptive", "float_or_none")
"""How a setting's value is written as text (the command line parses each kind its own way)."""


def setting(
    default: Any,
    *,
    help: str,
    kind: str,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    searched: bool = False,
    may_change_on_resume: bool = False,
) -> Any:
    """A configuration field with the metadata every face of the package reads.

    Args:
        default: The one default of the setting.
        help: One line for ``--help`` and the docs (the default is appended by the CLI).
        kind: How the value is written as text, one of :data:`VALUE_KINDS`.
        flag: The command-line flag (default ``--`` + the field name with dashes).
        choices: The accepted words, for settings that take one of a few.
        searched: The Optuna tuner searches this setting (``hsi-attn tune`` takes it as a
            search-space option, not a fixed setting).
        may_change_on_resume: Where and how fast a run computes, not what it computes:
            may differ between a run and its resumption, and between the workers of
            one study.
    """
    if kind not in VALUE_KINDS:
        raise ValueError(f"unknown setting kind {kind!r}; accepted: {', '.join(VALUE_KINDS)}")
    metadata = {"help": help, "kind": kind, "flag": flag, "choices": choices,
                "searched": searched, "may_change_on_resume": may_change_on_resume}
    return field(default=default, metadata=metadata)


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

    scene: str = setting("indian_pines", kind="str", help="scene name (see hsi-attn scenes); "
                         "with --cube, the name given to your cube")
    split: str = setting("random", kind="str", choices=("random", "disjoint"),
                         help="random per class, or spatially disjoint blocks")
    train_size: float | int = setting(0.1, kind="fraction_or_count",
                                      help="training fraction (0.1) or count (20) per class")
    val_size: float | int = setting(0.05, kind="fraction_or_count",
                                    help="validation fraction or count per class (early "
                                         "stopping and tuning trials are scored on it)")
    normalization: str = setting("standard", kind="str", choices=("standard", "minmax", "none"),
                                 help="per-band scaling, fitted on training pixels")
    pca: int | None = setting(30, kind="int_or_none", help="PCA components or 'none'")
    pad_mode: str = setting("reflect", kind="str", choices=("reflect", "symmetric"),
                            help="how the cube's borders are padded for full patches")
    cube_path: str | None = setting(None, kind="path", flag="--cube",
                                    help="your own cube file instead of a registered scene")
    gt_path: str | None = setting(None, kind="path", flag="--gt",
                                  help="ground truth for --cube (0 = unlabelled)")
    cube_variable: str | None = setting(None, kind="str", help="array name inside --cube")
    gt_variable: str | None = setting(None, kind="str", help="array name inside --gt")


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

    name: str = setting("resnet3d", kind="str", flag="--model",
                        help="model family (see hsi-attn models)")
    attention: str = setting("eca_band", kind="str", searched=True,
                             help="attention (see hsi-attn attention)")
    reduction: int = setting(4, kind="int", searched=True, help="SE-family reduction ratio")
    kernel_size: int | str = setting("adaptive", kind="int_or_adaptive", searched=True,
                                     help="ECA-family kernel size or 'adaptive'")
    patch_size: int = setting(11, kind="int", searched=True, help="odd spatial window side")

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

    epochs: int = setting(100, kind="int", help="maximum epochs")
    batch_size: int = setting(64, kind="int", help="training batch size")
    lr: float = setting(3e-3, kind="float", searched=True, help="peak learning rate")
    weight_decay: float = setting(1e-4, kind="float", searched=True, help="weight decay")
    optimizer: str = setting("adamw", kind="str", choices=("adamw", "adam", "sgd"),
                             help="optimiser")
    scheduler: str = setting("cosine", kind="str", choices=("cosine", "onecycle", "step", "none"),
                             help="learning-rate schedule")
    grad_clip: float | None = setting(5.0, kind="float_or_none",
                                      help="max gradient norm or 'none'")
    class_weights: bool = setting(False, kind="bool", help="inverse-frequency loss weights")
    label_smoothing: float = setting(0.0, kind="float", help="label smoothing in [0, 1)")
    patience: int | None = setting(None, kind="int_or_none",
                                   help="early-stopping patience or 'none'")
    precision: str = setting("auto", kind="str", choices=("auto", "fp32", "bf16", "fp16"),
                             may_change_on_resume=True, help="autocast precision")
    compile: bool = setting(False, kind="bool", may_change_on_resume=True,
                            help="wrap the model in torch.compile")
    device: str = setting("auto", kind="str", may_change_on_resume=True,
                          help="auto, cpu, cuda, cuda:N or mps")
    seed: int = setting(0, kind="int", help="random seed (split, weights, data order)")
    eval_batch_size: int = setting(512, kind="int", may_change_on_resume=True,
                                   help="batch size for validation and prediction")
    augment: bool = setting(True, kind="bool",
                            help="random flips/rotations of training patches")


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, JSON-serialisable."""
        return dataclasses.asdict(self)

    def without_resumable(self) -> dict[str, Any]:
        """:meth:`to_dict` without the settings that may change on resume.

        What a run (or a study) computes: two configurations with equal results here
        compute the same thing, wherever and however fast they run.
        """
        out = self.to_dict()
        for section in ("data", "model", "train"):
            for item in dataclasses.fields(getattr(self, section)):
                if item.metadata.get("may_change_on_resume"):
                    del out[section][item.name]
        return out

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
