"""What an exported ONNX model says about itself, in its ``metadata_props``.

An ONNX model carries string key/value pairs (``metadata_props``; ONNX Runtime reads them
as ``session.get_modelmeta().custom_metadata_map``). A deployment needs them to use the
model without the run directory: which class code each output is, how the borders are
padded, which band count the raw cube must have. :class:`ExportMetadata` is that record;
lists are stored as JSON text, numbers as decimal text.

This module imports neither torch nor onnx: the runtime (:mod:`hsi_attn.export.runtime`)
reads the record with numpy and ONNX Runtime only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["GRAPH_KINDS", "METADATA_VERSION", "ExportMetadata"]

METADATA_VERSION = "1"
"""Version of the key set below; a reader refuses a model written with another."""

GRAPH_KINDS = ("patch", "dense")
"""``patch``: patches ``(N, 1, B_raw, p, p)`` to probabilities ``(N, K)``. ``dense``: a
tile of the padded cube ``(N, 1, B_raw, h + p - 1, w + p - 1)`` to ``(N, K, h, w)``."""

_JSON_FIELDS = ("class_codes", "class_names", "wavelengths")
_INT_FIELDS = ("patch_size", "n_bands_raw", "n_bands_model", "n_classes", "opset",
               "bytes_per_unit")


@dataclass(frozen=True)
class ExportMetadata:
    """The record stored in an exported model's ``metadata_props``.

    Attributes:
        graph: ``"patch"`` or ``"dense"`` (see :data:`GRAPH_KINDS`).
        input_layout: The input's axes, e.g. ``"N,1,B_raw,p,p"``.
        output_layout: The output's axes, e.g. ``"N,K"``.
        class_codes: Label code of each output channel, in order (1..K by default).
        class_names: Name of each class, in the same order.
        patch_size: Odd window side p; the dense graph's halo is ``p // 2`` per side.
        n_bands_raw: Bands of the raw cube the model takes (before standardisation/PCA).
        n_bands_model: Bands the network sees (PCA components, or ``n_bands_raw``).
        n_classes: K.
        pad_mode: How the cube's borders are padded (numpy's ``"reflect"`` or
            ``"symmetric"``), as in training.
        nonfinite: ``"raise"`` (NaN/Inf are an error) or ``"mask"`` (the graph replaces
            them by the band's training offset).
        normalization: The folded normalisation (``"standard"``, ``"minmax"``, ``"none"``).
        model: Model family name.
        attention: Attention name.
        scene: Scene (or cube) the run was trained on.
        wavelengths: Centre wavelength of each raw band, or None when unknown.
        wavelength_units: Their units, or None.
        hsi_attn_version: Version of hsi_attn that exported the model.
        opset: ONNX opset of the graph.
        bytes_per_unit: Approximate activation bytes per padded input pixel (dense) or
            per patch (patch), measured at export; the runtime sizes tiles and batches
            from it.
        companion: File name of the other graph written beside this one, or None.
    """

    graph: str
    input_layout: str
    output_layout: str
    class_codes: tuple[int, ...]
    class_names: tuple[str, ...]
    patch_size: int
    n_bands_raw: int
    n_bands_model: int
    n_classes: int
    pad_mode: str
    nonfinite: str
    normalization: str
    model: str
    attention: str
    scene: str
    wavelengths: tuple[float, ...] | None
    wavelength_units: str | None
    hsi_attn_version: str
    opset: int
    bytes_per_unit: int
    companion: str | None = None

    def __post_init__(self) -> None:
        if self.graph not in GRAPH_KINDS:
            raise ValueError(f"graph must be one of {', '.join(GRAPH_KINDS)}, got {self.graph!r}")
        for name in ("class_codes", "class_names"):
            if len(getattr(self, name)) != self.n_classes:
                raise ValueError(
                    f"{name} has {len(getattr(self, name))} entries for {self.n_classes} "
                    "classes; give one per output channel"
                )
        if self.wavelengths is not None and len(self.wavelengths) != self.n_bands_raw:
            raise ValueError(
                f"{len(self.wavelengths)} wavelengths for {self.n_bands_raw} raw bands; "
                "give one per band, or None"
            )

    def to_props(self) -> dict[str, str]:
        """The record as ``metadata_props`` strings (None fields are left out)."""
        props = {"hsi_attn.metadata_version": METADATA_VERSION}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            listed = field.name in _JSON_FIELDS
            props[field.name] = json.dumps(list(value)) if listed else str(value)
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, str], *, source: str = "the model") -> ExportMetadata:
        """Read the record back from ``metadata_props``.

        Args:
            props: The key/value pairs (ONNX Runtime's ``custom_metadata_map``).
            source: What to call the model in error messages (its path).

        Raises:
            ValueError: If the model was not exported by ``hsi-attn export`` (or by
                another metadata version), or a value is malformed.
        """
        version = props.get("hsi_attn.metadata_version")
        if version != METADATA_VERSION:
            raise ValueError(
                f"{source} has no hsi_attn metadata of version {METADATA_VERSION} (found "
                f"{version!r}); export it with hsi-attn export RUN --format onnx"
            )
        names = [f.name for f in fields(cls)]
        optional = {"wavelengths", "wavelength_units", "companion"}
        missing = [n for n in names if n not in props and n not in optional]
        if missing:
            raise ValueError(f"{source}'s metadata lacks {missing}; export it again")
        values: dict[str, Any] = {}
        try:
            for name in names:
                text = props.get(name)
                if text is None:
                    values[name] = None
                elif name in _JSON_FIELDS:
                    values[name] = tuple(json.loads(text))
                elif name in _INT_FIELDS:
                    values[name] = int(text)
                else:
                    values[name] = text
            values["class_codes"] = tuple(int(c) for c in values["class_codes"])
            values["class_names"] = tuple(str(c) for c in values["class_names"])
            if values["wavelengths"] is not None:
                values["wavelengths"] = tuple(float(w) for w in values["wavelengths"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}'s metadata is malformed ({exc}); export it again") from None
        return cls(**values)
