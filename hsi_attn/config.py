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
import difflib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, TypeVar

from hsi_attn.checks import (
    AdjustedSettingWarning,
    IgnoredSettingWarning,
    SettingWarning,
    check_bool,
    check_choice,
    check_device,
    check_fraction_or_count,
    check_int,
    check_odd_int,
    check_patch_size,
    check_real,
    check_text,
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

C = TypeVar("C")
Check = Callable[[Any, str], Any]
"""A field check: ``(value, label) -> canonical value``, ValueError naming ``label`` if bad."""


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
    check: Check | None = None,
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
        check: How the value is checked when the configuration is constructed
            (:data:`Check`). Default: the ``choices`` if given, else by ``kind``
            (a non-empty string, a path, a bool).
    """
    if kind not in VALUE_KINDS:
        raise ValueError(f"unknown setting kind {kind!r}; accepted: {', '.join(VALUE_KINDS)}")
    if check is None:
        check = (partial(check_choice, choices=choices) if choices is not None
                 else _DEFAULT_CHECKS.get(kind, _optional(check_text)))
    metadata = {"help": help, "kind": kind, "flag": flag, "choices": choices,
                "searched": searched, "may_change_on_resume": may_change_on_resume,
                "check": check}
    return field(default=default, metadata=metadata)


def setting_flag(item: dataclasses.Field[Any]) -> str:
    """The command-line flag of a setting: its metadata's, else ``--`` + the dashed name."""
    return item.metadata.get("flag") or "--" + item.name.replace("_", "-")


def setting_label(item: dataclasses.Field[Any]) -> str:
    """How messages name a setting: its field and flag, e.g. ``batch_size (--batch-size)``."""
    return f"{item.name} ({setting_flag(item)})"


def _optional(check: Callable[..., Any]) -> Check:
    """``check`` for a value that may also be None."""
    return lambda value, label: None if value is None else check(value, label)


def _path(value: Any, name: str) -> str:
    return check_text(os.fspath(value) if isinstance(value, os.PathLike) else value, name)


_DEFAULT_CHECKS: dict[str, Check] = {"bool": check_bool, "path": _optional(_path)}
_at_least_1 = partial(check_int, minimum=1)


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
                         "with --cube, the name given to your cube (default: its file stem)",
                         check=check_text)
    split: str = setting("random", kind="str", choices=("random", "disjoint"),
                         help="random per class, or spatially disjoint blocks")
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
                                  help="ground truth for --cube (0 = unlabelled)")
    cube_variable: str | None = setting(None, kind="str", help="array name inside --cube")
    gt_variable: str | None = setting(None, kind="str", help="array name inside --gt")

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.cube_path is None:
            for name in ("gt_path", "cube_variable", "gt_variable"):
                if getattr(self, name) is not None:
                    _warn_ignored(self, name, "it only applies to your own cube (--cube FILE)")


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
        _check_fields(self)
        if all(getattr(self, name) == _default(ModelConfig, name)
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
                raise ValueError(f"{setting_label(_field(self, name))}: {error}") from None
            object.__setattr__(self, name, getattr(self, name).strip().lower())
        try:
            check_3d_attention(self.attention, model=self.name)
        except ValueError as error:
            raise ValueError(f"{setting_label(_field(self, 'attention'))}: {error}") from None
        used = accepted_options(self.attention)
        for option, value in self.attention_kwargs().items():
            if option not in used and value != _default(ModelConfig, option):
                users = [a for a in attentions_using(option) if a in three_d_attention_names()]
                _warn_ignored(self, option, f"attention {self.attention!r} has no {option} "
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
    sync_batch_norm: bool = setting(False, kind="bool", help="under torchrun on GPUs: batch "
                                    "norm over the global batch, not each process's share")

    def __post_init__(self) -> None:
        _check_fields(self)


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
        _reject_unknown(cls, data)
        return cls(
            data=from_dict(DataConfig, data.get("data", {})),
            model=from_dict(ModelConfig, data.get("model", {})),
            train=from_dict(TrainConfig, data.get("train", {})),
        )


def check_setting(cls: type, name: str, value: Any) -> Any:
    """Check one ``value`` for the setting ``name`` of ``cls`` as the constructor would.

    For callers that hold candidate values rather than a whole configuration (the
    tuner's search space). Only the field's own check runs; names against registries
    and the warnings need the whole object.

    Returns:
        The value in its canonical form.

    Raises:
        ValueError: With the same message the constructor gives.
    """
    item = _field(cls, name)
    return item.metadata["check"](value, setting_label(item))


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


def _field(config: object, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(config) if f.name == name)  # type: ignore[arg-type]


@cache
def _default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _check_fields(config: object) -> None:
    """Check every field of ``config`` with its metadata's check; store canonical values."""
    for item in dataclasses.fields(config):  # type: ignore[arg-type]
        value = item.metadata["check"](getattr(config, item.name), setting_label(item))
        object.__setattr__(config, item.name, value)


def _warn_ignored(config: object, name: str, why: str) -> None:
    """Warn that setting ``name`` is ignored, pointing at the code that built ``config``."""
    flag = setting_flag(_field(config, name))
    warnings.warn(IgnoredSettingWarning(f"{name}={getattr(config, name)!r} ({flag}) is ignored: "
                                        f"{why}"), stacklevel=_outside_this_module())


def _outside_this_module() -> int:
    """The stacklevel of the first caller outside this module and ``dataclasses``.

    Skips the dataclass ``__init__`` (run with this module's globals) and
    ``dataclasses.replace``, so the warning names the user's line.
    """
    frame, level = sys._getframe(2), 2  # the caller of _warn_ignored is level 2
    while frame is not None and frame.f_globals.get("__name__") in (__name__, "dataclasses"):
        frame, level = frame.f_back, level + 1
    return level
