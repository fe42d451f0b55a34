"""Value parsers for command-line options: text in, a typed value or ``ArgumentTypeError`` out.

:data:`KIND_PARSERS` maps each value kind of :data:`hsi_attn.config.VALUE_KINDS` to its
parser; ``bool`` settings have none (they are ``--flag`` / ``--no-flag`` switches).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["KIND_PARSERS", "absolute_path", "float_or_none", "fraction_or_count", "int_or"]


def fraction_or_count(text: str) -> float | int:
    """``"0.1"`` -> 0.1 (a fraction), ``"20"`` -> 20 (a count per class)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a fraction in (0, 1) nor a per-class count"
        ) from None
    if value >= 1 and value.is_integer() and "." not in text:
        return int(value)
    return value


def int_or(word: str) -> Callable[[str], int | str | None]:
    """A parser of an integer or ``word`` (``"none"`` gives None, another word itself)."""
    def parse(text: str) -> int | str | None:
        if text.lower() == word:
            return None if word == "none" else word
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer or {word!r}") from None

    return parse


def float_or_none(text: str) -> float | None:
    """A number, or None for ``"none"``."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'none'") from None


def absolute_path(text: str) -> str:
    """The path made absolute (``~`` expanded), as text."""
    # Saved absolute, so a run can be re-evaluated from any working directory.
    return str(Path(text).expanduser().resolve())


KIND_PARSERS: Mapping[str, Callable[[str], Any] | None] = MappingProxyType({
    "str": None,
    "int": int,
    "float": float,
    "bool": None,
    "path": absolute_path,
    "fraction_or_count": fraction_or_count,
    "int_or_none": int_or("none"),
    "int_or_adaptive": int_or("adaptive"),
    "float_or_none": float_or_none,
})
"""Value kind -> the parser of its text (None: the text itself, or a switch for bool)."""
