"""The scikit-learn face of hsi_attn: :class:`HSIClassifier`.

An attention 3D-CNN as a scikit-learn classifier, so it drops into pipelines,
``GridSearchCV``, ``cross_val_score`` and joblib pickles beside SVM baselines::

    clf = HSIClassifier(attention="eca_band", epochs=30, random_state=0)
    clf.fit(X_train, y_train)          # X: (n, B, p, p) patches or (n, B) spectra
    clf.predict(X_test)                # labels from clf.classes_

The estimator holds no training loop of its own: ``fit`` builds the project's frozen
:class:`~hsi_attn.config.ModelConfig` and :class:`~hsi_attn.config.TrainConfig` from
its parameters, asks :func:`hsi_attn.models.create_model` for the network and trains
it with :func:`hsi_attn.engine.fit`.

Conventions that torch wrappers commonly get wrong, and what this one does:

* ``predict`` returns values from ``classes_`` (strings too), never class indices;
* the network outputs logits trained with cross-entropy; softmax is applied only in
  ``predict_proba``;
* ``__init__`` stores its explicit keyword arguments unchanged (``clone`` works), and
  every check happens in ``fit``;
* the early-stopping hold-out can be made spatially honest with ``groups``
  (see :meth:`HSIClassifier.fit`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    check_X_y,
    column_or_1d,
    validate_data,
)
from torch import nn

from hsi_attn.checks import check_int
from hsi_attn.config import ModelConfig, TrainConfig
from hsi_attn.data.batches import PatchSource
from hsi_attn.engine import (
    BestModel,
    Callback,
    EarlyStopping,
    EpochLogger,
    History,
    ProgressBar,
    TrainState,
    predict_logits,
    resolve_device,
    resolve_precision,
    seed_everything,
)
from hsi_attn.engine import fit as train_model
from hsi_attn.models import create_model

__all__ = ["EARLY_STOPPING_PATIENCE", "HSIClassifier", "holdout_split"]

logger = logging.getLogger(__name__)

EARLY_STOPPING_PATIENCE = 10
"""Epochs without a better validation OA before ``early_stopping`` ends training.

The same default as scikit-learn's ``MLPClassifier(n_iter_no_change=10)``.
"""

_MAX_SEED = 2**31 - 1


class _CarryOptimizerState(Callback):
    """Hands optimiser moments from one engine run to the next.

    :func:`hsi_attn.engine.fit` builds a fresh optimiser on every call. ``partial_fit``
    runs one epoch per call, so this callback loads the moments saved by the previous
    call when training begins and keeps a CPU copy of them when it ends. The learning
    rate and weight decay always come from the current configuration, so
    ``set_params(lr=...)`` between calls takes effect.

    Args:
        saved: ``optimizer.state_dict()`` of the previous call, or None to start fresh.
    """

    order = 0

    def __init__(self, saved: dict[str, Any] | None) -> None:
        self.saved = saved

    def on_train_begin(self, state: TrainState) -> None:
        if self.saved is None:
            return
        # A copy: load_state_dict keeps same-device tensors, which the steps then
        # update in place, and the saved state belongs to the fitted estimator.
        state.optimizer.load_state_dict(_to_cpu(self.saved))
        for group in state.optimizer.param_groups:
            group["lr"] = state.config.lr
            group["weight_decay"] = state.config.weight_decay

    def on_train_end(self, state: TrainState) -> None:
        self.saved = _to_cpu(state.optimizer.state_dict())


def _to_cpu(value: Any) -> Any:
    """Deep copy of nested dicts/lists with every tensor moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return copy.deepcopy(value)


