"""The user's own class codes, and the contiguous classes ``1..K`` used inside.

Ground truth comes with whatever codes its author chose: Salinas-A's ``{1, 10, 11, 12,
13, 14}``, a land-cover legend's ``{11, 21, 41, 82}``, ``255`` for unlabelled. Training,
splits and metrics work on contiguous classes (0 = unlabelled, ``1..K``), so a
:class:`LabelCoding` maps the codes present to ``1..K`` in sorted order (no phantom
classes for the codes in between) and back again for every output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelCoding"]


@dataclass(frozen=True)
class LabelCoding:
    """A bijection between the user's class codes and the classes ``1..K``.

    Attributes:
        class_codes: The code of class ``k + 1`` at index ``k``, strictly increasing.
        ignore_label: The code of unlabelled pixels (class 0).
    """

    class_codes: tuple[int, ...]
    ignore_label: int = 0

    def __post_init__(self) -> None:
        codes = tuple(int(c) for c in self.class_codes)
        if any(b <= a for a, b in zip(codes, codes[1:])):
            raise ValueError(
                f"class_codes must be distinct and increasing, got {list(codes)}; build the "
                "coding with LabelCoding.from_codes(label_map)"
            )
        if int(self.ignore_label) in codes:
            raise ValueError(
                f"ignore_label {self.ignore_label} is also a class code {list(codes)}; the "
                "unlabelled code cannot be a class"
            )
        object.__setattr__(self, "class_codes", codes)
        object.__setattr__(self, "ignore_label", int(self.ignore_label))

    @classmethod
    def identity(cls, n_classes: int) -> LabelCoding:
        """Codes ``1..K`` for classes ``1..K`` (benchmark scenes), 0 unlabelled."""
        return cls(tuple(range(1, n_classes + 1)), 0)

    @classmethod
    def from_codes(cls, codes: np.ndarray | Iterable[int], *, ignore_label: int = 0,
                   missing: np.ndarray | None = None) -> LabelCoding:
        """The coding of the codes present in a label map.

        Args:
            codes: Integer code map (any shape), or the codes themselves.
            ignore_label: The code of unlabelled pixels; never a class.
            missing: Bool mask of pixels without data (the raster's nodata), same shape
                as ``codes``; their codes are not classes.
        """
        values = np.asarray(codes if isinstance(codes, np.ndarray) else list(codes),
                            dtype=np.int64)
        if missing is not None:
            values = values[~np.asarray(missing, dtype=bool)]
        present = np.unique(values)
        return cls(tuple(int(c) for c in present if c != ignore_label), int(ignore_label))

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.class_codes)

    def encode(self, codes: np.ndarray, *, missing: np.ndarray | None = None,
               source: str = "labels") -> np.ndarray:
        """Map a code map to classes ``0..K`` (0 for ``ignore_label`` and ``missing``).

        Args:
            codes: Integer code map.
            missing: Bool mask of pixels without data, same shape; they become 0.
            source: What ``codes`` is, for the error message.

        Raises:
            ValueError: If ``codes`` holds a code that is neither a class nor
                ``ignore_label`` (ground truth from another legend).
        """
        codes = np.asarray(codes, dtype=np.int64)
        table = np.asarray(self.class_codes, dtype=np.int64)
        index = np.searchsorted(table, codes)
        known = np.zeros(codes.shape, dtype=bool)
        if table.size:
            known = table[np.minimum(index, table.size - 1)] == codes
        unlabelled = codes == self.ignore_label
        if missing is not None:
            unlabelled |= np.asarray(missing, dtype=bool)
        unknown = ~known & ~unlabelled
        if unknown.any():
            bad = np.unique(codes[unknown])
            raise ValueError(
                f"{source} holds codes {bad[:10].tolist()} that are not among the classes "
                f"{list(self.class_codes)} (unlabelled: {self.ignore_label}); use ground "
                "truth with the same legend, or retrain on it"
            )
        return np.where(known & ~unlabelled, index + 1, 0).astype(np.int64)

    def decode(self, labels: np.ndarray) -> np.ndarray:
        """Map classes ``0..K`` back to codes (0 becomes ``ignore_label``).

        Raises:
            ValueError: If a label is outside ``0..K``.
        """
        labels = np.asarray(labels)
        table = np.asarray((self.ignore_label, *self.class_codes), dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() > self.n_classes):
            raise ValueError(
                f"labels must be 0..{self.n_classes} to decode, got values in "
                f"[{int(labels.min())}, {int(labels.max())}]"
            )
        return table[labels.astype(np.int64, copy=False)]
