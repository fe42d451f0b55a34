"""What classifies the tiles of ``hsi-attn predict``: the run in PyTorch, or its ONNX export.

A :class:`PredictBackend` knows the classes (codes and names), the band count and
wavelengths the model was trained on, the files it was loaded from (so that no output
replaces them), and how to stream a cube through the model into writers:

* ``"torch"``: a run directory; the run's preprocessing and model
  (:func:`~hsi_attn.inference.stream.predict_stream`);
* ``"onnxruntime"``: a ``model.onnx`` written by ``hsi-attn export`` (its dense companion
  is used when it lies beside it); the preprocessing is inside the graph
  (:func:`~hsi_attn.inference.stream_onnx.predict_stream_onnx`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsi_attn.data.georeference import Georeference
from hsi_attn.inference.stream import ProgressCallback, StreamStats
from hsi_attn.inference.writers import TileWriter

__all__ = ["BACKENDS", "PredictBackend", "load_backend", "run_classes"]

BACKENDS = ("torch", "onnxruntime")
"""The backends ``hsi-attn predict --backend`` takes."""

StreamFunction = Callable[[Any, Sequence[TileWriter], int, ProgressCallback | None],
                          StreamStats]


@dataclass(frozen=True)
class PredictBackend:
    """A loaded model, ready to stream cubes.

    Attributes:
        name: ``"torch"`` or ``"onnxruntime"``.
        source: The run directory or the ``.onnx`` file.
        files: The files the model was loaded from (never overwritten).
        class_codes: The user's code of each class, in the model's class order.
        class_names: The name of each class, same order.
        n_bands: Bands of the raw cubes it takes.
        georef: What the run recorded of its training cube (wavelengths), or empty.
        scene: The scene (or cube) it was trained on.
        title: Model and attention, for the quicklook's title.
        stream: ``(cube, writers, max_memory, progress) -> StreamStats``.
    """

    name: str
    source: Path
    files: tuple[Path, ...]
    class_codes: tuple[int, ...]
    class_names: tuple[str, ...]
    n_bands: int
    georef: Georeference
    scene: str
    title: str
    stream: StreamFunction


def run_classes(extra: dict[str, Any]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The user's class codes and names of a trained run (codes 1..K for older runs)."""
    names = tuple(str(n) for n in extra["class_names"])
    codes = extra.get("class_codes")
    if codes is None:
        return tuple(range(1, len(names) + 1)), names
    return tuple(int(c) for c in np.asarray(codes).ravel()), names


def load_backend(name: str, source: str | Path, *, device: str | None = None
                 ) -> PredictBackend:
    """Load the model of ``source`` for backend ``name``.

    Raises:
        ValueError: If ``source`` does not fit the backend (a run directory for
            ``"onnxruntime"`` or an ``.onnx`` file for ``"torch"``: the message says
            how to get the right one), or onnxruntime is missing.
    """
    source = Path(source)
    if name == "onnxruntime":
        return _onnx_backend(source)
    if source.suffix.lower() == ".onnx":
        raise ValueError(
            f"{str(source)!r} is an exported model: predict with it using --backend "
            "onnxruntime, or give the run directory it was exported from"
        )
    return _torch_backend(source, device)


def _torch_backend(run_dir: Path, device: str | None) -> PredictBackend:
    from hsi_attn.engine import resolve_device
    from hsi_attn.inference.stream import predict_stream
    from hsi_attn.run.directory import load_run_config
    from hsi_attn.run.trained import load_trained_run

    config, _ = load_run_config(run_dir)
    target = resolve_device(device if device is not None else config.train.device)
    loaded = load_trained_run(run_dir, target)
    codes, names = run_classes(loaded.extra)

    def stream(cube: Any, writers: Sequence[TileWriter], max_memory: int,
               progress: ProgressCallback | None) -> StreamStats:
        return predict_stream(
            cube, loaded.model, loaded.preprocessor, patch_size=config.model.patch_size,
            writers=writers, pad_mode=config.data.pad_mode, max_memory=max_memory,
            batch_size=config.train.eval_batch_size, device=target, progress=progress,
        )

    return PredictBackend(
        name="torch", source=run_dir, files=tuple(p for p in run_dir.iterdir() if p.is_file()),
        class_codes=codes, class_names=names, n_bands=int(loaded.extra["n_bands_in"]),
        georef=Georeference.from_dict(loaded.extra.get("georef")),
        scene=str(loaded.extra["scene"]),
        title=f"{config.model.name} + {config.model.attention}", stream=stream,
    )


def _onnx_backend(model_path: Path) -> PredictBackend:
    if model_path.is_dir():
        raise ValueError(
            f"{str(model_path)!r} is a run directory; --backend onnxruntime runs an exported "
            f"model: hsi-attn export {model_path} --out model.onnx, then predict with "
            "model.onnx"
        )
    from hsi_attn.export.runtime import OnnxSceneClassifier
    from hsi_attn.inference.stream_onnx import predict_stream_onnx

    try:
        classifier = OnnxSceneClassifier(model_path)
    except ImportError as error:
        raise ValueError(str(error)) from None
    meta = classifier.metadata

    def stream(cube: Any, writers: Sequence[TileWriter], max_memory: int,
               progress: ProgressCallback | None) -> StreamStats:
        return predict_stream_onnx(cube, classifier, writers=writers, max_memory=max_memory,
                                   progress=progress)

    files = {model_path, classifier.path}
    if meta.companion:
        files.add(model_path.with_name(meta.companion))
    return PredictBackend(
        name="onnxruntime", source=model_path, files=tuple(sorted(files)),
        class_codes=tuple(meta.class_codes), class_names=tuple(meta.class_names),
        n_bands=meta.n_bands_raw,
        georef=Georeference(wavelengths=meta.wavelengths,
                            wavelength_units=meta.wavelength_units),
        scene=meta.scene, title=f"{meta.model} + {meta.attention} (ONNX)", stream=stream,
    )
