"""Argument checks shared by the configuration and the functions that take raw arguments.

The configuration dataclasses (:mod:`hsi_attn.config`) check every setting with these
when they are constructed; the few public functions that take plain arguments instead
of a configuration (``PatchSampler``, ``create_model``, ``predict_scene``...) call the
same checks, so each rule is written once.

Every check is called as ``check(value, name, **options)`` and returns the value in
its canonical form (a numpy integer becomes an ``int``, a choice its lowercase
spelling) or raises a ValueError whose one-line message names the argument, the bad
value and what is accepted. ``name`` is how the argument is called in that message: a
plain parameter (``"patch_size"``) or a setting with its command-line flag
(``"patch_size (--patch-size)"``).

The warnings for settings that a chosen component ignores or adjusts live here too, so
the data and layer packages can raise them without importing the configuration.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Sequence

__all__ = [
    "AdjustedSettingWarning",
    "IgnoredSettingWarning",
    "SettingWarning",
    "WavelengthMismatchWarning",
    "check_bool",
    "check_choice",
    "check_device",
    "check_fraction_or_count",
    "check_int",
    "check_odd_int",
    "check_patch_size",
    "SPLITS",
    "check_real",
    "check_split",
    "check_text",
]


class SettingWarning(UserWarning):
    """A setting was accepted but does not do what its value suggests."""


class IgnoredSettingWarning(SettingWarning):
    """A setting the chosen component does not use (e.g. ``reduction`` with ECA)."""


class AdjustedSettingWarning(SettingWarning):
    """A setting the chosen component changes before using it (e.g. a clamped width)."""


class WavelengthMismatchWarning(UserWarning):
    """A cube's band wavelengths differ from those of the cube a run was trained on."""


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _or_none(none: str | None) -> str:
    return f" or none ({none})" if none is not None else ""


