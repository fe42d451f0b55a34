"""Writers of small georeferenced user files (ENVI, GeoTIFF) for the tests, seeded.

Tests call these into ``tmp_path``; nothing here is read from the network or from
committed binaries, so each test shows exactly what its input is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

UTM_33N = "EPSG:32633"
TRANSFORM = (2.0, 0.0, 500000.0, 0.0, -2.0, 4100000.0)
MAP_INFO = ("UTM", "1.000", "1.000", "500000.000", "4100000.000", "2.0", "2.0", "33",
            "North", "WGS-84", "units=Meters")
WKT_33N = ('PROJCS["WGS_1984_UTM_Zone_33N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",'
           'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
           'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
           'UNIT["Meter",1.0]]')


def random_cube(seed: int = 0, shape: tuple[int, int, int] = (24, 20, 6),
                dtype: type = np.float32) -> np.ndarray:
    """A positive cube (no pixel is all zero), so nodata comes only from what a test sets."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(1.0, 100.0, size=shape)).astype(dtype)


def write_envi(header: Path, cube: np.ndarray, *, interleave: str = "bsq",
               nodata: float | None = None, wavelengths: Sequence[float] | None = None,
               band_names: Sequence[str] | None = None, georeferenced: bool = True) -> Path:
    """Write ``cube`` as ENVI ``header`` + ``.img`` with map info and a WKT string."""
    from spectral.io import envi

    metadata: dict[str, object] = {"description": "hsi_attn test cube"}
    if georeferenced:
        metadata["map info"] = "{" + ", ".join(MAP_INFO) + "}"
        metadata["coordinate system string"] = "{" + WKT_33N + "}"
    if nodata is not None:
        metadata["data ignore value"] = nodata
    if wavelengths is not None:
        metadata["wavelength"] = list(wavelengths)
        metadata["wavelength units"] = "Nanometers"
    if band_names is not None:
        metadata["band names"] = list(band_names)
    envi.save_image(str(header), cube, dtype=cube.dtype, interleave=interleave, force=True,
                    ext=".img", metadata=metadata)
    return header


def write_envi_classes(header: Path, codes: np.ndarray,
                       class_names: Sequence[str] | None = None) -> Path:
    """Write a label map as an ENVI classification file (names indexed by code)."""
    from spectral.io import envi

    metadata: dict[str, object] = {"description": "hsi_attn test labels"}
    kwargs: dict[str, object] = {}
    if class_names is not None:
        kwargs["class_names"] = list(class_names)
    dtype = np.uint16 if codes.max() >= 255 else np.uint8  # spectral adds 1 to the max
    envi.save_classification(str(header), codes.astype(dtype), force=True, ext=".img",
                             metadata=metadata, **kwargs)
    return header


def write_geotiff(path: Path, array: np.ndarray, *, nodata: float | None = None,
                  crs: str | None = UTM_33N, band_names: Sequence[str] | None = None) -> Path:
    """Write an ``(H, W, B)`` cube or ``(H, W)`` map as a GeoTIFF with a UTM transform."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.transform import Affine

    bands = array[:, :, None] if array.ndim == 2 else array
    profile = {
        "driver": "GTiff", "height": bands.shape[0], "width": bands.shape[1],
        "count": bands.shape[2], "dtype": bands.dtype.name, "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
        profile["transform"] = Affine(*TRANSFORM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as out:
            out.write(np.moveaxis(bands, -1, 0))
            for band, name in enumerate(band_names or (), start=1):
                out.set_band_description(band, name)
    return path


def coded_scene(seed: int = 0, shape: tuple[int, int] = (24, 20), n_bands: int = 6,
                codes: Sequence[int] = (1, 10, 12)) -> tuple[np.ndarray, np.ndarray]:
    """A cube with one distinct spectrum per class code, and its code map.

    Classes lie in vertical stripes (learnable in one epoch); about 10 % of the
    pixels are unlabelled (code 0).
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    stripe = (np.arange(width) * len(codes) // width)[None, :].repeat(height, axis=0)
    gt = np.asarray(codes, dtype=np.int64)[stripe]
    gt[rng.random(shape) < 0.1] = 0
    signatures = rng.uniform(10.0, 50.0, size=(len(codes), n_bands)).astype(np.float32)
    cube = signatures[stripe] + rng.normal(scale=1.0, size=(*shape, n_bands)).astype(np.float32)
    return cube, gt
