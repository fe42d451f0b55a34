"""Full-scene prediction with an exported model: numpy and ONNX Runtime, no PyTorch.

A deployment needs only ``pip install numpy onnxruntime`` and the ``.onnx`` files that
``hsi-attn export`` wrote; this module imports neither torch nor onnx (a test imports it
with torch blocked). Everything it needs is in the model's metadata
(:class:`~hsi_attn.export.metadata.ExportMetadata`): the raw band count, the patch size,
the pad mode, the class codes.

It predicts the way :func:`~hsi_attn.inference.predict_scene` does: the raw cube is
padded by ``p // 2`` on each side (``reflect`` unless the run was trained with another
pad mode), then

* with a **dense** graph (``model.dense.onnx``), run over spatial tiles: each tile
  ``(1, 1, B_raw, h + p - 1, w + p - 1)`` (bands first, its halo included) gives
  probabilities ``(1, K, h, w)`` (classes first), written to ``(H, W, K)``;
* with only a **patch** graph (``model.onnx``), run on batches of ``p x p`` windows,
  one per pixel, ``(N, 1, B_raw, p, p)`` to ``(N, K)``.

The standardisation and PCA are inside the graphs, so the cube goes in raw. Tile side
and batch size come from a memory budget and the activation bytes measured at export
(approximate: ONNX Runtime plans its own memory).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hsi_attn.checks import check_choice, check_int
from hsi_attn.export.metadata import ExportMetadata

__all__ = ["GRAPH_CHOICES", "OnnxSceneClassifier", "inference_session", "predict_scene_onnx",
           "read_metadata"]

logger = logging.getLogger(__name__)

GRAPH_CHOICES = ("auto", "patch", "dense")
"""Which graph to run: ``"auto"`` prefers the dense graph when the file given, or the
companion written beside it, is one."""

DEFAULT_MAX_MEMORY = 128 << 20


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "running an exported model needs onnxruntime, which is not installed; "
            'pip install -e ".[onnx]" (in a deployment: pip install onnxruntime)'
        ) from None
    return onnxruntime


def inference_session(model: str | os.PathLike[str] | bytes, *,
                      providers: Sequence[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on a model file or serialized model.

    Args:
        model: Path of an ``.onnx`` file, or its bytes.
        providers: ONNX Runtime execution providers, in order of preference (default
            ``["CPUExecutionProvider"]``).

    Raises:
        ImportError: If onnxruntime is not installed (the message says how to install it).
        FileNotFoundError: If the file does not exist.
    """
    ort = _onnxruntime()
    if not isinstance(model, bytes):
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"ONNX model {str(model)!r} does not exist; write it with hsi-attn export RUN "
                "--format onnx --out model.onnx"
            )
        model = os.fspath(model)
    return ort.InferenceSession(model, providers=list(providers or ["CPUExecutionProvider"]))


def read_metadata(model_path: str | os.PathLike[str]) -> ExportMetadata:
    """The hsi_attn record of an exported model (class codes, patch size, pad mode, ...).

    Raises:
        ValueError: If the model was not written by ``hsi-attn export``.
    """
    return _metadata(inference_session(model_path), Path(model_path))


def _metadata(session: Any, path: Path) -> ExportMetadata:
    return ExportMetadata.from_props(session.get_modelmeta().custom_metadata_map,
                                     source=repr(str(path)))


def _other_graph(path: Path, metadata: ExportMetadata, graph: str) -> Path | None:
    """The companion file to run instead of ``path`` for ``graph``, or None to run ``path``.

    Raises:
        ValueError: If ``graph`` asks for a kind that neither file is.
    """
    companion = path.with_name(metadata.companion) if metadata.companion else None
    if graph == "auto":
        wants_dense = metadata.graph == "patch" and companion is not None and companion.is_file()
        return companion if wants_dense else None
    if graph == metadata.graph:
        return None
    if companion is None or not companion.is_file():
        raise ValueError(
            f"{str(path)!r} is the {metadata.graph} graph and no {graph} graph lies beside "
            f"it{f' (expected {companion.name})' if companion else ''}; pass graph='auto', or "
            f"export the {graph} graph (hsi-attn export RUN --graph {graph})"
        )
    return companion


