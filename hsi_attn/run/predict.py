"""Classify a cube with a trained run and write GIS-ready maps, at any scene size.

:func:`predict_cube` opens the cube lazily (:func:`hsi_attn.data.open_cube`), streams it
through the run's preprocessing and model tile by tile within ``max_memory``
(:func:`hsi_attn.inference.stream.predict_stream`; with ``backend="onnxruntime"``, an
exported model's graph: :mod:`hsi_attn.run.predict_backends`) and writes, as it goes:

* the class map ``--out``: GeoTIFF ``.tif`` (georeferenced, colour table, names in
  tags), ENVI classification ``.hdr``/``.img``, ``.npy`` (int64), each with a PNG
  quicklook beside it, or a ``.png`` figure alone. Pixels hold the user's class codes
  (``extra["class_codes"]`` of the run; 1..K for runs saved before codes were kept),
  nodata where the cube has no data;
* optionally ``--probabilities`` (one band per class) and ``--confidence`` (largest
  probability) GeoTIFFs, on the same grid.

Every output is written to a temporary file and renamed when complete; an output that
is an input (the cube, its ENVI files, the run's files) is refused even with
``overwrite``, and an existing output needs ``overwrite``.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hsi_attn.checks import WavelengthMismatchWarning, check_choice
from hsi_attn.data.georeference import Georeference
from hsi_attn.inference import predict_scene
from hsi_attn.inference.stream import ProgressCallback, StreamStats
from hsi_attn.inference.writers import (
    RASTER_SUFFIXES,
    GeoTiffConfidenceWriter,
    GeoTiffProbabilityWriter,
    MapLayout,
    TileWriter,
    class_map_writers,
    open_writers,
)
from hsi_attn.run.predict_backends import BACKENDS, load_backend, run_classes
from hsi_attn.run.predict_paths import check_output_paths, input_files

__all__ = ["DEFAULT_MAX_MEMORY", "PredictionSummary", "predict_cube", "predict_probabilities",
           "run_classes"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_MEMORY = 512 << 20
"""Default budget of one streamed tile, in bytes (``--max-memory``)."""


@dataclass(frozen=True)
class PredictionSummary:
    """What :func:`predict_cube` classified and wrote.

    Attributes:
        cube: The cube file.
        shape: ``(H, W, B)`` of the cube.
        outputs: Every file written (class map, quicklook, probabilities, confidence).
        class_counts: Pixels per class, keyed by the user's class code.
        class_names: Name per class code.
        nodata_pixels: Pixels written as nodata.
        georeferenced: Whether the outputs carry a CRS or a transform.
        stats: Tiles, tile shape and time per stage of the streaming run.
    """

    cube: Path
    shape: tuple[int, int, int]
    outputs: tuple[Path, ...]
    class_counts: dict[int, int]
    class_names: dict[int, str]
    nodata_pixels: int
    georeferenced: bool
    stats: StreamStats = field(repr=False)

    @property
    def pixels(self) -> int:
        """Pixels of the map."""
        return self.shape[0] * self.shape[1]


def predict_probabilities(
    model: nn.Module,
    cube: np.ndarray,
    *,
    patch_size: int,
    pad_mode: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Class probabilities ``(H, W, K)`` for every pixel of a preprocessed in-memory cube.

    Delegates to :func:`hsi_attn.inference.predict_scene` (dense one-pass inference for
    models that have an exact dense form, batched per-patch inference otherwise).
    """
    probs = predict_scene(model, cube, patch_size=patch_size, batch_size=batch_size,
                          device=device, pad_mode=pad_mode)
    return np.asarray(probs, dtype=np.float32)


def _check_wavelengths(trained: Georeference, cube: Georeference, cube_path: Path) -> None:
    if trained.wavelengths is None or cube.wavelengths is None:
        return
    ours, theirs = np.asarray(cube.wavelengths), np.asarray(trained.wavelengths)
    if ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=0, atol=1e-3):
        return
    worst = (float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape
             else float("nan"))
    warnings.warn(WavelengthMismatchWarning(
        f"the band wavelengths of {str(cube_path)!r} differ from those the run was trained "
        f"on (up to {worst:g} {cube.wavelength_units or 'units'} apart): the bands may not "
        "mean the same; classify cubes from the same sensor and band set, or resample"
    ), stacklevel=3)


