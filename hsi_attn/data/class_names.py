"""Names of the user's classes: a ``--class-names`` file, the ENVI header, or the code.

A names file is JSON (``{"12": "Corn-notill", ...}``) or CSV (``code,name`` rows, with
or without a header row), keyed by the codes of the ground truth as the user wrote
them. Without one, an ENVI classification header's ``class names`` are used (listed by
code, ``0..n``, ``Unclassified`` first); failing that, a class is called by its code.
"""

from __future__ import annotations

import csv
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hsi_attn.data.errors import DataFileError, one_line

__all__ = ["UnusedClassNamesWarning", "class_names_for", "envi_class_names",
           "read_class_names"]

logger = logging.getLogger(__name__)


class UnusedClassNamesWarning(UserWarning):
    """A class-names file names codes that the ground truth does not hold."""


def _code(text: str, path: Path, where: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DataFileError(
            f"class names file {str(path)!r}: {where} has code {text.strip()!r}, which is "
            "not an integer; codes are the integer values of the ground truth (e.g. 12)"
        ) from None


def _add(names: dict[int, str], code: int, name: Any, path: Path, where: str) -> None:
    if code in names:
        raise DataFileError(
            f"class names file {str(path)!r}: {where} names code {code} again (first "
            f"{names[code]!r}); give each code one name"
        )
    text = str(name).strip() if name is not None else ""
    if not text:
        raise DataFileError(
            f"class names file {str(path)!r}: {where} gives code {code} an empty name"
        )
    names[code] = text


def _read_json(path: Path) -> dict[int, str]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(
            f"class names file {str(path)!r} is not valid JSON ({one_line(exc)}); write an "
            'object like {"1": "water", "12": "corn"}, or a CSV of code,name rows'
        ) from exc
    if not isinstance(content, dict):
        raise DataFileError(
            f"class names file {str(path)!r} holds a JSON {type(content).__name__}; write "
            'an object keyed by code, like {"1": "water", "12": "corn"}'
        )
    names: dict[int, str] = {}
    for key, name in content.items():
        _add(names, _code(key, path, f"key {key!r}"), name, path, f"key {key!r}")
    return names


def _read_csv(path: Path) -> dict[int, str]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(
            f"class names file {str(path)!r} is not a text CSV ({one_line(exc)}); write "
            "one code,name row per class"
        ) from exc
    names: dict[int, str] = {}
    first = True
    for number, row in enumerate(rows, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        where = f"line {number}"
        if len(row) < 2:
            raise DataFileError(
                f"class names file {str(path)!r}: {where} is {row[0]!r}; each row must be "
                "code,name (e.g. 12,Corn-notill)"
            )
        if first:
            first = False
            if not row[0].strip().lstrip("+-").isdigit():
                continue  # a header row such as "code,name"
        _add(names, _code(row[0], path, where), ",".join(row[1:]), path, where)
    if not names:
        raise DataFileError(
            f"class names file {str(path)!r} names no class; write one code,name row per "
            "class"
        )
    return names


def read_class_names(path: str | Path) -> dict[int, str]:
    """Read a class-names file: code -> name.

    Args:
        path: ``.json`` (an object keyed by code) or CSV/text (``code,name`` rows, an
            optional header row).

    Raises:
        FileNotFoundError: If the file does not exist.
        DataFileError: On a non-integer code, a code named twice, an empty name or a
            file that is neither.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class names file {str(path)!r} does not exist")
    return _read_json(path) if path.suffix.lower() == ".json" else _read_csv(path)


def envi_class_names(header: Mapping[str, Any]) -> dict[int, str] | None:
    """Code -> name from an ENVI classification header's ``class names`` (by code index)."""
    names = header.get("class names")
    if names is None:
        return None
    items = names if isinstance(names, list) else [names]
    return {code: str(name).strip() for code, name in enumerate(items) if str(name).strip()}


def class_names_for(class_codes: Sequence[int], *, from_file: Mapping[int, str] | None = None,
                    file_path: str | Path | None = None,
                    from_header: Mapping[int, str] | None = None,
                    ignore_label: int = 0) -> tuple[str, ...]:
    """The name of each class, in ``class_codes`` order.

    Args:
        class_codes: The codes of classes ``1..K``.
        from_file: Names read from a ``--class-names`` file (they take precedence).
        file_path: That file, for messages.
        from_header: Names from the ground truth's ENVI header.
        ignore_label: The unlabelled code; a name for it is not a class name.

    Raises:
        DataFileError: If ``from_file`` misses a code of the ground truth.

    Warns:
        UnusedClassNamesWarning: If ``from_file`` names codes the ground truth lacks.
    """
    codes = [int(c) for c in class_codes]
    if from_file is not None:
        missing = [c for c in codes if c not in from_file]
        if missing:
            raise DataFileError(
                f"class names file {str(file_path)!r} has no name for codes {missing} of the "
                f"ground truth (it names {sorted(from_file)}); add a code,name row for each, "
                "or check that the file belongs to this ground truth"
            )
        unused = sorted(set(from_file) - set(codes) - {ignore_label})
        if unused:
            warnings.warn(UnusedClassNamesWarning(
                f"class names file {str(file_path)!r} names codes {unused} that the ground "
                "truth does not hold; those names are ignored"
            ), stacklevel=3)
        return tuple(from_file[c] for c in codes)
    header = from_header or {}
    return tuple(header.get(c, str(c)) for c in codes)
