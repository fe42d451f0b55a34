"""The fitted preprocessing as the first operations of an exported graph.

A :class:`~hsi_attn.data.Preprocessor` maps each pixel's spectrum on its own:
``x -> ((x - offset) / scale - pca_mean) @ pca_components.T``. On a patch or tile
``(N, 1, B_raw, H, W)`` that is a 1 x 1 x 1-style linear map on the band axis (no
spatial mixing), which :class:`SpectralPreprocessing` applies as the same operations in
the same order, so the run's pickled preprocessing is no longer needed beside the model.

It computes in float64, as :meth:`Preprocessor.transform <hsi_attn.data.Preprocessor.transform>`
does: raw spectra are large numbers (Indian Pines' are in the thousands), and in float32
the 30 PCA features of Indian Pines moved by up to 3.8e-5 (7e-6 of a component's
standard deviation) from ``transform``'s; in float64 they equal them exactly (measured
on the whole scene, November 2026). The network then gets float32, as in training.
Reflect padding commutes with a per-pixel map, so padding the raw cube (the runtime)
and padding the preprocessed cube (:func:`~hsi_attn.inference.predict_scene`) agree.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from hsi_attn.data.preprocess import Preprocessor

__all__ = ["SpectralPreprocessing"]


class SpectralPreprocessing(nn.Module):
    """A fitted :class:`~hsi_attn.data.Preprocessor` on the band axis of 5-D inputs.

    Args:
        preprocessor: The run's fitted preprocessing.
        dtype: Dtype of the arithmetic (float64, as ``Preprocessor.transform``).

    Shape:
        Input ``(N, 1, B_raw, H, W)`` float32 raw spectra; output ``(N, 1, B, H, W)``
        float32, ``B = preprocessor.n_bands_out``.
    """

    def __init__(self, preprocessor: Preprocessor, *, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.n_bands_in = preprocessor.n_bands_in
        self.n_bands_out = preprocessor.n_bands_out
        self.mask_nonfinite = preprocessor.nonfinite == "mask"

        def buffer(values: np.ndarray) -> Tensor:
            return torch.as_tensor(np.asarray(values, dtype=np.float64)).to(dtype)

        self.register_buffer("offset", buffer(preprocessor.offset))
        self.register_buffer("scale", buffer(preprocessor.scale))
        self.has_pca = preprocessor.pca_components is not None
        if preprocessor.pca_mean is not None and preprocessor.pca_components is not None:
            self.register_buffer("pca_mean", buffer(preprocessor.pca_mean))
            self.register_buffer("projection", buffer(preprocessor.pca_components).T.contiguous())
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        """Preprocessed spectra ``(N, 1, B, H, W)`` for raw ones ``(N, 1, B_raw, H, W)``."""
        spectra = x.permute(0, 1, 3, 4, 2).to(self.offset.dtype)  # bands last, per pixel
        if self.mask_nonfinite:
            spectra = torch.where(torch.isfinite(spectra), spectra, self.offset)
        spectra = (spectra - self.offset) / self.scale
        if self.has_pca:
            spectra = (spectra - self.pca_mean) @ self.projection
        return spectra.to(torch.float32).permute(0, 1, 4, 2, 3)
