"""A trained run to ONNX files: export, check against PyTorch, then write atomically.

``hsi-attn export RUN --format onnx --out model.onnx`` writes, for a model with a dense
twin, two files (the default ``--graph both``):

* ``model.onnx``, the **patch graph**: raw patches ``(N, 1, B_raw, p, p)`` float32 to
  probabilities ``(N, K)``, N dynamic;
* ``model.dense.onnx``, the **dense graph** (the name is ``--out`` with ``.dense``
  before ``.onnx``): a raw tile with its halo ``(N, 1, B_raw, h + p - 1, w + p - 1)``
  to probabilities ``(N, K, h, w)``, N, height and width dynamic.

Both take raw spectra (standardisation and PCA are their first operations,
:mod:`hsi_attn.export.preprocessing`) and end in a softmax; each names the other in its
metadata (``companion``), so :func:`~hsi_attn.export.runtime.predict_scene_onnx` given
``model.onnx`` runs the dense graph beside it. A model without a dense twin gets the
patch graph only. Every graph is exported and checked against PyTorch
(:mod:`hsi_attn.export.validation`) before anything is written; files are written to a
temporary name in the same folder and renamed, and existing files are replaced only
with ``overwrite``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsi_attn.checks import check_choice, check_real
from hsi_attn.data.georeference import Georeference
from hsi_attn.engine.atomic import atomic_write
from hsi_attn.export.conversion import ONNX_OPSET, to_onnx, with_metadata
from hsi_attn.export.graphs import DenseProbabilities, PatchProbabilities, activation_bytes
from hsi_attn.export.metadata import ExportMetadata
from hsi_attn.export.validation import check_against_torch, validation_inputs
from hsi_attn.models.dense import DenseCapable
from hsi_attn.run.trained import TrainedRun, load_trained_run

__all__ = ["EXPORT_GRAPHS", "ExportResult", "dense_graph_path", "export_onnx", "export_run"]

logger = logging.getLogger(__name__)

EXPORT_GRAPHS = ("both", "patch", "dense")
"""``both``: the patch graph, and the dense graph where the model has a dense twin."""

_LAYOUTS = {
    "patch": ("N,1,B_raw,p,p", "N,K"),
    "dense": ("N,1,B_raw,h+p-1,w+p-1", "N,K,h,w"),
}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        paths: Graph kind (``"patch"``, ``"dense"``) -> file written.
        max_abs_difference: Graph kind -> largest |ONNX Runtime - PyTorch| probability
            seen in validation.
    """

    paths: dict[str, Path]
    max_abs_difference: dict[str, float]