class HSIClassifier(ClassifierMixin, BaseEstimator):
    """Attention 3D-CNN classifier for hyperspectral patches or spectra.

    Accepted ``X`` (NumPy arrays, lists, pandas DataFrames, as scikit-learn accepts):

    * ``(n, B, p, p)`` patches, bands first, odd ``p``;
    * ``(n, B)`` spectra, read as 1 x 1 patches (p = 1);
    * ``(n, B*p*p)`` flattened patches (``patch.reshape(n, -1)`` of the ``(n, B, p, p)``
      layout) when ``n_bands`` or ``patch_size`` says how to unflatten them, so that the
      2-D-only parts of scikit-learn (``FunctionTransformer``, imputers, column
      selectors...) work.

    The network sees ``(n, 1, B, p, p)``: the bands are the depth axis of the 3-D
    convolutions.

    Args:
        model: Registered model family (:func:`hsi_attn.models.list_models`).
        attention: Registered 3-D attention (:func:`hsi_attn.layers.list_attention`), or
            ``"none"``.
        reduction: SE-family reduction ratio (ignored by layers that do not use it).
        kernel_size: ECA-family kernel size, an odd int or ``"adaptive"``.
        patch_size: Patch side p. None: read it from ``X`` (1 for 2-D ``X`` unless
            ``n_bands`` says otherwise). Given: ``X`` must have that side.
        n_bands: Number of bands B. None: read it from ``X``. Given: 2-D ``X`` with
            ``B*p*p`` columns is unflattened to ``(n, B, p, p)``.
        epochs: Number of epochs of :meth:`fit` (an upper bound with early stopping).
        batch_size: Training batch size.
        lr: Peak learning rate of the warm-up + cosine schedule (constant in
            :meth:`partial_fit`).
        weight_decay: Weight decay.
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"``.
        early_stopping: Hold out ``validation_fraction`` of the training samples, stop
            after :data:`EARLY_STOPPING_PATIENCE` epochs without a better validation OA
            and keep the best epoch's weights. See :meth:`fit` for the split.
        validation_fraction: Fraction held out when ``early_stopping`` is set, in (0, 1).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or ``"mps"``.
        precision: ``"auto"`` (bf16 on capable CUDA, fp32 elsewhere), ``"fp32"``,
            ``"bf16"`` or ``"fp16"``.
        random_state: Seed for weight initialisation, data order and the validation
            split: an int, a :class:`numpy.random.RandomState`, or None (drawn from
            NumPy's global generator).
        verbose: 0 quiet; 1 one INFO log line per epoch (logger ``hsi_attn``; call
            ``logging.basicConfig(level=logging.INFO)`` to see it); 2 also a progress bar.

    Attributes:
        classes_: Class labels, sorted; ``predict`` returns values from it.
        n_features_in_: Values per sample, ``B * p * p`` (the columns of the flattened
            layout).
        feature_names_in_: Column names, when fitted on a DataFrame with string columns.
        n_bands_: Number of bands B seen in fit.
        patch_size_: Patch side p seen in fit.
        model_: The trained :class:`torch.nn.Module` (on ``device_``), logits out.
        model_config_: The :class:`~hsi_attn.config.ModelConfig` it was built from.
        train_config_: The :class:`~hsi_attn.config.TrainConfig` of the last training.
        history_: :class:`~hsi_attn.engine.History`, one dict per epoch.
        n_iter_: Number of epochs trained.
        device_: Device the model lives on, as a string.
        precision_: Resolved precision (``"fp32"``, ``"bf16"``, ``"fp16"``) used for
            training and prediction; ``"fp32"`` after unpickling onto the CPU fallback.
        seed_: The integer seed used.
        optimizer_state_: Optimiser state (on the CPU) that :meth:`partial_fit` continues.

    Example:
        >>> from hsi_attn import HSIClassifier
        >>> clf = HSIClassifier(epochs=5, random_state=0).fit(X, y)  # doctest: +SKIP
        >>> clf.predict_proba(X).shape  # doctest: +SKIP
        (n, n_classes)
    """

    def __init__(
        self,
        model: str = ModelConfig.name,
        attention: str = ModelConfig.attention,
        reduction: int = ModelConfig.reduction,
        kernel_size: int | str = ModelConfig.kernel_size,
        patch_size: int | None = None,
        n_bands: int | None = None,
        epochs: int = TrainConfig.epochs,
        batch_size: int = TrainConfig.batch_size,
        lr: float = TrainConfig.lr,
        weight_decay: float = TrainConfig.weight_decay,
        optimizer: str = TrainConfig.optimizer,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        device: str = TrainConfig.device,
        precision: str = TrainConfig.precision,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.attention = attention
        self.reduction = reduction
        self.kernel_size = kernel_size
        self.patch_size = patch_size
        self.n_bands = n_bands
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn API

    def fit(self, X: ArrayLike, y: ArrayLike, *, groups: ArrayLike | None = None) -> HSIClassifier:
        """Build a new network and train it for ``epochs`` epochs.

        Every call starts from scratch: a model fitted before, or parameters changed
        with ``set_params`` (``attention``, ``reduction``, ``kernel_size``...), leave
        no trace.

        The early-stopping hold-out. Neighbouring pixels have overlapping patches and
        near-identical spectra, so a random hold-out drawn from patches of one scene
        (what ``MLPClassifier(early_stopping=True)`` does) sits inside the training
        patches: its accuracy is optimistic and training stops late. This hold-out only
        picks the epoch; the test set must still come from a spatially disjoint split
        (:class:`hsi_attn.data.splits.SpatialKFold`). Therefore:

        * with ``groups``, whole groups are held out (:func:`holdout_split`). Spatial
          block ids, e.g. ``groups = (coords[:, 0] // 16) * 100_000 + coords[:, 1] // 16``
          for 16 x 16 blocks, confine the overlap to pixels within ``p // 2`` of a block
          edge, a small part of the hold-out when blocks are much wider than the patch;
        * without ``groups``, the hold-out is a stratified random split, as in
          scikit-learn, and a warning is logged when the samples are patches (p > 1).

        In a pipeline, pass them as ``pipe.fit(coords, y, hsiclassifier__groups=groups)``.

        Args:
            X: Patches ``(n, B, p, p)``, spectra ``(n, B)`` or flattened patches.
            y: Labels ``(n,)`` of any type (ints, strings...); at least two classes.
            groups: Optional group label per sample for the early-stopping hold-out;
                ignored without ``early_stopping``.

        Returns:
            self, fitted.

        Raises:
            ValueError: On bad input (NaN/Inf, wrong shape, a single class, mismatched
                lengths) or bad parameters (the message names the accepted values).
        """
        patches, y_index, classes = self._validate_training_data(X, y, reset=True)
        self._check_parameters()
        seed = self._draw_seed()
        model_config = self._model_config(patches.shape[2])
        train_config = self._train_config(seed, epochs=self.epochs)
        device = resolve_device(train_config.device)
        precision = resolve_precision(train_config.precision, device).name

        train_index, val_index = np.arange(len(y_index)), None
        if self.early_stopping:
            if groups is None and patches.shape[2] > 1:
                logger.warning(
                    "early_stopping holds out a random %.0f%% of the patches; neighbouring "
                    "patches overlap, so the validation accuracy is optimistic. Pass "
                    "fit(..., groups=spatial_block_ids) for a spatially disjoint hold-out",
                    100 * self.validation_fraction,
                )
            train_index, val_index = holdout_split(
                y_index, fraction=self.validation_fraction, groups=groups, seed=seed
            )
        model = self._build_model(model_config, patches.shape[1], len(classes), seed)
        carry = _CarryOptimizerState(None)
        callbacks: list[Callback] = [carry, *self._logging_callbacks()]
        val_data = None
        if val_index is not None:
            val_data = self._source(patches[val_index], y_index[val_index], shuffle=False)
            callbacks += [BestModel(), EarlyStopping(EARLY_STOPPING_PATIENCE)]
        history = train_model(
            model,
            self._source(patches[train_index], y_index[train_index], shuffle=True),
            config=train_config,
            val_data=val_data,
            callbacks=callbacks,
            device=device,
        )

        self.classes_ = classes
        self.n_bands_ = int(patches.shape[1])
        self.patch_size_ = int(patches.shape[2])
        self.n_features_in_ = self.n_bands_ * self.patch_size_**2
        self.model_ = model.eval()
        self.model_config_ = model_config
        self.train_config_ = train_config
        self.history_ = history
        self.n_iter_ = len(history)
        self.device_ = str(device)
        self.precision_ = precision
        self.seed_ = seed
        self.optimizer_state_ = carry.saved
        return self

    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None
    ) -> HSIClassifier:
        """Train for exactly one epoch on ``(X, y)``, continuing any previous training.

        Lets a tuner (e.g. Optuna's ``OptunaSearchCV``) score the model after every
        epoch and prune it. The first call builds the network; later calls continue
        its weights and optimiser moments (after :meth:`fit` too). The learning rate
        is constant (no schedule across calls) and ``early_stopping`` is not applied.

        Args:
            X: Patches, spectra or flattened patches, in the layout of the first call.
            y: Labels, all of them in ``classes``.
            classes: Every class that will ever be seen. Needed on the first call when
                this batch may lack some classes (then it is ``np.unique(y)``); later
                calls may omit it, or must repeat the same classes.

        Returns:
            self.

        Raises:
            ValueError: On bad input, labels outside ``classes_``, a ``classes``
                argument that differs from the first call, or architecture parameters
                (``model``, ``attention``, ``reduction``, ``kernel_size``) changed
                since the network was built: call :meth:`fit` to start over.
        """
        first = not hasattr(self, "model_")
        if first:
            patches, y_index, fitted_classes = self._validate_training_data(
                X, y, reset=True, classes=classes
            )
            self._check_parameters()
            seed = self._draw_seed()
            model_config = self._model_config(patches.shape[2])
            model = self._build_model(model_config, patches.shape[1], len(fitted_classes), seed)
            optimizer_state = None
            history = History()
        else:
            patches, y_index, fitted_classes = self._validate_training_data(
                X, y, reset=False, classes=classes
            )
            self._check_parameters()
            seed = self.seed_
            model_config = self._model_config(self.patch_size_)
            if model_config != self.model_config_:
                raise ValueError(
                    f"the model settings changed since the network was built "
                    f"({_describe_change(self.model_config_, model_config)}); "
                    "partial_fit continues the existing network, so call fit() to build "
                    "a new one with these settings"
                )
            model = self.model_
            optimizer_state = self.optimizer_state_
            if self.train_config_.optimizer != self.optimizer:
                optimizer_state = None
            history = self.history_

        train_config = self._train_config(
            (seed + len(history)) % _MAX_SEED, epochs=1, scheduler="none"
        )
        device = resolve_device(train_config.device)
        precision = resolve_precision(train_config.precision, device).name
        carry = _CarryOptimizerState(optimizer_state)
        epoch = train_model(
            model,
            self._source(patches, y_index, shuffle=True),
            config=train_config,
            callbacks=[carry, *self._logging_callbacks()],
            device=device,
        )
        for record in epoch:
            history.append({**record, "epoch": len(history) + 1})

        if first:
            self.classes_ = fitted_classes
            self.n_bands_ = int(patches.shape[1])
            self.patch_size_ = int(patches.shape[2])
            self.n_features_in_ = self.n_bands_ * self.patch_size_**2
            self.model_config_ = model_config
            self.seed_ = seed
        self.model_ = model.eval()
        self.train_config_ = train_config
        self.history_ = history
        self.n_iter_ = len(history)
        self.device_ = str(device)
        self.precision_ = precision
        self.optimizer_state_ = carry.saved
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted labels, values from ``classes_``.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ValueError: On NaN/Inf or a sample shape other than the fitted one.
        """
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``: softmax over logits, ``classes_`` order.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ValueError: On NaN/Inf or a sample shape other than the fitted one.
        """
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log of :meth:`predict_proba` (log-softmax over logits, ``classes_`` order)."""
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.classifier_tags.multi_label = False
        tags.target_tags.single_output = True
        # cuDNN's 3-D convolution backward pass is not bit-reproducible.
        tags.non_deterministic = _may_use_cuda(self.device)
        return tags

    # ---------------------------------------------------------------- pickling

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the weights as CPU tensors, never the live (maybe CUDA) module."""
        state = dict(super().__getstate__())  # may be self.__dict__ itself
        model = state.pop("model_", None)
        if model is not None:
            state["_model_weights"] = {
                k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network from ``model_config_`` and load the pickled weights.

        The model goes back to the device it was trained on when this machine has it,
        else to the CPU (logged), so a GPU-trained estimator loads anywhere.
        """
        weights = state.pop("_model_weights", None)
        super().__setstate__(state)
        if weights is None:
            return
        with torch.random.fork_rng(devices=[]):  # building draws init weights
            model = create_model(
                self.model_config_.name,
                n_bands=self.n_bands_,
                n_classes=len(self.classes_),
                patch_size=self.model_config_.patch_size,
                attention=self.model_config_.attention,
                attention_kwargs=self.model_config_.attention_kwargs(),
            )
        model.load_state_dict(weights)
        try:
            device = resolve_device(self.device_)
        except ValueError:
            logger.warning(
                "this HSIClassifier was trained on %s, which this machine does not have; "
                "it now runs on the CPU", self.device_,
            )
            device = torch.device("cpu")
            self.precision_ = "fp32"  # fp16 needs a GPU; bf16 is slow on most CPUs
        self.model_ = model.to(device).eval()
        self.device_ = str(device)

    # ------------------------------------------------------------------ helpers

    def _validate_training_data(
        self, X: ArrayLike, y: ArrayLike, *, reset: bool, classes: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Check ``X, y``; return patches ``(n, B, p, p)``, label indices and classes."""
        validate_data(self, X, y, skip_check_array=True, ensure_2d=False, reset=reset)
        X, y = check_X_y(X, y, allow_nd=True, dtype=np.float32, estimator=self)
        check_classification_targets(y)
        patches = self._as_patches(X, reset=reset)
        if reset:
            if classes is None:
                classes = np.unique(y)
            else:
                classes = np.unique(column_or_1d(np.asarray(classes)))
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes to learn, got 1 class "
                    f"({classes[0]!r}); check the labels y (or the `classes` argument)"
                )
        else:
            if classes is not None and not np.array_equal(
                np.unique(column_or_1d(np.asarray(classes))), self.classes_
            ):
                raise ValueError(
                    f"classes={np.asarray(classes).tolist()!r} differs from the classes "
                    f"of the first partial_fit call {self.classes_.tolist()!r}"
                )
            classes = self.classes_
        unknown = np.setdiff1d(np.unique(y), classes)
        if len(unknown):
            raise ValueError(
                f"y holds labels {unknown.tolist()!r} that are not in classes "
                f"{np.asarray(classes).tolist()!r}; pass every class in `classes` on the "
                "first partial_fit call"
            )
        y_index = np.searchsorted(classes, y).astype(np.int64)
        return patches, y_index, classes

    def _validate_predict_data(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        validate_data(self, X, skip_check_array=True, ensure_2d=False, reset=False)
        X = check_array(X, allow_nd=True, dtype=np.float32, estimator=self)
        return self._as_patches(X, reset=False)

    def _as_patches(self, X: np.ndarray, *, reset: bool) -> np.ndarray:
        """View checked ``X`` as ``(n, B, p, p)``; in fit, find B and p, else check them."""
        name = type(self).__name__
        if X.ndim not in (2, 4):
            raise ValueError(
                f"{name} takes X as (n, B, p, p) patches, (n, B) spectra or (n, B*p*p) "
                f"flattened patches; got an array of shape {X.shape}"
            )
        if not reset:
            n_bands, side = self.n_bands_, self.patch_size_
            got = int(np.prod(X.shape[1:]))
            if got != self.n_features_in_ or (
                X.ndim == 4 and X.shape[1:] != (n_bands, side, side)
            ):
                layout = f" (patches of shape {X.shape[1:]})" if X.ndim == 4 else ""
                raise ValueError(
                    f"X has {got} features, but {name} is expecting {self.n_features_in_} "
                    f"features as input{layout}; it was fitted on {n_bands} bands and "
                    f"{side}x{side} patches"
                )
            return X.reshape(len(X), n_bands, side, side)
        if X.ndim == 4:
            n_bands, side, other = X.shape[1:]
            if side != other:
                raise ValueError(f"{name} needs square patches (n, B, p, p), got shape {X.shape}")
        else:
            n_bands, side = self._unflattened_shape(X.shape[1])
        if self.n_bands is not None and n_bands != self.n_bands:
            raise ValueError(f"X has {n_bands} bands but n_bands={self.n_bands!r}")
        if self.patch_size is not None and side != self.patch_size:
            raise ValueError(
                f"X holds {side}x{side} patches but patch_size={self.patch_size!r}; "
                "set patch_size=None to take it from X"
            )
        return X.reshape(len(X), n_bands, side, side)

    def _unflattened_shape(self, n_columns: int) -> tuple[int, int]:
        """(B, p) of 2-D ``X`` with ``n_columns`` columns, from ``n_bands``/``patch_size``."""
        if self.n_bands is not None:
            n_bands = check_int(self.n_bands, name="n_bands")
            area, rest = divmod(n_columns, n_bands)
            side = math.isqrt(area)
            if rest or side * side != area:
                raise ValueError(
                    f"2-D X has {n_columns} columns, which is not n_bands * p * p for "
                    f"n_bands={n_bands}; pass (n, B, p, p) patches or fix n_bands"
                )
            return n_bands, side
        if self.patch_size is not None:
            side = check_int(self.patch_size, name="patch_size")
            n_bands, rest = divmod(n_columns, side * side)
            if rest or n_bands == 0:
                raise ValueError(
                    f"2-D X has {n_columns} columns, which is not B * {side} * {side} for "
                    f"patch_size={side}; pass (n, B, p, p) patches or fix patch_size"
                )
            return n_bands, side
        return n_columns, 1

    def _check_parameters(self) -> None:
        """Check the parameters before anything is built.

        The training parameters are checked by building their
        :class:`~hsi_attn.config.TrainConfig` now, and the model's by its
        :class:`~hsi_attn.config.ModelConfig` when the patch size is known; both raise
        ValueError with the accepted values. The estimator's own parameters are checked
        here.
        """
        self._train_config(0)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise ValueError(f"early_stopping must be True or False, got {self.early_stopping!r}")
        if self.early_stopping and not (
            isinstance(self.validation_fraction, numbers.Real)
            and 0.0 < self.validation_fraction < 1.0
        ):
            raise ValueError(
                f"validation_fraction must be a number in (0, 1), got {self.validation_fraction!r}"
            )
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, numbers.Integral):
            raise ValueError(f"verbose must be an int (0, 1 or 2), got {self.verbose!r}")

    def _draw_seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral) and not isinstance(
            self.random_state, bool
        ):
            if not 0 <= self.random_state <= _MAX_SEED:
                raise ValueError(
                    f"random_state must be in [0, {_MAX_SEED}], got {self.random_state}"
                )
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(_MAX_SEED))

    def _model_config(self, patch_size: int) -> ModelConfig:
        return ModelConfig(
            name=self.model,
            attention=self.attention,
            reduction=self.reduction,
            kernel_size=self.kernel_size,
            patch_size=int(patch_size),
        )

    def _train_config(self, seed: int, **changes: Any) -> TrainConfig:
        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            optimizer=self.optimizer,
            precision=self.precision,
            device=self.device,
            seed=seed,
            patience=EARLY_STOPPING_PATIENCE if self.early_stopping else None,
        )
        return dataclasses.replace(config, **changes)

    @staticmethod
    def _build_model(config: ModelConfig, n_bands: int, n_classes: int, seed: int) -> nn.Module:
        seed_everything(seed)  # reproducible initial weights
        return create_model(
            config.name,
            n_bands=int(n_bands),
            n_classes=int(n_classes),
            patch_size=config.patch_size,
            attention=config.attention,
            attention_kwargs=config.attention_kwargs(),
        )

    def _source(self, patches: np.ndarray, y_index: np.ndarray, *, shuffle: bool) -> PatchSource:
        x = torch.tensor(patches).unsqueeze(1)  # copy: the input may be read-only
        batch_size = int(self.batch_size)
        # A last batch of one sample breaks BatchNorm in training mode; drop it.
        drop_last = shuffle and len(x) > batch_size and len(x) % batch_size == 1
        return PatchSource.from_tensors(
            x, torch.from_numpy(y_index), batch_size=batch_size, shuffle=shuffle,
            drop_last=drop_last,
        )

    def _logging_callbacks(self) -> list[Callback]:
        callbacks: list[Callback] = []
        if self.verbose >= 1:
            callbacks.append(EpochLogger())
        if self.verbose >= 2:
            callbacks.append(ProgressBar())
        return callbacks

    def _logits(self, X: ArrayLike) -> np.ndarray:
        patches = self._validate_predict_data(X)
        device = torch.device(self.device_)
        precision = resolve_precision(self.precision_, device)
        size = self.train_config_.eval_batch_size
        batches: Iterator[torch.Tensor] = (
            torch.tensor(patches[i : i + size]).unsqueeze(1) for i in range(0, len(patches), size)
        )
        chunks = [
            logits.cpu()
            for logits in predict_logits(self.model_, batches, device=device, precision=precision)
        ]
        return torch.cat(chunks).numpy()


