"""Where a cube lies on the ground and what its bands are: carried from input to output.

A :class:`Georeference` is read with a cube (GeoTIFF: CRS, affine transform, nodata;
ENVI: ``map info``, ``coordinate system string``, ``wavelength``, ``data ignore value``),
recorded in a trained run, and written into every raster output, so that a map opens in
a GIS on top of the user's other layers. Cubes without one (``.npy``, ``.mat``) carry
an empty georeference and their outputs are plain pixel grids.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Georeference"]


@dataclass(frozen=True)
class Georeference:
    """The georeferencing and band description of a cube.

    Attributes:
        crs_wkt: Coordinate reference system as WKT, or None when unknown.
        transform: Affine pixel-to-map transform ``(a, b, c, d, e, f)`` in rasterio's
            order (``x = a * col + b * row + c``, ``y = d * col + e * row + f``), or None.
        envi_map_info: The ENVI header's ``map info`` entries, kept verbatim so an ENVI
            output carries the same projection description, or None.
        envi_coordinate_system: The ENVI header's ``coordinate system string``, or None.
        wavelengths: Centre wavelength of each band, or None.
        wavelength_units: Units of ``wavelengths`` (``"Nanometers"``...), or None.
        nodata: The value that marks pixels without data, or None.
    """

    crs_wkt: str | None = None
    transform: tuple[float, float, float, float, float, float] | None = None
    envi_map_info: tuple[str, ...] | None = None
    envi_coordinate_system: str | None = None
    wavelengths: tuple[float, ...] | None = None
    wavelength_units: str | None = None
    nodata: float | None = None

    def __post_init__(self) -> None:
        if self.transform is not None:
            values = tuple(float(v) for v in self.transform)
            if len(values) != 6 or not all(math.isfinite(v) for v in values):
                raise ValueError(
                    f"transform must be 6 finite numbers (a, b, c, d, e, f), got "
                    f"{self.transform!r}"
                )
            object.__setattr__(self, "transform", values)
        if self.envi_map_info is not None:
            object.__setattr__(self, "envi_map_info",
                               tuple(str(v) for v in self.envi_map_info))
        if self.wavelengths is not None:
            object.__setattr__(self, "wavelengths", tuple(float(v) for v in self.wavelengths))
        if self.nodata is not None:
            object.__setattr__(self, "nodata", float(self.nodata))

    @property
    def is_georeferenced(self) -> bool:
        """True when the cube has a map position (a CRS, a transform or ENVI map info)."""
        return (self.crs_wkt is not None or self.transform is not None
                or self.envi_map_info is not None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Georeference:
        """The inverse of :meth:`to_dict`; None or ``{}`` gives an empty georeference.

        Raises:
            ValueError: On a key that is not a field (a record from another version).
        """
        if not values:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"georeference record has unknown keys {unknown}; known: {sorted(known)}. "
                "Was it written by a newer hsi_attn? Upgrade, or retrain the run."
            )
        return cls(**values)
