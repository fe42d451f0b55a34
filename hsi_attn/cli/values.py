"""Value parsers for command-line options: text in, a typed value or ``ArgumentTypeError`` out."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["absolute_path", "float_or_none", "fraction_or_count", "int_or"]


def fraction_or_count(text: str) -> float | int:
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
    def parse(text: str) -> int | str | None:
        if text.lower() == word:
            return None if word == "none" else word
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer or {word!r}") from None

    return parse


def float_or_none(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'none'") from None


def absolute_path(text: str) -> str:
    # Saved absolute, so a run can be re-evaluated from any working directory.
    return str(Path(text).expanduser().resolve())
