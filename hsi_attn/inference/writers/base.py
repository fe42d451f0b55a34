"""What every map writer shares: the map's layout, one predicted tile, the writer contract.

Streaming prediction (:mod:`hsi_attn.inference.stream`) hands each tile it predicts to
its writers as a :class:`PredictedTile`; a :class:`TileWriter` puts the tile into its
output. Writers know the whole map's :class:`MapLayout` (size, the user's class codes
and names, georeference) from the start and never hold the whole map.

A writer is a context manager. Entering it creates its temporary file(s) beside the
destination; leaving it normally renames them onto the destination, leaving it by an
exception (Ctrl-C included) removes them. A killed prediction therefore leaves the
previous output, or none, never a half-written one.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np

from hsi_attn.data.georeference import Georeference

__all__ = ["MapLayout", "PredictedTile", "TileWriter", "open_writers", "rgba_bytes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapLayout:
    """The size, classes and georeference of a classification map.

    Attributes:
        height: Rows H of the map (and of the cube).
        width: Columns W.
        class_codes: The user's code of each class, in the model's class order (class
            index k has code ``class_codes[k]``).
        class_names: The name of each class, same order.
        georef: Where the cube lies on the ground; outputs carry it over.
    """

    height: int
    width: int
    class_codes: tuple[int, ...]
    class_names: tuple[str, ...]
    georef: Georeference = field(default_factory=Georeference)

    def __post_init__(self) -> None:
        codes = tuple(int(c) for c in self.class_codes)
        object.__setattr__(self, "class_codes", codes)
        object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
        if self.height < 1 or self.width < 1:
            raise ValueError(f"a map needs at least one pixel, got {self.height}x{self.width}")
        if len(codes) != len(self.class_names) or not codes:
            raise ValueError(
                f"{len(codes)} class codes for {len(self.class_names)} class names; the run's "
                "class_codes and class_names must pair up (retrain the run)"
            )
        if len(set(codes)) != len(codes) or min(codes) < 0:
            raise ValueError(
                f"class codes {list(codes)} must be distinct non-negative integers (the label "
                "values of the training map)"
            )

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.class_codes)

    @property
    def nodata_code(self) -> int:
        """The value of pixels without data: 0, unless 0 is a class code (then max + 1)."""
        return 0 if 0 not in self.class_codes else max(self.class_codes) + 1

    @property
    def code_dtype(self) -> np.dtype:
        """The smallest unsigned integer type holding every code and the nodata value."""
        return np.dtype(np.min_scalar_type(max(*self.class_codes, self.nodata_code)))

    @functools.cached_property
    def _code_table(self) -> np.ndarray:
        return np.asarray([*self.class_codes, self.nodata_code], dtype=self.code_dtype)

    def codes_of(self, tile: PredictedTile) -> np.ndarray:
        """The tile's class codes ``(h, w)`` (:attr:`code_dtype`), nodata where no data."""
        indices = np.where(tile.valid, tile.indices, self.n_classes)
        return self._code_table[indices]


@dataclass(frozen=True, eq=False)
class PredictedTile:
    """The prediction of one block of the map.

    Attributes:
        top: First row of the block in the map.
        left: First column.
        probabilities: ``(h, w, K)`` class probabilities (softmax), float.
        valid: ``(h, w)`` True where the cube has data (False: nodata pixel).
    """

    top: int
    left: int
    probabilities: np.ndarray
    valid: np.ndarray

    @property
    def height(self) -> int:
        """Rows h of the block."""
        return int(self.probabilities.shape[0])

    @property
    def width(self) -> int:
        """Columns w of the block."""
        return int(self.probabilities.shape[1])

    @functools.cached_property
    def indices(self) -> np.ndarray:
        """``(h, w)`` class index 0..K-1 of each pixel (meaningless where not valid)."""
        return self.probabilities.argmax(axis=2)


def rgba_bytes(n_classes: int) -> np.ndarray:
    """``(K + 1, 4)`` uint8 colours: the map figures' class colours, then transparent nodata.

    Row k is class index k; the last row is for nodata. The colours are those of
    :func:`hsi_attn.run.figures.class_colors`, so every output shows a class alike.
    """
    from hsi_attn.run.figures import class_colors

    colors = np.round(class_colors(n_classes)[1:] * 255).astype(np.uint8)
    return np.vstack([colors, np.zeros((1, 4), dtype=np.uint8)])


class TileWriter(abc.ABC):
    """Writes predicted tiles into one output, atomically (see the module docstring).

    Args:
        path: The destination file.
        layout: The map's layout.
    """

    block_rows: int = 1
    """Rows of the output's internal blocks: tiles of a multiple of it fill whole blocks."""

    def __init__(self, path: str | Path, layout: MapLayout) -> None:
        self.path = Path(path)
        self.layout = layout

    @property
    def cache_bytes(self) -> int:
        """Bytes of GDAL block cache the writer needs (partly written blocks; 0: none)."""
        return 0

    @property
    def outputs(self) -> tuple[Path, ...]:
        """Every file this writer creates or replaces (an ENVI map has two)."""
        return (self.path,)

    @abc.abstractmethod
    def open(self) -> None:
        """Create the temporary file(s)."""

    @abc.abstractmethod
    def write(self, tile: PredictedTile) -> None:
        """Put one tile into the output."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Finish the temporary file(s) and rename them onto :attr:`outputs`."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Remove the temporary file(s); the destination stays as it was."""

    def __enter__(self) -> TileWriter:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise
        logger.info("wrote %s", ", ".join(str(p) for p in self.outputs))


_MIN_GDAL_CACHE = 8 << 20


@contextlib.contextmanager
def open_writers(writers: Sequence[TileWriter]) -> Iterator[Sequence[TileWriter]]:
    """Enter every writer; on success commit them all, on an error abort them all.

    GDAL's block cache is bounded meanwhile (``GDAL_CACHEMAX``: the writers'
    :attr:`~TileWriter.cache_bytes`, at least 8 MB). By default GDAL keeps every
    written block of a GeoTIFF until the file is closed (up to 5 % of the RAM), so the
    memory of a prediction would grow with the scene.
    """
    with contextlib.ExitStack() as stack:
        cache = sum(writer.cache_bytes for writer in writers)
        if cache:
            import rasterio

            stack.enter_context(rasterio.Env(GDAL_CACHEMAX=max(cache, _MIN_GDAL_CACHE)))
        for writer in writers:
            stack.enter_context(writer)
        yield writers
