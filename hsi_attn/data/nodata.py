"""Which pixels of a cube hold no data: the nodata value, all-zero or NaN spectra.

Flight lines are rarely rectangles: the corners of a mosaic, the edges of a swath and
masked water carry a nodata value (GeoTIFF nodata, ENVI ``data ignore value``), zeros,
or NaN. Those pixels are never trained on and never given a class.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nodata_mask"]


def nodata_mask(spectra: np.ndarray, nodata: float | None) -> np.ndarray:
    """Mark the pixels of a cube tile that hold no data.

    A pixel has no data when every band equals ``nodata``, when every band is zero,
    or when any band is NaN.

    Args:
        spectra: ``(h, w, B)`` tile of a cube, any numeric dtype.
        nodata: The value that marks missing pixels (the cube's
            ``georef.nodata``), or None when the cube declares none.

    Returns:
        ``(h, w)`` bool array, True where the pixel has no data.

    Raises:
        ValueError: If ``spectra`` is not 3-D.
    """
    spectra = np.asarray(spectra)
    if spectra.ndim != 3:
        raise ValueError(
            f"nodata_mask needs an (h, w, B) tile, got shape {spectra.shape}; add a band "
            "axis with tile[..., None] for a single band"
        )
    missing = ~np.any(spectra != 0, axis=2)
    if spectra.dtype.kind in "fc":
        missing |= np.any(np.isnan(spectra), axis=2)
    if nodata is not None:
        if np.isnan(nodata):
            if spectra.dtype.kind in "fc":
                missing |= np.all(np.isnan(spectra), axis=2)
        else:
            missing |= np.all(spectra == nodata, axis=2)
    return missing