def _writers(out_path: Path, probabilities: Path | None, confidence: Path | None,
             layout: MapLayout, title: str) -> list[TileWriter]:
    for flag, path in (("--probabilities", probabilities), ("--confidence", confidence)):
        if path is not None and path.suffix.lower() not in RASTER_SUFFIXES:
            raise ValueError(f"{flag} {str(path)!r} must be a GeoTIFF ending in "
                             f"{' or '.join(RASTER_SUFFIXES)}")
    writers = class_map_writers(out_path, layout, title=title)
    if probabilities is not None:
        writers.append(GeoTiffProbabilityWriter(probabilities, layout))
    if confidence is not None:
        writers.append(GeoTiffConfidenceWriter(confidence, layout))
    return writers


def predict_cube(
    run_dir: str | os.PathLike[str],
    cube_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    variable: str | None = None,
    probabilities: str | os.PathLike[str] | None = None,
    confidence: str | os.PathLike[str] | None = None,
    max_memory: int = DEFAULT_MAX_MEMORY,
    overwrite: bool = False,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    backend: str = "torch",
) -> PredictionSummary:
    """Classify every pixel of a cube with a trained run and write the maps, streaming.

    Args:
        run_dir: The trained run directory; with ``backend="onnxruntime"``, the
            ``model.onnx`` that ``hsi-attn export`` wrote from it.
        cube_path: ENVI ``.hdr`` (or its data file), GeoTIFF, ``.npy``, ``.mat`` or
            ``.npz`` cube ``(H, W, B)`` from the sensor the run was trained on.
        out_path: The class map: ``.tif``/``.tiff``, ``.hdr``/``.img`` (ENVI), ``.npy``
            (each with a ``.png`` quicklook beside it) or ``.png``.
        variable: Array name inside a ``.mat``/``.npz`` cube holding several.
        probabilities: Optional ``.tif`` of per-class probabilities (uint8, scale 1/255).
        confidence: Optional ``.tif`` of the largest probability (uint8, scale 1/255).
        max_memory: Budget in bytes for one streamed tile (activations included).
        overwrite: Replace existing outputs (never an input file).
        device: Device override (default: the run's; PyTorch backend only).
        progress: Called after each tile with ``(done, total)``.
        backend: ``"torch"`` (the run) or ``"onnxruntime"`` (its ONNX export; see
            :mod:`hsi_attn.run.predict_backends`).

    Returns:
        A :class:`PredictionSummary` (the map itself is in the files).

    Raises:
        InputOverwriteError: If an output is the cube, its ENVI files or a model file.
        FileExistsError: If an output exists and ``overwrite`` is False.
        ValueError: On an unknown backend, a model file that does not fit it, an
            unsupported output suffix, or a cube whose band count differs from the run's.
    """
    backend = check_choice(backend, "backend", choices=BACKENDS)
    run_dir, cube_path, out_path = Path(run_dir), Path(cube_path), Path(out_path)
    extras = tuple(None if p is None else Path(p) for p in (probabilities, confidence))
    # The files to be written, known from the paths alone: checked before the cube is read.
    planned = _writers(out_path, *extras, MapLayout(1, 1, (1,), ("any",)), "")
    targets = [path for writer in planned for path in writer.outputs]
    model = load_backend(backend, run_dir, device=device)
    check_output_paths(targets, [*input_files(cube_path, run_dir), *model.files],
                       overwrite=overwrite)
    for folder in {p.parent for p in targets}:
        folder.mkdir(parents=True, exist_ok=True)

    from hsi_attn.data import open_cube

    codes, names = model.class_codes, model.class_names
    with open_cube(cube_path, variable) as cube:
        if cube.shape[2] != model.n_bands:
            raise ValueError(
                f"cube {str(cube_path)!r} has shape {cube.shape} ({cube.shape[2]} bands) but "
                f"the model {str(run_dir)!r} was trained on {model.n_bands}-band "
                f"{model.scene} data; give a cube from the same sensor with bands last"
            )
        _check_wavelengths(model.georef, cube.georef, cube_path)
        layout = MapLayout(cube.shape[0], cube.shape[1], codes, names, cube.georef)
        writers = _writers(out_path, *extras, layout, f"{cube_path.name} | {model.title}")
        # GDAL's block cache for the GeoTIFFs comes out of the same budget.
        budget = max(max_memory - sum(w.cache_bytes for w in writers), max_memory // 2)
        with open_writers(writers):
            stats = model.stream(cube, writers, budget, progress)
    return PredictionSummary(
        cube=cube_path, shape=tuple(cube.shape),  # type: ignore[arg-type]
        outputs=tuple(targets), class_counts=dict(zip(codes, stats.class_counts.tolist())),
        class_names=dict(zip(codes, names)), nodata_pixels=stats.nodata_pixels,
        georeferenced=layout.georef.crs_wkt is not None or layout.georef.transform is not None,
        stats=stats,
    )
