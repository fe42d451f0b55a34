"""An exported graph is checked against PyTorch on real inputs before it is written.

The inputs are raw spectra, as a deployment feeds them: windows of a cube when one is
given (``hsi-attn export --cube``), else spectra drawn around the run's training
statistics (each band's offset and scale from the fitted preprocessing), so the
standardisation and PCA folded into the graph see values of the size they will meet.
Each graph runs at two sizes of its dynamic axes (two batch sizes for the patch graph,
two tile shapes for the dense graph), in ONNX Runtime and in PyTorch (the very module
that was exported), and the largest absolute difference in probability must stay
within a tolerance (1e-5 by default).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from hsi_attn.data.preprocess import Preprocessor

__all__ = ["ExportValidationError", "check_against_torch", "validation_inputs"]

logger = logging.getLogger(__name__)

PATCH_BATCHES = (1, 7)
DENSE_TILES = ((7, 5), (4, 9))
"""Output tile sizes ``(h, w)`` the dense graph is checked on."""


class ExportValidationError(ValueError):
    """ONNX Runtime's output differs from PyTorch's: the exported graph is wrong."""


def _source_block(cube: np.ndarray | None, preprocessor: Preprocessor, side: int,
                  rng: np.random.Generator) -> np.ndarray:
    """A ``(side, side, B_raw)`` float32 block of raw spectra: from ``cube``, or drawn."""
    bands = preprocessor.n_bands_in
    if cube is None:
        if preprocessor.normalization == "standard":
            unit = rng.standard_normal((side, side, bands))
        else:  # minmax: the training range; none: offset 0, scale 1
            unit = rng.random((side, side, bands))
        return (preprocessor.offset + preprocessor.scale * unit).astype(np.float32)
    cube = np.asarray(cube)
    if cube.ndim != 3 or cube.shape[2] != bands:
        raise ValueError(
            f"the validation cube has shape {cube.shape} but the run takes (H, W, {bands}) "
            "raw cubes; give a cube from the sensor the run was trained on"
        )
    top = int(rng.integers(0, max(1, cube.shape[0] - side + 1)))
    left = int(rng.integers(0, max(1, cube.shape[1] - side + 1)))
    crop = cube[top:top + side, left:left + side].astype(np.float32)
    crop = np.where(np.isfinite(crop), crop, preprocessor.offset.astype(np.float32))
    # A cube smaller than the block is repeated: any real spectra serve the comparison.
    return np.pad(crop, ((0, side - crop.shape[0]), (0, side - crop.shape[1]), (0, 0)),
                  mode="wrap")


def validation_inputs(
    graph: str,
    preprocessor: Preprocessor,
    patch_size: int,
    *,
    cube: np.ndarray | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """Raw inputs for one graph kind at two sizes of its dynamic axes.

    Args:
        graph: ``"patch"`` (batches of :data:`PATCH_BATCHES` patches) or ``"dense"``
            (tiles of :data:`DENSE_TILES` output pixels, with their halo).
        preprocessor: The run's fitted preprocessing (band count, statistics).
        patch_size: p.
        cube: Raw ``(H, W, B_raw)`` cube to take windows from, or None to draw spectra.
        seed: Seed of the window positions and the drawn spectra.

    Returns:
        float32 arrays ``(N, 1, B_raw, p, p)`` or ``(1, 1, B_raw, h + p - 1, w + p - 1)``.
    """
    rng = np.random.default_rng(seed)
    sizes = [(patch_size, patch_size)] * len(PATCH_BATCHES) if graph == "patch" else [
        (h + patch_size - 1, w + patch_size - 1) for h, w in DENSE_TILES]
    side = max(max(s) for s in sizes) + max(PATCH_BATCHES)
    block = _source_block(cube, preprocessor, side, rng)
    bands_first = np.ascontiguousarray(block.transpose(2, 0, 1))
    inputs = []
    if graph == "patch":
        for count in PATCH_BATCHES:
            corners = rng.integers(0, side - patch_size + 1, size=(count, 2))
            inputs.append(np.stack([bands_first[:, r:r + patch_size, c:c + patch_size]
                                    for r, c in corners])[:, None])
    else:
        for height, width in sizes:
            inputs.append(np.ascontiguousarray(bands_first[None, None, :, :height, :width]))
    return inputs


def check_against_torch(
    module: nn.Module,
    model_bytes: bytes,
    inputs: list[np.ndarray],
    *,
    graph: str,
    atol: float = 1e-5,
) -> float:
    """Run the serialized graph in ONNX Runtime and ``module`` in PyTorch on ``inputs``.

    Args:
        module: The exported torch module (evaluation mode).
        model_bytes: The serialized ONNX model.
        inputs: Raw inputs (:func:`validation_inputs`).
        graph: ``"patch"`` or ``"dense"``, for messages.
        atol: Largest accepted absolute difference in probability.

    Returns:
        The largest absolute difference over all inputs.

    Raises:
        ExportValidationError: If an output's shape differs, or any difference exceeds
            ``atol`` (or is NaN).
    """
    from hsi_attn.export.runtime import inference_session

    session = inference_session(model_bytes, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    worst = 0.0
    for raw in inputs:
        with torch.inference_mode():
            expected = module(torch.from_numpy(raw)).numpy()
        got = session.run(None, {name: raw})[0]
        if got.shape != expected.shape:
            raise ExportValidationError(
                f"the exported {graph} graph returned shape {got.shape} for input "
                f"{raw.shape}, PyTorch {expected.shape}; the graph is wrong, do not deploy it"
            )
        difference = float(np.max(np.abs(got.astype(np.float64) - expected)))
        if not difference <= atol:  # NaN fails too
            raise ExportValidationError(
                f"the exported {graph} graph differs from PyTorch by {difference:.3g} in "
                f"probability (tolerance {atol:g}) on input {raw.shape}; the graph is wrong "
                "and was not written. Report it with the model family and attention name."
            )
        worst = max(worst, difference)
    logger.info("%s graph: ONNX Runtime matches PyTorch to %.2g on inputs %s", graph, worst,
                ", ".join(str(tuple(x.shape)) for x in inputs))
    return worst
