"""Training history: one dict per epoch, saved as ``history.csv``.

Each record holds at least ``epoch`` (1-based), ``train_loss``, ``train_acc``,
``train_seconds`` (optimisation only), ``lr`` and ``seconds`` (whole epoch); with
validation data also ``val_loss`` and ``val_oa``. Callbacks may add
keys to the current record in ``on_epoch_end``; the CSV has the union of all keys.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hsi_attn.engine.atomic import write_text_atomic

__all__ = ["History"]


class History(list[dict[str, Any]]):
    """A list of per-epoch records (dicts), in epoch order."""

    def column(self, key: str) -> list[Any]:
        """Values of ``key`` across epochs (None where an epoch lacks it)."""
        return [record.get(key) for record in self]

    def best(self, key: str = "val_oa", *, mode: str = "max") -> dict[str, Any] | None:
        """The first record with the best finite value of ``key``, or None."""
        scored = [r for r in self if _finite(r.get(key))]
        if not scored:
            return None
        pick = max if mode == "max" else min
        target = pick(r[key] for r in scored)
        return next(r for r in scored if r[key] == target)

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the history to ``path`` atomically, one row per epoch."""
        keys: list[str] = []
        for record in self:
            keys.extend(k for k in record if k not in keys)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for record in self:
            writer.writerow({k: _format(record.get(k)) for k in keys})
        return write_text_atomic(path, buffer.getvalue())

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`to_csv` (numbers parsed back)."""
        with open(path, newline="", encoding="utf-8") as handle:
            return cls({k: _parse(v) for k, v in row.items()} for row in csv.DictReader(handle))

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> History:
        """Copy plain dict records (e.g. from a checkpoint) into a History."""
        return cls(dict(r) for r in records)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _format(value: Any) -> Any:
    return "" if value is None else (repr(value) if isinstance(value, float) else value)


def _parse(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