def check_int(value: object, name: str, *, minimum: int = 1, none: str | None = None
              ) -> int | None:
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum`` (not a bool or float).

    Args:
        value: The value to check.
        name: The argument, as the message calls it.
        minimum: The smallest accepted value.
        none: What None means, when None is accepted too (e.g. "no early stopping").

    Raises:
        ValueError: Otherwise.
    """
    if value is None and none is not None:
        return None
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise ValueError(f"{name} must be an integer >= {minimum}{_or_none(none)}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def check_odd_int(value: object, name: str, *, minimum: int = 1, why: str = "",
                  word: str | None = None) -> int | str:
    """Return ``value`` as an ``int`` if it is an odd integer >= ``minimum``.

    Args:
        value: The value to check.
        name: The argument, as the message calls it.
        minimum: The smallest accepted odd value.
        why: Why it must be odd, appended to the message (e.g. "the pixel sits at the
            centre of the window").
        word: A word accepted instead of a number (e.g. ``"adaptive"``), any case.

    Raises:
        ValueError: Otherwise; the message suggests the nearest accepted values.
    """
    if word is not None and isinstance(value, str) and value.strip().lower() == word:
        return word
    if _is_int(value) and value >= minimum and value % 2 == 1:  # type: ignore[operator]
        return int(value)  # type: ignore[call-overload]
    examples = ", ".join(str(minimum + (1 - minimum % 2) + 2 * i) for i in range(3))
    reason = f"; {why}" if why else ""
    alternative = f"{word!r} or " if word is not None else ""
    hint = ""
    if _is_int(value) and value >= minimum:  # type: ignore[operator]
        hint = f"; use {value - 1} or {value + 1}" if value - 1 >= minimum else f"; use {value + 1}"
    raise ValueError(
        f"{name} must be {alternative}an odd integer >= {minimum} ({examples}, ...{reason}), "
        f"got {value!r}{hint}"
    )


def check_patch_size(value: object, name: str = "patch_size", *, minimum: int = 1) -> int:
    """Return the patch side ``value`` if it is an odd integer >= ``minimum``.

    Patches are centred on their pixel, so the side is odd (1, 3, 5, ...).

    Raises:
        ValueError: Otherwise.
    """
    return check_odd_int(value, name=name, minimum=minimum,  # type: ignore[return-value]
                         why="the pixel sits at the centre of its patch")


def check_real(
    value: object,
    name: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    none: str | None = None,
) -> float | None:
    """Return ``value`` as a ``float`` if it is a finite number in the given bounds.

    Args:
        value: The value to check (an int is accepted and returned as a float).
        name: The argument, as the message calls it.
        above: Exclusive lower bound.
        at_least: Inclusive lower bound.
        below: Exclusive upper bound.
        none: What None means, when None is accepted too (e.g. "no clipping").

    Raises:
        ValueError: On a bool, a non-number, NaN, infinity or a value out of bounds.
    """
    if value is None and none is not None:
        return None
    ok = _is_real(value) and math.isfinite(value)  # type: ignore[arg-type]
    if ok and above is not None:
        ok = value > above  # type: ignore[operator]
    if ok and at_least is not None:
        ok = value >= at_least  # type: ignore[operator]
    if ok and below is not None:
        ok = value < below  # type: ignore[operator]
    if ok:
        return float(value)  # type: ignore[arg-type]
    parts = []
    if above is not None:
        parts.append(f"> {above:g}")
    if at_least is not None:
        parts.append(f">= {at_least:g}")
    if below is not None:
        parts.append(f"< {below:g}")
    accepted = f"a finite number {' and '.join(parts)}" if parts else "a finite number"
    if at_least is not None and below is not None:
        accepted = f"a number in [{at_least:g}, {below:g})"
    raise ValueError(f"{name} must be {accepted}{_or_none(none)}, got {value!r}")


def check_fraction_or_count(value: object, name: str, *, allow_zero: bool = False
                            ) -> float | int:
    """Return a per-class size: a fraction in (0, 1) or an integer count >= 1.

    Args:
        value: The size.
        name: The argument, as the message calls it.
        allow_zero: Accept 0 (or 0.0) for "none" (a validation size).

    Raises:
        ValueError: Otherwise; a whole float >= 1 is pointed at its int or percent reading.
    """
    if _is_int(value):
        if value >= 1 or (allow_zero and value == 0):  # type: ignore[operator]
            return int(value)  # type: ignore[call-overload]
    elif _is_real(value) and math.isfinite(value):  # type: ignore[arg-type]
        if 0.0 < value < 1.0 or (allow_zero and value == 0.0):  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
    zero = " (or 0 for none)" if allow_zero else ""
    hint = ""
    number = float(value) if _is_real(value) else math.nan  # type: ignore[arg-type]
    if math.isfinite(number) and number >= 1 and number.is_integer():
        hint = (f"; for {number:g}% write {number / 100:g}, for {number:g} pixels per class "
                f"write the integer {int(number)}")
    raise ValueError(
        f"{name} must be a fraction per class in (0, 1) or an integer count per class "
        f">= 1{zero}, got {value!r}{hint}"
    )


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (not 0/1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_choice(value: object, name: str, *, choices: Sequence[str]) -> str:
    """Return the accepted word ``value`` names (case and surrounding spaces ignored).

    Raises:
        ValueError: On anything else; the message lists the choices and the close ones.
    """
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    close = difflib.get_close_matches(str(value).strip().lower(), list(choices), n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}{hint}")


_DEVICE = re.compile(r"auto|(cpu|cuda|mps)(:\d+)?")


def check_device(value: object, name: str) -> str:
    """Return a plausible device string: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Whether the device exists on this machine is decided when it is used
    (:func:`hsi_attn.engine.resolve_device`), so a configuration can be written on one
    machine and run on another.

    Raises:
        ValueError: On anything else.
    """
    if isinstance(value, str) and _DEVICE.fullmatch(value.strip().lower()):
        return value.strip().lower()
    raise ValueError(f"{name} must be auto, cpu, cuda, cuda:N or mps, got {value!r}")


SPLITS = ("random", "disjoint", "fixed")
"""The split kinds; ``fixed`` also takes a name, ``fixed:NAME``."""


def check_split(value: object, name: str) -> str:
    """``value`` as a split: ``random``, ``disjoint``, ``fixed`` or ``fixed:NAME``.

    Whether the scene has the fixed split NAME is checked when the scene is loaded.
    """
    text = check_text(value, name).strip().lower()
    kind, colon, split_name = text.partition(":")
    if kind not in SPLITS or (colon and (kind != "fixed" or not split_name.replace(
            "_", "").isalnum())):
        close = difflib.get_close_matches(kind, SPLITS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{name} must be one of random, disjoint, fixed or fixed:NAME (NAME of letters, "
            f"digits and _), got {value!r}{hint}"
        )
    return text
