"""Per-band normalisation and optional PCA, fitted on training pixels only.

Fitting statistics on the whole scene lets the test pixels shape the features the
network is trained on, a quiet form of leakage. :func:`fit_preprocessor` takes the
training coordinates and nothing else; :meth:`Preprocessor.transform` then applies
the same mapping to the whole cube (which every patch of every set needs).

Non-finite values (NaN, +-Inf) never reach training: by default they are an error
that names how many there are and in which bands; with ``nonfinite="mask"`` they are
replaced by the band's training statistic (the neutral value 0 after normalisation)
with a warning.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsi_attn.registry import lookup, make_registry

logger = logging.getLogger(__name__)

_ROWS_PER_CHUNK_ELEMENTS = 1 << 22


class NonFiniteWarning(RuntimeWarning):
    """NaN/Inf values in a cube were replaced (``nonfinite="mask"``)."""


def _standard(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.nanmean(spectra, axis=0)
    std = np.nanstd(spectra, axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def _minmax(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.nanmin(spectra, axis=0)
    span = np.nanmax(spectra, axis=0) - low
    return low, np.where(span > 1e-12, span, 1.0)


def _identity(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bands = spectra.shape[1]
    return np.zeros(bands), np.ones(bands)


NORMALIZATIONS: Mapping[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = make_registry(
    [("standard", _standard), ("minmax", _minmax), ("none", _identity)], kind="normalization"
)
"""Normalisation name -> function giving per-band ``(offset, scale)`` from training spectra."""

NONFINITE_POLICIES = ("raise", "mask")


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """A fitted mapping ``x -> ((x - offset) / scale - pca_mean) @ pca_components.T``.

    Attributes:
        normalization: ``"standard"``, ``"minmax"`` or ``"none"``.
        offset: ``(B,)`` per-band offset (mean or minimum of the training pixels).
        scale: ``(B,)`` per-band scale (std or range; 1 for constant bands).
        pca_mean: ``(B,)`` mean removed before projection, or None without PCA.
        pca_components: ``(k, B)`` principal axes, or None without PCA.
        explained_variance_ratio: ``(k,)`` variance share of each component, or None.
        nonfinite: ``"raise"`` or ``"mask"`` (see module docstring).
    """

    normalization: str
    offset: np.ndarray
    scale: np.ndarray
    pca_mean: np.ndarray | None = None
    pca_components: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None
    nonfinite: str = "raise"

    @property
    def n_bands_in(self) -> int:
        """Bands the cube must have."""
        return int(self.offset.shape[0])

    @property
    def n_bands_out(self) -> int:
        """Bands of the transformed cube (PCA components, or the input bands)."""
        return self.n_bands_in if self.pca_components is None else int(self.pca_components.shape[0])

    def affine(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The mapping with PCA as one affine map ``x @ weights + bias``, or None without PCA.

        ``((x - offset) / scale - pca_mean) @ C.T`` is ``x @ (C / scale).T - ((offset /
        scale + pca_mean) @ C.T)``: one matrix product instead of four passes over the
        raw spectra, equal in float64 up to rounding (about 1e-15 relative). Without PCA
        the mapping is elementwise and gains nothing from folding.

        Returns:
            ``(weights (B, B'), bias (B',))`` float64, or None.
        """
        if self.pca_components is None or self.pca_mean is None:
            return None
        weights = np.ascontiguousarray((self.pca_components / self.scale).T)
        bias = -((self.offset / self.scale + self.pca_mean) @ self.pca_components.T)
        return weights, bias

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """Apply the fitted mapping to a whole ``(H, W, B)`` cube.

        Works in row chunks, so the float64 working copy stays small.

        Returns:
            ``(H, W, B')`` float32, ``B' = n_bands_out``.

        Raises:
            ValueError: On a cube with another band count, or non-finite values when
                ``nonfinite="raise"``.
        """
        cube = _check_cube(cube)
        if cube.shape[2] != self.n_bands_in:
            raise ValueError(
                f"cube has {cube.shape[2]} bands but the preprocessor was fitted on "
                f"{self.n_bands_in}; use the cube it was fitted for"
            )
        _handle_nonfinite(cube, self.nonfinite, where="cube passed to transform")
        height, width, bands = cube.shape
        out = np.empty((height, width, self.n_bands_out), dtype=np.float32)
        step = max(1, _ROWS_PER_CHUNK_ELEMENTS // max(1, width * bands))
        for start in range(0, height, step):
            block = cube[start:start + step].astype(np.float64)
            if self.nonfinite == "mask":
                bad = ~np.isfinite(block)
                if bad.any():
                    block[bad] = np.broadcast_to(self.offset, block.shape)[bad]
            block = (block - self.offset) / self.scale
            if self.pca_components is not None:
                block = (block - self.pca_mean) @ self.pca_components.T
            out[start:start + step] = block
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain state for a checkpoint: numpy arrays and strings (PCA keys only with PCA)."""
        state: dict[str, Any] = {
            "normalization": self.normalization,
            "nonfinite": self.nonfinite,
            "offset": np.asarray(self.offset, dtype=np.float64),
            "scale": np.asarray(self.scale, dtype=np.float64),
        }
        if self.pca_components is not None:
            state["pca_mean"] = np.asarray(self.pca_mean, dtype=np.float64)
            state["pca_components"] = np.asarray(self.pca_components, dtype=np.float64)
            state["explained_variance_ratio"] = np.asarray(
                self.explained_variance_ratio, dtype=np.float64
            )
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`state_dict` output.

        Raises:
            ValueError: On missing keys or inconsistent shapes.
        """
        missing = [k for k in ("normalization", "offset", "scale") if k not in state]
        if missing:
            raise ValueError(f"preprocessor state lacks {missing}; was it made by state_dict()?")
        lookup(NORMALIZATIONS, str(state["normalization"]), kind="normalization")
        offset = np.asarray(state["offset"], dtype=np.float64)
        scale = np.asarray(state["scale"], dtype=np.float64)
        components = state.get("pca_components")
        if offset.shape != scale.shape or offset.ndim != 1:
            raise ValueError(f"offset {offset.shape} and scale {scale.shape} must be equal (B,)")
        if components is not None and np.asarray(components).shape[1:] != offset.shape:
            raise ValueError("pca_components do not match the number of bands")
        return cls(
            normalization=str(state["normalization"]),
            offset=offset,
            scale=scale,
            pca_mean=None if components is None else np.asarray(state["pca_mean"], np.float64),
            pca_components=None if components is None else np.asarray(components, np.float64),
            explained_variance_ratio=(
                None if components is None
                else np.asarray(state.get("explained_variance_ratio"), np.float64)
            ),
            nonfinite=str(state.get("nonfinite", "raise")),
        )


def _check_cube(cube: np.ndarray) -> np.ndarray:
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"cube must be 3-D (H, W, B), got shape {cube.shape}")
    if cube.dtype.kind not in "biuf":
        raise ValueError(f"cube has non-numeric dtype {cube.dtype}")
    return cube


