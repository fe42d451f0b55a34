"""A torch module to an in-memory ONNX model, with dynamic axes and hsi_attn metadata.

Which exporter (torch 2.13, onnxscript 0.7, onnx 1.23, ONNX Runtime 1.32, November 2026):

* the **dynamo-based exporter** (``torch.onnx.export(..., dynamo=True)``, torch 2.13's
  default; needs onnxscript) exports every model family with every 3-D attention, patch
  graphs and dense twins, with dynamic batch, height and width; ONNX Runtime matched
  PyTorch to within 2e-6 in probability on all of them. It is the one used;
* the TorchScript-based exporter (``dynamo=False``) also exported the patch graphs of
  ``resnet3d`` and ``hybridsn`` and the ``resnet3d`` dense twin correctly (6e-8) when the
  exported module was in evaluation mode, but a wrapper left in training mode around
  evaluation-mode networks came out silently wrong (off by up to 0.5 in probability).
  It is kept as the fallback for a module the dynamo exporter cannot trace.

Either way every exported module is in evaluation mode (:mod:`hsi_attn.export.graphs`)
and every graph is checked against PyTorch before it is written
(:mod:`hsi_attn.export.validation`), so a wrong graph is an error, not a file.

The opset is :data:`ONNX_OPSET` = 18: every operation these graphs use exists there,
and ONNX Runtime supports it from version 1.14 on, so older deployment runtimes load
the models too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from hsi_attn.export.metadata import ExportMetadata

__all__ = ["ONNX_OPSET", "to_onnx", "with_metadata"]

logger = logging.getLogger(__name__)

ONNX_OPSET = 18


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the exporter's log lines and internal deprecation warnings off the terminal.

    They are about torch's own code (``torchvision is not installed``, pytree
    deprecations), not about the model; the warnings go to this module's debug log.
    (``verbose=False`` keeps the dynamo exporter's progress lines off stdout.)
    """
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for each, level in zip(loggers, levels):
            each.setLevel(level)
    for warning in caught:
        logger.debug("exporter warning: %s", warning.message)


def to_onnx(
    module: nn.Module,
    example: Tensor,
    *,
    input_name: str,
    output_name: str,
    input_axes: Mapping[int, tuple[str, int]],
    output_axes: Mapping[int, str],
) -> Any:
    """Export ``module`` (one input, one output) to an ``onnx.ModelProto`` in memory.

    Args:
        module: The module, in evaluation mode.
        example: An input of the right dtype and fixed sizes.
        input_name: Name of the graph's input.
        output_name: Name of the graph's output.
        input_axes: Dynamic input axes: axis -> (name, smallest size).
        output_axes: Dynamic output axes: axis -> name (for the fallback exporter).

    Returns:
        The ``onnx.ModelProto``, weights included, opset :data:`ONNX_OPSET`.

    Raises:
        ValueError: If a submodule is in training mode (exported graphs are for
            inference), or neither exporter can export the module.
    """
    training = [name or "the module" for name, each in module.named_modules() if each.training]
    if training:
        raise ValueError(f"{training[0]!r} is in training mode; call .eval() before exporting")
    dynamic = {axis: torch.export.Dim(name, min=minimum)
               for axis, (name, minimum) in input_axes.items()}
    names = {"input_names": [input_name], "output_names": [output_name]}
    try:
        with _quiet_exporter():
            program = torch.onnx.export(module, (example,), dynamo=True, verbose=False,
                                        opset_version=ONNX_OPSET, dynamic_shapes=(dynamic,),
                                        **names)
        return program.model_proto  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - any exporter failure falls back, then reports
        first = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        logger.warning("the dynamo ONNX exporter failed on %s (%s); trying the TorchScript "
                       "exporter (dynamo=False)", type(module).__name__, first)
    buffer = io.BytesIO()
    try:
        with _quiet_exporter():
            torch.onnx.export(
                module, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
                dynamic_axes={input_name: {a: n for a, (n, _) in input_axes.items()},
                              output_name: dict(output_axes)},
                **names,
            )
    except Exception as exc:  # noqa: BLE001 - reported with both causes
        raise ValueError(
            f"neither ONNX exporter can export {type(module).__name__}: dynamo failed with "
            f"{first}; TorchScript with {type(exc).__name__}: {str(exc).splitlines()[0]}. "
            "Report it with the model family and attention name."
        ) from exc
    import onnx

    return onnx.load_from_string(buffer.getvalue())


def with_metadata(proto: Any, metadata: ExportMetadata, doc: str) -> Any:
    """``proto`` with the hsi_attn record in ``metadata_props`` and a producer and doc string.

    The exporter's own per-node properties stay; a key of the record replaces any
    property of the same name.
    """
    from hsi_attn import __version__

    props = metadata.to_props()
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    for key, value in [*kept, *props.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "hsi_attn"
    proto.producer_version = __version__
    proto.doc_string = doc
    return proto