class OnnxSceneClassifier:
    """An exported hsi_attn model, ready to classify raw cubes.

    Args:
        model_path: ``model.onnx`` (patch graph) or ``model.dense.onnx`` (dense graph).
        graph: ``"auto"`` (the dense graph when there is one), ``"patch"`` or ``"dense"``.
        providers: ONNX Runtime execution providers (default CPU).

    Attributes:
        path: The file that runs.
        metadata: Its :class:`~hsi_attn.export.metadata.ExportMetadata`.
    """

    def __init__(self, model_path: str | os.PathLike[str], *, graph: str = "auto",
                 providers: Sequence[str] | None = None) -> None:
        graph = check_choice(graph, "graph", choices=GRAPH_CHOICES)
        self.path = Path(model_path)
        self._session = inference_session(self.path, providers=providers)
        self.metadata = _metadata(self._session, self.path)
        other = _other_graph(self.path, self.metadata, graph)
        if other is not None:
            self.path = other
            self._session = inference_session(other, providers=providers)
            self.metadata = _metadata(self._session, other)
        self._input = self._session.get_inputs()[0].name

    @property
    def class_codes(self) -> np.ndarray:
        """Label code of each probability channel, ``(K,)`` int64."""
        return np.asarray(self.metadata.class_codes, dtype=np.int64)

    def predict(
        self,
        raw_cube: np.ndarray,
        *,
        max_memory: int = DEFAULT_MAX_MEMORY,
        tile_size: int | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Class codes ``(H, W)`` int64: the most probable class of every pixel.

        Takes the arguments of :meth:`predict_proba`.
        """
        probs = self.predict_proba(raw_cube, max_memory=max_memory, tile_size=tile_size,
                                   batch_size=batch_size)
        return self.class_codes[probs.argmax(axis=2)]

    def predict_proba(
        self,
        raw_cube: np.ndarray,
        *,
        max_memory: int = DEFAULT_MAX_MEMORY,
        tile_size: int | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Class probabilities ``(H, W, K)`` float32 for every pixel of a raw cube.

        Args:
            raw_cube: The raw ``(H, W, B_raw)`` cube (bands last; no preprocessing).
            max_memory: Approximate bound in bytes on the activations of one tile or batch.
            tile_size: Side of the dense output tiles; None derives it from ``max_memory``.
            batch_size: Patches per run of the patch graph; None derives it from
                ``max_memory``.

        Raises:
            ValueError: On a cube that is not ``(H, W, B_raw)``, NaN/Inf when the run
                does not mask them, or a non-positive budget, tile or batch size.
        """
        meta = self.metadata
        cube = self._checked(raw_cube)
        half = meta.patch_size // 2
        padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode=meta.pad_mode)
        return self.predict_padded(padded, max_memory=max_memory, tile_size=tile_size,
                                   batch_size=batch_size)

    def predict_padded(
        self,
        padded: np.ndarray,
        *,
        max_memory: int = DEFAULT_MAX_MEMORY,
        tile_size: int | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Probabilities ``(h, w, K)`` of the pixels of a raw window with its halo.

        For a tile of a larger scene (streaming prediction): ``padded`` is
        ``(h + p - 1, w + p - 1, B_raw)``, the tile and ``p // 2`` pixels around it (the
        scene's own pixels, or its mirrored edge), raw float32.

        Raises:
            ValueError: On a non-positive budget, tile or batch size, or a window
                narrower than one patch.
        """
        check_int(max_memory, "max_memory")
        for value, name in ((tile_size, "tile_size"), (batch_size, "batch_size")):
            check_int(value, name, none="derived from max_memory")
        meta = self.metadata
        halo = meta.patch_size - 1
        shape = (padded.shape[0] - halo, padded.shape[1] - halo)
        if min(shape) < 1:
            raise ValueError(f"a padded window of {padded.shape[:2]} holds no full "
                             f"{meta.patch_size}x{meta.patch_size} patch")
        start = time.perf_counter()
        if meta.graph == "dense":
            side = tile_size or max(1, math.isqrt(max(1, max_memory // meta.bytes_per_unit))
                                    - (meta.patch_size - 1))
            probs = self._dense(padded, shape, side)
        else:
            batch = batch_size or max(1, max_memory // meta.bytes_per_unit)
            probs = self._patches(padded, shape, batch)
        logger.debug("ONNX Runtime (%s graph) predicted %dx%d pixels in %.2f s", meta.graph,
                     shape[0], shape[1], time.perf_counter() - start)
        return probs

    def _checked(self, raw_cube: np.ndarray) -> np.ndarray:
        cube = np.asarray(raw_cube)
        bands = self.metadata.n_bands_raw
        if cube.ndim != 3 or min(cube.shape) < 1 or cube.dtype.kind not in "biuf":
            raise ValueError(
                f"the cube must be a non-empty numeric (H, W, {bands}) array (bands last), "
                f"got {cube.dtype} with shape {cube.shape}"
            )
        if cube.shape[2] != bands:
            raise ValueError(
                f"the cube has {cube.shape[2]} bands but {self.path.name} takes raw cubes of "
                f"{bands} bands (trained on {self.metadata.scene}); give a cube from the same "
                "sensor, bands last, before any preprocessing"
            )
        cube = np.ascontiguousarray(cube, dtype=np.float32)
        if self.metadata.nonfinite == "raise" and not np.all(np.isfinite(cube)):
            raise ValueError("the cube holds NaN or Inf values; replace or mask them before "
                             "predicting (the run was trained with nonfinite='raise')")
        return cube

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: batch})[0]

    def _dense(self, padded: np.ndarray, shape: tuple[int, int], side: int) -> np.ndarray:
        height, width = shape
        halo = self.metadata.patch_size - 1
        bands_first = padded.transpose(2, 0, 1)  # a view; each tile is copied once
        out = np.empty((height, width, self.metadata.n_classes), dtype=np.float32)
        tiles = list(tile_grid(height, width, side))
        logger.debug("dense ONNX inference: %d tile(s) of up to %dx%d pixels", len(tiles),
                     side, side)
        for top, left, h, w in tiles:
            window = bands_first[:, top:top + h + halo, left:left + w + halo]
            probs = self._run(np.ascontiguousarray(window)[None, None])
            out[top:top + h, left:left + w] = probs[0].transpose(1, 2, 0)
        return out

    def _patches(self, padded: np.ndarray, shape: tuple[int, int], batch: int) -> np.ndarray:
        height, width = shape
        p = self.metadata.patch_size
        windows = np.lib.stride_tricks.sliding_window_view(padded, (p, p), axis=(0, 1))
        out = np.empty((height * width, self.metadata.n_classes), dtype=np.float32)
        for start in range(0, height * width, batch):
            rows, cols = np.divmod(np.arange(start, min(start + batch, height * width)), width)
            patches = np.ascontiguousarray(windows[rows, cols])[:, None]
            out[start:start + len(rows)] = self._run(patches)
        return out.reshape(height, width, -1)


def predict_scene_onnx(
    model_path: str | os.PathLike[str],
    raw_cube: np.ndarray,
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    tile_size: int | None = None,
    batch_size: int | None = None,
    graph: str = "auto",
    providers: Sequence[str] | None = None,
) -> np.ndarray:
    """Class probabilities ``(H, W, K)`` for a raw cube with an exported model.

    The ONNX Runtime counterpart of ``predict_scene`` on a preprocessed cube: same
    padding, same probabilities (to float32 rounding). Channel ``k`` is the class whose
    code is ``read_metadata(model_path).class_codes[k]``.

    Args:
        model_path: ``model.onnx`` written by ``hsi-attn export`` (its dense companion
            ``model.dense.onnx`` is used when it lies beside it), or the dense file itself.
        raw_cube: The raw ``(H, W, B_raw)`` cube, bands last, not preprocessed.
        max_memory: Approximate bound in bytes on the activations of one tile or batch.
        tile_size: Dense output tile side; None derives it from ``max_memory``.
        batch_size: Patches per run when only a patch graph exists; None from ``max_memory``.
        graph: ``"auto"``, ``"patch"`` or ``"dense"``.
        providers: ONNX Runtime execution providers (default ``["CPUExecutionProvider"]``).

    Returns:
        float32 probabilities ``(H, W, K)``, summing to 1 over K.

    Raises:
        ImportError: If onnxruntime is not installed.
        FileNotFoundError: If the model file does not exist.
        ValueError: On a model without hsi_attn metadata, a cube of the wrong band count
            or shape, NaN/Inf (unless the run masks them), or bad sizes.
    """
    classifier = OnnxSceneClassifier(model_path, graph=graph, providers=providers)
    return classifier.predict_proba(raw_cube, max_memory=max_memory, tile_size=tile_size,
                                    batch_size=batch_size)


def tile_grid(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """Output tiles ``(top, left, h, w)`` of side at most ``tile`` covering the scene once.

    The same grid as :func:`hsi_attn.inference.tile_grid` (tiles of equal size up to one
    pixel), kept here because that module imports torch.
    """
    row_edges = np.linspace(0, height, math.ceil(height / tile) + 1).round().astype(int)
    col_edges = np.linspace(0, width, math.ceil(width / tile) + 1).round().astype(int)
    for top, bottom in zip(row_edges[:-1], row_edges[1:]):
        for left, right in zip(col_edges[:-1], col_edges[1:]):
            yield int(top), int(left), int(bottom - top), int(right - left)