def holdout_split(
    y: ArrayLike,
    *,
    fraction: float,
    groups: ArrayLike | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into training and early-stopping validation parts.

    With ``groups``, whole groups go to validation (:class:`GroupShuffleSplit`), so no
    group has samples on both sides; spatial block ids as groups give a hold-out that
    no training patch overlaps. Without, a stratified random split (plain random when a
    class has a single sample or the hold-out is smaller than the number of classes).

    Args:
        y: Labels ``(n,)``.
        fraction: Fraction of the samples (of the groups, with ``groups``) to hold out.
        groups: Optional group label per sample.
        seed: Seed of the split.

    Returns:
        ``(train, validation)`` index arrays, disjoint, together all of ``range(n)``.

    Raises:
        ValueError: If either side would be empty, there are fewer than 2 groups, or
            ``groups`` and ``y`` differ in length.
    """
    y = column_or_1d(np.asarray(y))
    everything = np.arange(len(y))
    if groups is not None:
        groups = column_or_1d(np.asarray(groups))
        check_consistent_length(y, groups)
        if len(np.unique(groups)) < 2:
            raise ValueError(
                "early_stopping with groups needs at least 2 distinct groups, so whole "
                "groups can be held out for validation"
            )
        splitter: Any = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    else:
        _, counts = np.unique(y, return_counts=True)
        n_val = math.ceil(fraction * len(y))
        stratify = counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts)
        splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
            n_splits=1, test_size=fraction, random_state=seed
        )
    train, val = next(splitter.split(everything, y, groups))
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"validation_fraction={fraction} leaves an empty training or validation set "
            f"for {len(y)} samples; change it or set early_stopping=False"
        )
    return np.sort(train), np.sort(val)


def _describe_change(old: ModelConfig, new: ModelConfig) -> str:
    return ", ".join(
        f"{f.name} {getattr(old, f.name)!r} -> {getattr(new, f.name)!r}"
        for f in dataclasses.fields(ModelConfig)
        if getattr(old, f.name) != getattr(new, f.name)
    )


def _may_use_cuda(device: Any) -> bool:
    name = str(device).strip().lower()
    return name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