def _handle_nonfinite(values: np.ndarray, policy: str, *, where: str) -> None:
    if values.dtype.kind != "f":
        return
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count == 0:
        return
    bands = np.flatnonzero(bad.reshape(-1, values.shape[-1]).any(axis=0))
    shown = bands[:10].tolist()
    if policy == "raise":
        raise ValueError(
            f"{where} holds {count} NaN/Inf values (in bands {shown}"
            f"{'...' if len(bands) > 10 else ''}). They must not reach training. Fix the data, "
            "or pass nonfinite='mask' to replace them by the band's training statistic "
            "(0 after normalisation)."
        )
    warnings.warn(
        f"{where} holds {count} NaN/Inf values in bands {shown}"
        f"{'...' if len(bands) > 10 else ''}; they are replaced by each band's training "
        "statistic (0 after normalisation) because nonfinite='mask'.",
        NonFiniteWarning,
        stacklevel=3,
    )


def _check_coords(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.dtype.kind not in "iu":
        raise ValueError(
            f"train_coords must be (n, 2) integer (row, col) coordinates, got dtype "
            f"{coords.dtype} with shape {coords.shape} (pass split.train)"
        )
    if len(coords) == 0:
        raise ValueError("train_coords is empty; there is nothing to fit on")
    if coords.min() < 0 or coords[:, 0].max() >= shape[0] or coords[:, 1].max() >= shape[1]:
        raise ValueError(f"train_coords fall outside the {shape[0]}x{shape[1]} cube")
    return coords.astype(np.int64)


def fit_preprocessor(
    cube: np.ndarray,
    train_coords: np.ndarray,
    *,
    normalization: str = "standard",
    pca: int | None = None,
    seed: int = 0,
    nonfinite: str = "raise",
) -> Preprocessor:
    """Fit normalisation (and PCA) on the training pixels of ``cube`` only.

    Args:
        cube: ``(H, W, B)`` cube.
        train_coords: ``(n, 2)`` ``(row, col)`` of the training pixels (``split.train``).
        normalization: ``"standard"`` (zero mean, unit variance per band),
            ``"minmax"`` (to [0, 1] on the training pixels) or ``"none"``.
        pca: Number of principal components kept (fitted on the normalised training
            spectra), or None to keep every band.
        seed: Seed for the PCA solver.
        nonfinite: ``"raise"`` (default) or ``"mask"``; see the module docstring.

    Returns:
        The fitted :class:`Preprocessor`.

    Raises:
        ValueError: On an unknown normalisation (with suggestions), a bad ``pca``, bad
            coordinates, or NaN/Inf with ``nonfinite="raise"``.
    """
    normalize = lookup(NORMALIZATIONS, normalization, kind="normalization")
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    cube = _check_cube(cube)
    coords = _check_coords(train_coords, cube.shape)
    _handle_nonfinite(cube, nonfinite, where="cube")
    spectra = cube[coords[:, 0], coords[:, 1]].astype(np.float64)
    spectra[~np.isfinite(spectra)] = np.nan
    empty = np.flatnonzero(np.all(np.isnan(spectra), axis=0))
    if empty.size:
        raise ValueError(
            f"bands {empty[:10].tolist()} have no finite value at any training pixel; drop "
            "those bands from the cube"
        )
    offset, scale = normalize(spectra)
    offset = np.asarray(offset, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    fitted = Preprocessor(normalization=normalization.strip().lower(), offset=offset,
                          scale=scale, nonfinite=nonfinite)
    if pca is None:
        return fitted
    bands = cube.shape[2]
    if isinstance(pca, bool) or not isinstance(pca, numbers.Integral) or not (
        1 <= pca <= min(bands, len(coords))
    ):
        raise ValueError(
            f"pca={pca!r}: the number of components must be an int in "
            f"[1, min(bands={bands}, training pixels={len(coords)})], or None for no PCA"
        )
    from sklearn.decomposition import PCA

    normalised = (np.where(np.isnan(spectra), offset, spectra) - offset) / scale
    model = PCA(n_components=int(pca), svd_solver="full", random_state=seed).fit(normalised)
    logger.info(
        "PCA on %d training pixels: %d components keep %.3f of the variance",
        len(coords), pca, float(model.explained_variance_ratio_.sum()),
    )
    return Preprocessor(
        normalization=fitted.normalization,
        offset=offset,
        scale=scale,
        pca_mean=model.mean_.astype(np.float64),
        pca_components=model.components_.astype(np.float64),
        explained_variance_ratio=model.explained_variance_ratio_.astype(np.float64),
        nonfinite=nonfinite,
    )
