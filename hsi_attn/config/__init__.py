"""Frozen configuration objects: the one source of defaults.

The CLI, the scikit-learn estimator, the Optuna tuner and the experiment runner all
build these same objects and trust them; JSON is only how they are saved
(``config.json`` in a run directory). :func:`from_dict` rejects unknown keys with a
suggestion, so a typo in a saved or hand-written config is an error rather than a
silently ignored setting.

Each object checks itself when constructed: every field with the check in its metadata
(ranges, odd sizes, choices; :mod:`hsi_attn.checks`), model and attention names against
their registries (imported only then, so importing this module stays cheap). A bad value
is a ValueError whose one line names the field and its flag, the value and what is
accepted. A setting the chosen component ignores is kept but warned about
(:class:`IgnoredSettingWarning`). Checks that need the data (a patch against the image,
the memory a run needs, a single class) are made where the data is loaded
(:mod:`hsi_attn.run.prepare`). Scene names are checked there too, because a
configuration may describe a scene of your own, passed as a
:class:`~hsi_attn.data.Scene`, under any name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hsi_attn.checks import (
    AdjustedSettingWarning,
    IgnoredSettingWarning,
    SettingWarning,
    check_device,
    check_fraction_or_count,
    check_int,
    check_odd_int,
    check_patch_size,
    check_real,
    check_split,
    check_text,
)
from hsi_attn.config.settings import (
    VALUE_KINDS,
    check_fields,
    check_setting,
    default_of,
    field_of,
    from_dict,
    reject_unknown,
    setting,
    setting_flag,
    setting_label,
    warn_ignored,
)

__all__ = [
    "VALUE_KINDS",
    "AdjustedSettingWarning",
    "check_setting",
    "DataConfig",
    "IgnoredSettingWarning",
    "ModelConfig",
    "RunConfig",
    "SettingWarning",
    "TrainConfig",
    "from_dict",
    "setting",
    "setting_flag",
    "setting_label",
]

_at_least_1 = partial(check_int, minimum=1)


@dataclass(frozen=True)
class DataConfig:
    """Which scene, how it is split and how it is preprocessed.

    Attributes:
        scene: Registered scene name (see ``hsi-attn scenes``).
        split: ``"random"`` (stratified per class), ``"disjoint"`` (spatial blocks
            with a guard band, no patch overlap between sets), or ``"fixed"`` /
            ``"fixed:NAME"``: a fixed split from the literature that the scene's manifest
            lists (its training and test maps; validation is carved out of the training
            map spatially, and ``train_size`` is not used).
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
        cube_path: Your own cube file (ENVI .hdr, GeoTIFF, .mat, .npy, .npz) used
            instead of the registered ``scene``; None for a registered scene.
        gt_path: Ground-truth file for ``cube_path``: any integer codes (sparse codes
            such as 1, 10, 12 make three classes), ``ignore_label`` for unlabelled.
        cube_variable: Array name inside ``cube_path`` when it holds several.
        gt_variable: Array name inside ``gt_path`` when it holds several.
        class_names_path: JSON (``{"12": "corn"}``) or CSV (``code,name``) file naming
            the codes of ``gt_path``; default the ENVI header's class names, else the
            codes themselves.
        ignore_label: The code of unlabelled pixels in ``gt_path``.
        split_guard: The disjoint split's guard band in pixels; None for
            ``patch_size // 2``, the least that keeps patches apart. Fix it to compare
            patch sizes on the same test pixels.
    """

    scene: str = setting("indian_pines", kind="str", help="scene name (see hsi-attn scenes); "
                         "with --cube, the name given to your cube (default: its file stem)",
                         check=check_text)
    split: str = setting("random", kind="str",
                         help="random per class, disjoint (spatial blocks), or fixed / "
                              "fixed:NAME (the scene's fixed split from the literature)",
                         check=check_split)
    train_size: float | int = setting(0.1, kind="fraction_or_count",
                                      help="training fraction (0.1) or count (20) per class",
                                      check=check_fraction_or_count)
    val_size: float | int = setting(0.05, kind="fraction_or_count",
                                    help="validation fraction or count per class (early "
                                         "stopping and tuning trials are scored on it)",
                                    check=partial(check_fraction_or_count, allow_zero=True))
    normalization: str = setting("standard", kind="str", choices=("standard", "minmax", "none"),
                                 help="per-band scaling, fitted on training pixels")
    pca: int | None = setting(30, kind="int_or_none", help="PCA components or 'none'",
                              check=partial(check_int, none="all bands"))
    pad_mode: str = setting("reflect", kind="str", choices=("reflect", "symmetric"),
                            help="how the cube's borders are padded for full patches")
    cube_path: str | None = setting(None, kind="path", flag="--cube",
                                    help="your own cube file instead of a registered scene")
    gt_path: str | None = setting(None, kind="path", flag="--gt",
                                  help="ground truth for --cube: integer class codes, "
                                       "--ignore-label for unlabelled pixels")
    cube_variable: str | None = setting(None, kind="str", help="array name inside --cube")
    gt_variable: str | None = setting(None, kind="str", help="array name inside --gt")
    class_names_path: str | None = setting(None, kind="path", flag="--class-names",
                                           help="JSON or CSV file of code,name for the "
                                                "codes of --gt")
    ignore_label: int = setting(0, kind="int", help="the code of unlabelled pixels in --gt",
                                check=partial(check_int, minimum=-(2**31)))
    split_guard: int | None = setting(None, kind="int_or_none",
                                      help="disjoint split: guard band in pixels (default "
                                           "patch_size // 2, the least allowed)",
                                      check=partial(check_int, minimum=0,
                                                    none="patch_size // 2"))

    def __post_init__(self) -> None:
        check_fields(self)
        if self.cube_path is None:
            for name in ("gt_path", "cube_variable", "gt_variable", "class_names_path"):
                if getattr(self, name) is not None:
                    warn_ignored(self, name, "it only applies to your own cube (--cube FILE)")
            if self.ignore_label != default_of(DataConfig, "ignore_label"):
                warn_ignored(self, "ignore_label",
                              "it only applies to your own cube (--cube FILE)")
        if self.split.startswith("fixed") and self.train_size != default_of(DataConfig,
                                                                           "train_size"):
            warn_ignored(self, "train_size", f"split {self.split!r} trains on the pixels of "
                          "its fixed training map")
        if self.split_guard is not None and self.split != "disjoint":
            warn_ignored(self, "split_guard", f"split {self.split!r} has no guard band (only "
                         "the disjoint split has)")


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
                        help="model family (see hsi-attn models)", check=check_text)
    attention: str = setting("eca_band", kind="str", searched=True,
                             help="attention (see hsi-attn attention)", check=check_text)
    reduction: int = setting(4, kind="int", searched=True, help="SE-family reduction ratio",
                             check=_at_least_1)
    kernel_size: int | str = setting("adaptive", kind="int_or_adaptive", searched=True,
                                     help="ECA-family kernel size or 'adaptive'",
                                     check=partial(check_odd_int, word="adaptive",
                                                   why="the descriptor stays centred"))
    patch_size: int = setting(11, kind="int", searched=True, help="odd spatial window side",
                              check=check_patch_size)

    def __post_init__(self) -> None:
        check_fields(self)
        if all(getattr(self, name) == default_of(ModelConfig, name)
               for name in ("name", "attention", *self.attention_kwargs())):
            return  # the defaults are registered and fit together (tests/test_config.py)
        self._check_names()

    def _check_names(self) -> None:
        from hsi_attn.layers import ATTENTION, accepted_options, attentions_using
        from hsi_attn.models import MODELS
        from hsi_attn.models.checks import check_3d_attention, three_d_attention_names
        from hsi_attn.registry import lookup

        for name, registry, kind in (("name", MODELS, "model"), ("attention", ATTENTION,
                                                                  "attention")):
            try:
                lookup(registry, getattr(self, name), kind=kind)
            except ValueError as error:
                raise ValueError(f"{setting_label(field_of(self, name))}: {error}") from None
            object.__setattr__(self, name, getattr(self, name).strip().lower())
        try:
            check_3d_attention(self.attention, model=self.name)
        except ValueError as error:
            raise ValueError(f"{setting_label(field_of(self, 'attention'))}: {error}") from None
        used = accepted_options(self.attention)
        for option, value in self.attention_kwargs().items():
            if option not in used and value != default_of(ModelConfig, option):
                users = [a for a in attentions_using(option) if a in three_d_attention_names()]
                warn_ignored(self, option, f"attention {self.attention!r} has no {option} "
                                            f"(it is used by {', '.join(users)})")

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
        spectral_augment: Strength of the spectral augmentation of training patches
            (:mod:`hsi_attn.data.spectral_jitter`: brightness and per-band gain, offset,
            noise): 0 off, 1 the default strengths.
        mixup: Mixup of training patches (:mod:`hsi_attn.data.mixup`): the ``alpha`` of
            the Beta distribution that mixes each batch with a shuffled copy of itself,
            labels included; 0 off.
        tta: Test-time augmentation: the test map is the average over the 8 flips and
            quarter turns of the scene (:mod:`hsi_attn.inference.tta`), 8x the cost.
        self_training_rounds: Rounds of self-training after the first fit
            (:mod:`hsi_attn.run.self_training`): each round predicts the scene, gives the
            confident pixels of the pool their predicted class, and fine-tunes on the
            training pixels plus those; 0 off.
        self_training_epochs: Epochs of each self-training round (a fresh schedule at
            ``lr``; the round's best validation epoch is kept).
        pseudo_label_threshold: Smallest predicted probability for a pixel to get a
            pseudo-label.
        pseudo_labels_per_class: At most this many pseudo-labels per class (the most
            confident first), so the largest classes do not swamp the training pixels;
            None for all.
        pseudo_label_pool: The pixels that may get pseudo-labels: ``"unlabelled"``, those
            without a label in the ground truth (so never a test pixel), or ``"scene"``,
            every pixel outside the training and validation sets, test pixels included
            (their labels are never read, but their spectra shape the model: a
            transductive protocol, to be reported as such).
        sync_batch_norm: Under torchrun on GPUs, batch norm over the global batch. Off:
            a process's share (32 of 64 with two) is enough, and syncing costs a
            collective per batch-norm layer per step.
    """

    epochs: int = setting(100, kind="int", help="maximum epochs", check=_at_least_1)
    batch_size: int = setting(64, kind="int", help="training batch size", check=_at_least_1)
    lr: float = setting(3e-3, kind="float", searched=True, help="peak learning rate",
                        check=partial(check_real, above=0))
    weight_decay: float = setting(1e-4, kind="float", searched=True, help="weight decay",
                                  check=partial(check_real, at_least=0))
    optimizer: str = setting("adamw", kind="str", choices=("adamw", "adam", "sgd"),
                             help="optimiser")
    scheduler: str = setting("cosine", kind="str", choices=("cosine", "onecycle", "step", "none"),
                             help="learning-rate schedule")
    grad_clip: float | None = setting(5.0, kind="float_or_none",
                                      help="max gradient norm or 'none'",
                                      check=partial(check_real, above=0, none="no clipping"))
    class_weights: bool = setting(False, kind="bool", help="inverse-frequency loss weights")
    label_smoothing: float = setting(0.0, kind="float", help="label smoothing in [0, 1)",
                                     check=partial(check_real, at_least=0, below=1))
    patience: int | None = setting(None, kind="int_or_none",
                                   help="early-stopping patience or 'none'",
                                   check=partial(check_int, none="no early stopping"))
    precision: str = setting("auto", kind="str", choices=("auto", "fp32", "bf16", "fp16"),
                             may_change_on_resume=True, help="autocast precision")
    compile: bool = setting(False, kind="bool", may_change_on_resume=True,
                            help="wrap the model in torch.compile")
    device: str = setting("auto", kind="str", may_change_on_resume=True,
                          help="auto, cpu, cuda, cuda:N or mps",
                          check=check_device)
    seed: int = setting(0, kind="int", help="random seed (split, weights, data order)",
                        check=partial(check_int, minimum=0))
    eval_batch_size: int = setting(512, kind="int", may_change_on_resume=True,
                                   help="batch size for validation and prediction",
                                   check=_at_least_1)
    augment: bool = setting(True, kind="bool",
                            help="random flips/rotations of training patches")
    spectral_augment: float = setting(0.0, kind="float", help="spectral augmentation "
                                      "strength (0 off, 1 default gains/offsets/noise)",
                                      check=partial(check_real, at_least=0))
    mixup: float = setting(0.0, kind="float", help="mixup alpha: mix pairs of training "
                           "patches and their labels (0 off; 0.2-1 typical)",
                           check=partial(check_real, at_least=0))
    tta: bool = setting(False, kind="bool", may_change_on_resume=True,
                        help="average the test map over the 8 flips/rotations")
    self_training_rounds: int = setting(0, kind="int", help="rounds of self-training on "
                                        "confident pseudo-labels after the first fit (0 off)",
                                        check=partial(check_int, minimum=0))
    self_training_epochs: int = setting(30, kind="int", help="epochs of each self-training "
                                        "round", check=_at_least_1)
    pseudo_label_threshold: float = setting(0.95, kind="float", help="smallest predicted "
                                            "probability that earns a pseudo-label",
                                            check=partial(check_real, above=0, below=1))
    pseudo_labels_per_class: int | None = setting(
        200, kind="int_or_none", help="most pseudo-labels per class (most confident first) "
        "or 'none'", check=partial(check_int, none="no limit"))
    pseudo_label_pool: str = setting("unlabelled", kind="str", choices=("unlabelled", "scene"),
                                     help="pixels that may get pseudo-labels: unlabelled "
                                          "ones, or the whole scene outside training and "
                                          "validation (transductive)")
    sync_batch_norm: bool = setting(False, kind="bool", help="under torchrun on GPUs: batch "
                                    "norm over the global batch, not each process's share")

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.self_training_rounds:
            for option in _SELF_TRAINING_OPTIONS:
                if getattr(self, option) != default_of(TrainConfig, option):
                    warn_ignored(self, option, "self_training_rounds is 0 (no self-training)")


_SELF_TRAINING_OPTIONS = ("self_training_epochs", "pseudo_label_threshold",
                          "pseudo_labels_per_class", "pseudo_label_pool")
"""The settings that only matter when ``self_training_rounds`` is positive."""


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        for name, cls in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"RunConfig.{name} must be a {cls.__name__}, got "
                                 f"{type(getattr(self, name)).__name__}")

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
        reject_unknown(cls, data)
        return cls(
            data=from_dict(DataConfig, data.get("data", {})),
            model=from_dict(ModelConfig, data.get("model", {})),
            train=from_dict(TrainConfig, data.get("train", {})),
        )
