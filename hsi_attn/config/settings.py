"""How a configuration field carries its metadata, and the helpers every section shares.

A setting is a dataclass field made by :func:`setting`: its default plus the metadata
that every face of the package reads (the help line, how its value is written as text,
its command-line flag, its choices, whether the tuner searches it, whether it may change
on resume, and its check). The configuration sections (:mod:`hsi_attn.config`) are
built from settings; :func:`check_fields` runs every field's check when a section is
constructed, :func:`warn_ignored` warns about a setting the chosen component ignores,
and :func:`from_dict` rebuilds a section from JSON, rejecting unknown keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import field
from functools import cache, partial
from typing import Any, TypeVar

from hsi_attn.checks import IgnoredSettingWarning, check_bool, check_choice, check_text

__all__ = [
    "DEFAULT_CHECKS",
    "VALUE_KINDS",
    "Check",
    "check_fields",
    "check_setting",
    "default_of",
    "field_of",
    "from_dict",
    "optional",
    "reject_unknown",
    "setting",
    "setting_flag",
    "setting_label",
    "warn_ignored",
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
                 else DEFAULT_CHECKS.get(kind, optional(check_text)))
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


def optional(check: Callable[..., Any]) -> Check:
    """``check`` for a value that may also be None."""
    return lambda value, label: None if value is None else check(value, label)


def _path(value: Any, name: str) -> str:
    return check_text(os.fspath(value) if isinstance(value, os.PathLike) else value, name)


DEFAULT_CHECKS: dict[str, Check] = {"bool": check_bool, "path": optional(_path)}


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
    item = field_of(cls, name)
    return item.metadata["check"](value, setting_label(item))


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build the flat dataclass ``cls`` from ``data``, rejecting unknown keys.

    Args:
        cls: A frozen config dataclass.
        data: Field values; missing ones take the dataclass defaults.

    Raises:
        ValueError: On a key that is not a field of ``cls`` (with close matches).
    """
    reject_unknown(cls, data)
    return cls(**data)


def reject_unknown(cls: type, data: dict[str, Any]) -> None:
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


def field_of(config: object, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(config) if f.name == name)  # type: ignore[arg-type]


@cache
def default_of(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def check_fields(config: object) -> None:
    """Check every field of ``config`` with its metadata's check; store canonical values."""
    for item in dataclasses.fields(config):  # type: ignore[arg-type]
        value = item.metadata["check"](getattr(config, item.name), setting_label(item))
        object.__setattr__(config, item.name, value)


def warn_ignored(config: object, name: str, why: str) -> None:
    """Warn that setting ``name`` is ignored, pointing at the code that built ``config``."""
    flag = setting_flag(field_of(config, name))
    warnings.warn(IgnoredSettingWarning(f"{name}={getattr(config, name)!r} ({flag}) is ignored: "
                                        f"{why}"), stacklevel=_outside_this_module())


_CONFIG_MODULES = ("hsi_attn.config", __name__, "dataclasses")
"""Frames skipped when a warning looks for the line that built a configuration."""


def _outside_this_module() -> int:
    """The stacklevel of the first caller outside the config modules and ``dataclasses``.

    Skips the dataclass ``__init__`` (run with this module's globals) and
    ``dataclasses.replace``, so the warning names the user's line.
    """
    frame, level = sys._getframe(2), 2  # the caller of _warn_ignored is level 2
    while frame is not None and frame.f_globals.get("__name__") in _CONFIG_MODULES:
        frame, level = frame.f_back, level + 1
    return level
