"""Spectral augmentation: each training patch seen under slightly different light and sensor.

A field held out of training differs from the training fields in more than its class:
illumination, soil moisture, residue and the sensor's noise shift its spectra. This
augmentation draws, per training patch, the kind of variation that separates fields
and applies it in the sensor's own band space, before the run's preprocessing:

* a brightness gain for the whole spectrum, ``s ~ N(1, gain)``;
* a gain per band, ``1 + N(0, band_gain)`` (a tilt or bump in the spectrum's shape);
* an offset per band, ``N(0, offset)`` band standard deviations;
* noise per pixel and band, ``N(0, noise)`` band standard deviations;
* band dropout: each band is replaced by the training mean with probability ``dropout``.

Patches reach training already standardised and projected on the PCA axes, so the
patch is mapped back to band space (exactly without PCA; with PCA, its projection on the
kept components, so the change is exact up to the variance PCA drops), perturbed there,
and projected again. With every strength 0 the patches come back unchanged.

The default strengths (``strength=1``) are too strong for Indian Pines: a 2 % brightness
gain moves a standardised band by about 0.4 of its spread, more than separates some
classes. On its fixed split, single-seed probes lost 10-12 points at strengths 1 and 0.2;
on the disjoint split, strength 0.1 gained +1.26 points over 5 seeds (4 of 5, p = 0.14;
``experiments/results/indian_pines_disjoint_probes/``). So it is off by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from hsi_attn.checks import check_real
from hsi_attn.data.batches import shard_of
from hsi_attn.data.preprocess import Preprocessor

__all__ = ["SpectralJitter", "SpectrallyJittered"]


@dataclass(frozen=True)
class SpectralJitter:
    """Strengths of the spectral augmentation (see the module docstring); all ``>= 0``.

    Attributes:
        gain: Std of the whole-spectrum brightness gain.
        band_gain: Std of the per-band gain.
        offset: Std of the per-band offset, in band standard deviations.
        noise: Std of the per-pixel, per-band noise, in band standard deviations.
        dropout: Probability that a band is replaced by its training mean.
    """

    gain: float = 0.1
    band_gain: float = 0.02
    offset: float = 0.05
    noise: float = 0.02
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("gain", "band_gain", "offset", "noise", "dropout"):
            value = check_real(getattr(self, name), f"spectral jitter {name}", at_least=0.0)
            object.__setattr__(self, name, float(value))
        if self.dropout >= 1.0:
            raise ValueError(f"spectral jitter dropout must be below 1, got {self.dropout}")

    @classmethod
    def scaled(cls, strength: float) -> SpectralJitter:
        """The default strengths times ``strength`` (0: off, 1: the defaults)."""
        base = cls()
        return cls(gain=base.gain * strength, band_gain=base.band_gain * strength,
                   offset=base.offset * strength, noise=base.noise * strength,
                   dropout=base.dropout)

    @property
    def is_identity(self) -> bool:
        """True when every strength is 0."""
        return not any((self.gain, self.band_gain, self.offset, self.noise, self.dropout))


class _BandSpace:
    """The preprocessing's standardisation and PCA as torch matrices, for one device."""

    def __init__(self, preprocessor: Preprocessor, device: torch.device,
                 dtype: torch.dtype) -> None:
        def tensor(values: np.ndarray) -> Tensor:
            return torch.as_tensor(np.asarray(values), dtype=dtype, device=device)

        # z = (x - offset) / scale, so x = z * scale + offset; the mean spectrum in z
        # units is what a per-band gain scales about the origin of x.
        self.origin = tensor(preprocessor.offset / preprocessor.scale)
        components = preprocessor.pca_components
        self.components = None if components is None else tensor(components)
        self.pca_mean = None if components is None else tensor(preprocessor.pca_mean)

    def to_bands(self, features: Tensor) -> Tensor:
        """``(N, P, D)`` preprocessed features -> ``(N, P, B)`` standardised bands."""
        if self.components is None:
            return features
        return features @ self.components + self.pca_mean

    def to_features(self, bands: Tensor) -> Tensor:
        if self.components is None:
            return bands
        return (bands - self.pca_mean) @ self.components.T


def jitter_patches(patches: Tensor, space: _BandSpace, strengths: SpectralJitter,
                   generator: torch.Generator | None) -> Tensor:
    """Apply a random spectral perturbation per patch of ``(N, 1, D, p, p)``."""
    n, _, depth, height, width = patches.shape
    features = patches.reshape(n, depth, height * width).transpose(1, 2)
    bands = space.to_bands(features)  # (N, P, B) in band standard deviations
    b = bands.shape[2]

    def normal(*shape: int) -> Tensor:
        draw = torch.randn(shape, generator=generator, dtype=patches.dtype)
        return draw.to(patches.device)

    gain = 1.0 + strengths.gain * normal(n, 1, 1)
    gain = gain * (1.0 + strengths.band_gain * normal(n, 1, b))
    # Gains act on the raw spectrum x = z * scale + offset, i.e. on z + origin.
    raw = bands + space.origin
    raw = raw * gain + strengths.offset * normal(n, 1, b)
    if strengths.noise:
        raw = raw + strengths.noise * normal(n, height * width, b)
    jittered = raw - space.origin
    if strengths.dropout:
        keep = torch.rand((n, 1, b), generator=generator) >= strengths.dropout
        jittered = jittered * keep.to(device=patches.device, dtype=patches.dtype)
    out = space.to_features(jittered)
    return out.transpose(1, 2).reshape(n, 1, depth, height, width).contiguous()


class SpectrallyJittered:
    """A batch source whose patches get :class:`SpectralJitter` (training only).

    Wraps any :class:`~hsi_attn.engine.BatchSource` of ``(N, 1, D, p, p)`` patches
    preprocessed by ``preprocessor``; draws from the loop's generator, so a seeded run
    stays reproducible and resumes exactly.

    Args:
        source: The training batches.
        preprocessor: The run's fitted preprocessing (its standardisation and PCA).
        strengths: How strong each perturbation is.
    """

    def __init__(self, source: object, preprocessor: Preprocessor,
                 strengths: SpectralJitter) -> None:
        self.source = source
        self.preprocessor = preprocessor
        self.strengths = strengths
        self.labels: Tensor = source.labels  # type: ignore[attr-defined]
        self._spaces: dict[tuple[torch.device, torch.dtype], _BandSpace] = {}

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def sharded(self, rank: int, world_size: int) -> SpectrallyJittered:
        """This source as rank ``rank`` of ``world_size`` processes reads it (``torchrun``).

        Each rank jitters its own shard of every global batch; the ranks' generators stay
        in step (equal shards draw equally many numbers), so the run is reproducible,
        although the draws differ from a single process's for the same global batch.

        Raises:
            ValueError: If the wrapped source cannot be sharded.
        """
        return SpectrallyJittered(shard_of(self.source, rank, world_size), self.preprocessor,
                                  self.strengths)

    def batches(self, generator: torch.Generator | None = None
                ) -> Iterator[tuple[Tensor, Tensor]]:
        """The wrapped source's batches, each patch spectrally jittered."""
        for patches, labels in self.source.batches(generator):  # type: ignore[attr-defined]
            if not self.strengths.is_identity:
                key = (patches.device, patches.dtype)
                if key not in self._spaces:
                    self._spaces[key] = _BandSpace(self.preprocessor, *key)
                patches = jitter_patches(patches, self._spaces[key], self.strengths, generator)
            yield patches, labels