def dense_graph_path(out: str | os.PathLike[str]) -> Path:
    """Where the dense graph goes for ``--out``: ``model.onnx`` -> ``model.dense.onnx``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.dense{out.suffix}")


def _targets(out: Path, graph: str, dense_capable: bool, overwrite: bool) -> dict[str, Path]:
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out {str(out)!r} must end in .onnx (e.g. model.onnx)")
    if graph == "dense" and not dense_capable:
        raise ValueError("--graph dense needs a model with a dense twin; this run's model has "
                         "none: use --graph patch (or both, which writes the patch graph)")
    kinds = {"both": ["patch", "dense"] if dense_capable else ["patch"],
             "patch": ["patch"], "dense": ["dense"]}[graph]
    targets = {k: out if k == "patch" else dense_graph_path(out) for k in kinds}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exists; pass --overwrite to "
                              "replace it, or choose another --out")
    return targets


def _metadata(trained: TrainedRun, kind: str, companion: str | None, n_bytes: int
              ) -> ExportMetadata:
    from hsi_attn import __version__

    extra, config = trained.extra, trained.config
    n_classes = int(extra.get("n_classes", trained.model.n_classes))  # type: ignore[arg-type]
    codes = extra.get("class_codes")
    codes = list(range(1, n_classes + 1)) if codes is None else [int(c) for c in codes]
    names = [str(n) for n in extra.get("class_names", [f"class {c}" for c in codes])]
    georef = extra.get("georef")
    if not isinstance(georef, Georeference):
        georef = Georeference.from_dict(georef)
    return ExportMetadata(
        graph=kind, input_layout=_LAYOUTS[kind][0], output_layout=_LAYOUTS[kind][1],
        class_codes=tuple(codes), class_names=tuple(names),
        patch_size=config.model.patch_size, n_bands_raw=trained.preprocessor.n_bands_in,
        n_bands_model=trained.preprocessor.n_bands_out, n_classes=n_classes,
        pad_mode=config.data.pad_mode, nonfinite=trained.preprocessor.nonfinite,
        normalization=trained.preprocessor.normalization, model=config.model.name,
        attention=config.model.attention, scene=str(extra.get("scene", config.data.scene)),
        wavelengths=georef.wavelengths, wavelength_units=georef.wavelength_units,
        hsi_attn_version=__version__, opset=ONNX_OPSET, bytes_per_unit=n_bytes,
        companion=companion,
    )


def _export_graph(trained: TrainedRun, kind: str, companion: str | None,
                  cube: np.ndarray | None, atol: float) -> tuple[bytes, float]:
    """One graph exported, described and checked: its bytes and its largest difference."""
    p = trained.config.model.patch_size
    bands = trained.preprocessor.n_bands_in
    if kind == "patch":
        module: PatchProbabilities | DenseProbabilities = PatchProbabilities(
            trained.model, trained.preprocessor)
        example = torch.zeros(3, 1, bands, p, p)
        input_axes, output_axes = {0: ("batch", 1)}, {0: "batch"}
        names = ("patches", "probabilities")
    else:
        module = DenseProbabilities(trained.model, trained.preprocessor)
        example = torch.zeros(1, 1, bands, p + 6, p + 4)
        input_axes = {0: ("batch", 1), 3: ("padded_height", p), 4: ("padded_width", p)}
        output_axes = {0: "batch", 2: "height", 3: "width"}
        names = ("tile", "probabilities")
    proto = to_onnx(module, example, input_name=names[0], output_name=names[1],
                    input_axes=input_axes, output_axes=output_axes)
    metadata = _metadata(trained, kind, companion, activation_bytes(module, bands, p))
    doc = (f"hsi_attn {trained.config.model.name} + {trained.config.model.attention}, "
           f"{kind} graph: raw {metadata.input_layout} float32 -> probabilities "
           f"{metadata.output_layout} (standardisation/PCA and softmax included)")
    model_bytes = with_metadata(proto, metadata, doc).SerializeToString()
    inputs = validation_inputs(kind, trained.preprocessor, p, cube=cube)
    return model_bytes, check_against_torch(module, model_bytes, inputs, graph=kind, atol=atol)


def export_onnx(
    trained: TrainedRun,
    out: str | os.PathLike[str],
    *,
    graph: str = "both",
    overwrite: bool = False,
    validation_cube: np.ndarray | None = None,
    atol: float = 1e-5,
) -> ExportResult:
    """Export a trained model, preprocessing and softmax included, to ONNX files.

    Args:
        trained: The run (:func:`~hsi_attn.run.trained.load_trained_run`): its model,
            fitted preprocessing, configuration and ``extra`` (``class_names``, and
            optionally ``class_codes`` and ``georef`` with ``wavelengths``).
        out: The patch graph's path, ending in ``.onnx``; the dense graph goes to
            :func:`dense_graph_path`.
        graph: ``"both"``, ``"patch"`` or ``"dense"`` (see :data:`EXPORT_GRAPHS`).
        overwrite: Replace existing files.
        validation_cube: A raw ``(H, W, B_raw)`` cube whose windows check the graphs;
            None draws spectra around the training statistics.
        atol: Largest accepted |ONNX Runtime - PyTorch| probability.

    Returns:
        The files written and the differences measured.

    Raises:
        FileExistsError: If a target exists and ``overwrite`` is False (checked first).
        ValueError: On a bad ``graph``, ``out`` or ``atol``, ``graph="dense"`` for a model
            without a dense twin, or a graph that does not match PyTorch
            (:class:`~hsi_attn.export.validation.ExportValidationError`).
        ImportError: If onnx, onnxscript or onnxruntime is missing.
    """
    graph = check_choice(graph, "graph", choices=EXPORT_GRAPHS)
    check_real(atol, "atol", above=0.0)
    dense_capable = isinstance(trained.model, DenseCapable)
    targets = _targets(Path(out), graph, dense_capable, overwrite)
    if graph == "both" and not dense_capable:
        logger.info("%s has no dense twin: writing the patch graph only",
                    trained.config.model.name)
    blobs: dict[str, bytes] = {}
    differences: dict[str, float] = {}
    for kind, path in targets.items():
        other = next((p.name for k, p in targets.items() if k != kind), None)
        blobs[kind], differences[kind] = _export_graph(trained, kind, other, validation_cube,
                                                       atol)
    for kind, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(blobs[kind])
        logger.info("wrote the %s graph to %s (%.1f MB)", kind, path, len(blobs[kind]) / 1e6)
    return ExportResult(paths=dict(targets), max_abs_difference=differences)


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], **options: Any
               ) -> ExportResult:
    """:func:`export_onnx` of the run in ``run_dir`` (loaded on the CPU).

    Args:
        run_dir: A run directory written by ``hsi-attn train``.
        out: The patch graph's path (``.onnx``).
        **options: ``graph``, ``overwrite``, ``validation_cube``, ``atol`` of
            :func:`export_onnx`.

    Raises:
        RunDirectoryError: If ``run_dir`` is not a run directory.
        CheckpointError: If its checkpoint is missing or does not match its config.
    """
    return export_onnx(load_trained_run(Path(run_dir), torch.device("cpu")), out, **options)
