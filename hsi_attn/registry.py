"""Name -> object tables shared by every registry in the package.

A registry is a plain read-only mapping built once from ``(name, object)`` pairs.
:func:`make_registry` refuses duplicate names (a literal ``dict`` would silently keep
the last one) and :func:`lookup` turns an unknown name into a ``ValueError`` that lists
the close matches and every accepted name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

T = TypeVar("T")


def make_registry(entries: Iterable[tuple[str, T]], *, kind: str) -> Mapping[str, T]:
    """Build a read-only registry from ``(name, object)`` pairs.

    Args:
        entries: The pairs, in the order they should be listed.
        kind: What the entries are ("attention", "model", ...), used in error messages.

    Returns:
        A read-only mapping from name to object.

    Raises:
        ValueError: If a name is not lowercase or appears twice.
    """
    table: dict[str, T] = {}
    for name, obj in entries:
        if name != name.lower() or not name:
            raise ValueError(f"{kind} name {name!r} must be a non-empty lowercase string")
        if name in table:
            raise ValueError(f"{kind} name {name!r} is registered twice; rename one of them")
        table[name] = obj
    return MappingProxyType(table)


def lookup(registry: Mapping[str, T], name: str, *, kind: str) -> T:
    """Return the entry called ``name``, or raise a ValueError that suggests the fix.

    Args:
        registry: A table from :func:`make_registry`.
        name: The requested name (case-insensitive).
        kind: What the entries are, used in the error message.

    Raises:
        ValueError: If ``name`` is not a string or not registered; the message names the
            close matches and lists every accepted name.
    """
    if not isinstance(name, str):
        raise ValueError(f"{kind} name must be a string, got {type(name).__name__} {name!r}")
    key = name.strip().lower()
    if key in registry:
        return registry[key]
    close = difflib.get_close_matches(key, list(registry), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"unknown {kind} {name!r}.{hint} Accepted names: {', '.join(sorted(registry))}."
    )
