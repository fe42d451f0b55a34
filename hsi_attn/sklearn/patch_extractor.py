""":class:`PatchExtractor`: pixel coordinates in, patches out, as a scikit-learn step.

The scene splits and :class:`~hsi_attn.data.splits.SpatialKFold` work on ``(n, 2)``
``(row, col)`` coordinates, and spatially honest cross-validation must split those, not
patches. This transformer turns coordinates into the patches a classifier takes, so
that the whole chain is one scikit-learn estimator::

    pipe = make_pipeline(PatchExtractor(scene.cube, patch_size=9), HSIClassifier())
    cross_val_score(pipe, coords, labels, cv=SpatialKFold(5, patch_size=9))

The cube is a parameter, stored as given. Padding happens once per fit, in a
:class:`~hsi_attn.data.patches.PatchSampler`, and ``clone`` shares the cube instead of
deep-copying it (see :meth:`PatchExtractor.__sklearn_clone__`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from hsi_attn.config import DataConfig, ModelConfig
from hsi_attn.data.patches import PatchSampler

__all__ = ["PatchExtractor"]


class PatchExtractor(TransformerMixin, BaseEstimator):
    """Map ``(n, 2)`` integer ``(row, col)`` pixel coordinates to patches of ``cube``.

    Args:
        cube: ``(H, W, B)`` scene, bands last (e.g. ``scene.cube``), normalised as the
            classifier expects. Treated as read-only and never copied by this class.
        patch_size: Odd patch side p; border pixels get full patches by padding.
        pad_mode: ``"reflect"`` or ``"symmetric"`` border padding.
        flatten: Return ``(n, B*p*p)`` rows instead of ``(n, B, p, p)`` patches, for
            estimators that only take 2-D input (SVM baselines; ``HSIClassifier`` reads
            them back with ``n_bands=B``).

    Attributes:
        sampler_: The :class:`~hsi_attn.data.patches.PatchSampler` holding the padded
            cube (the one extra copy of the scene, made in fit).
        n_features_in_: 2, the ``(row, col)`` columns.
        feature_names_in_: Column names when fitted on a DataFrame.
        n_bands_: Number of bands B of the cube.

    Example:
        >>> extractor = PatchExtractor(cube, patch_size=5).fit(coords)  # doctest: +SKIP
        >>> extractor.transform(coords[:3]).shape  # doctest: +SKIP
        (3, 200, 5, 5)
    """

    def __init__(
        self,
        cube: ArrayLike,
        patch_size: int = ModelConfig.patch_size,
        *,
        pad_mode: str = DataConfig.pad_mode,
        flatten: bool = False,
    ) -> None:
        self.cube = cube
        self.patch_size = patch_size
        self.pad_mode = pad_mode
        self.flatten = flatten

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> PatchExtractor:
        """Pad the cube once and check the coordinates ``X``.

        Args:
            X: ``(n, 2)`` integer ``(row, col)`` coordinates inside the cube.
            y: Ignored.

        Returns:
            self, fitted.

        Raises:
            ValueError: On a cube that is not ``(H, W, B)`` or holds NaN/Inf, an even
                patch size, an unknown pad mode, or coordinates outside the cube.
        """
        if not isinstance(self.flatten, (bool, np.bool_)):
            raise ValueError(f"flatten must be True or False, got {self.flatten!r}")
        cube = self.cube
        if not hasattr(cube, "ndim"):
            cube = np.asarray(cube, dtype=np.float32)
        sampler = PatchSampler(cube, self.patch_size, pad_mode=self.pad_mode)
        coords = self._coordinates(X, reset=True)
        sampler.check_coords(coords)
        self.sampler_ = sampler
        self.n_bands_ = sampler.n_bands
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Patches centred on the coordinates ``X``.

        Returns:
            float32 ``(n, B, p, p)`` (``out[i, :, p // 2, p // 2]`` is the spectrum of
            pixel ``X[i]``), or ``(n, B*p*p)`` with ``flatten=True``.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ValueError: On coordinates that are not ``(n, 2)`` integers inside the cube.
        """
        check_is_fitted(self)
        coords = self._coordinates(X, reset=False)
        patches = self.sampler_.gather(coords).squeeze(1).cpu().numpy()
        return patches.reshape(len(patches), -1) if self.flatten else patches

    def __sklearn_clone__(self) -> PatchExtractor:
        """An unfitted copy that shares ``cube`` instead of deep-copying it.

        scikit-learn's default ``clone`` deep-copies every non-estimator parameter, so a
        grid search would copy the whole scene once per candidate and fold. The cube is
        read-only input data, like the ``X`` passed to ``fit``, so the clones share it;
        the other parameters are cloned as usual.
        """
        params = self.get_params(deep=False)
        cube = params.pop("cube")
        twin = type(self)(cube, **{k: clone(v, safe=False) for k, v in params.items()})
        for private in ("_metadata_request", "_sklearn_output_config"):
            if hasattr(self, private):
                setattr(twin, private, copy.deepcopy(getattr(self, private)))
        return twin

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the padded cube; it is rebuilt from ``cube`` on load."""
        state = dict(super().__getstate__())
        state.pop("sampler_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        fitted = "n_bands_" in state
        super().__setstate__(state)
        if fitted:
            self.sampler_ = PatchSampler(self.cube, self.patch_size, pad_mode=self.pad_mode)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        return tags

    def _coordinates(self, X: ArrayLike, *, reset: bool) -> np.ndarray:
        """``X`` as an ``(n, 2)`` int64 array; integral floats are accepted."""
        coords = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=True)
        if coords.shape[1] != 2:
            raise ValueError(
                f"{type(self).__name__} takes (n, 2) (row, col) pixel coordinates, got "
                f"shape {coords.shape}; pass split coordinates (e.g. split.train), not patches"
            )
        if coords.dtype.kind == "f":
            if not np.array_equal(coords, np.round(coords)):
                raise ValueError(f"{type(self).__name__}: X holds non-integer coordinates")
        elif coords.dtype.kind not in "iu":
            raise ValueError(
                f"{type(self).__name__} takes integer (row, col) coordinates, got dtype "
                f"{coords.dtype}"
            )
        return coords.astype(np.int64)  # a writable copy: torch refuses read-only arrays
