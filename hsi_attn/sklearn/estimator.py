"""The scikit-learn face of hsi_attn: :class:`HSIClassifier`.

An attention 3D-CNN as a scikit-learn classifier, so it drops into pipelines,
``GridSearchCV``, ``cross_val_score`` and joblib pickles beside SVM baselines::

    clf = HSIClassifier(attention="eca_band", epochs=30, random_state=0)
    clf.fit(X_train, y_train)          # X: (n, B, p, p) patches or (n, B) spectra
    clf.predict(X_test)                # labels from clf.classes_

There is no training loop here: ``fit`` builds the project's frozen configs from the
parameters (:mod:`~hsi_attn.sklearn.parameters`), the network with
:func:`hsi_attn.models.create_model`, and trains it with :func:`hsi_attn.engine.fit`.
``predict`` returns values from ``classes_`` (strings too), never class indices; the
network outputs logits trained with cross-entropy, and softmax is applied only in
``predict_proba``; ``__init__`` stores its arguments unchanged (``clone`` works) and
every check happens in ``fit``; the early-stopping hold-out can be made spatially
honest with ``groups`` (see :meth:`HSIClassifier.fit`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin

from hsi_attn.config import ModelConfig, TrainConfig
from hsi_attn.engine import (
    Callback,
    History,
    predict_logits,
    resolve_device,
    resolve_precision,
    selection_callbacks,
)
from hsi_attn.engine import fit as train_model
from hsi_attn.inference.tta import dihedral_patch_average
from hsi_attn.sklearn.devices import WEIGHTS_KEY, may_use_cuda, restore_model, weights_on_cpu
from hsi_attn.sklearn.holdout import early_stopping_holdout, holdout_split
from hsi_attn.sklearn.optimizer_carry import CarryOptimizerState
from hsi_attn.sklearn.parameters import (
    EARLY_STOPPING_PATIENCE,
    MAX_SEED,
    build_model,
    check_parameters,
    check_same_network,
    draw_seed,
    logging_callbacks,
    model_config_of,
    train_config_of,
)
from hsi_attn.sklearn.patch_input import (
    patch_batches,
    patch_source,
    prediction_patches,
    training_data,
)

# holdout_split lives in hsi_attn.sklearn.holdout; it stays importable from here.
__all__ = ["EARLY_STOPPING_PATIENCE", "HSIClassifier", "holdout_split"]


class HSIClassifier(ClassifierMixin, BaseEstimator):
    """Attention 3D-CNN classifier for hyperspectral patches or spectra.

    ``X`` (NumPy arrays, lists, pandas DataFrames) holds ``(n, B, p, p)`` patches (bands
    first, odd ``p``), ``(n, B)`` spectra (1 x 1 patches), or ``(n, B*p*p)`` flattened
    patches (``patches.reshape(n, -1)``, for the 2-D-only parts of scikit-learn such as
    ``FunctionTransformer``, imputers, column selectors) when ``n_bands`` or
    ``patch_size`` says how to unflatten them. The network sees ``(n, 1, B, p, p)``: the
    bands are the depth axis of the 3-D convolutions.

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
        tta: Test-time augmentation: :meth:`predict_proba` (and so :meth:`predict`)
            averages the probabilities of each patch's 8 flips and quarter turns
            (:mod:`hsi_attn.inference.tta`), 8x the cost. Read at prediction, so it may be
            switched with ``set_params`` after :meth:`fit`; no effect on spectra
            (``p = 1``).
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
        tta: bool = TrainConfig.tta,
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
        self.tta = tta
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn API

    def fit(self, X: ArrayLike, y: ArrayLike, *, groups: ArrayLike | None = None) -> HSIClassifier:
        """Build a new network and train it for ``epochs`` epochs.

        Every call starts from scratch: a model fitted before, or parameters changed
        with ``set_params`` (``attention``, ``reduction``, ``kernel_size``...), leave
        no trace.

        The early-stopping hold-out only picks the epoch; the test set must still come
        from a spatially disjoint split (:class:`hsi_attn.data.splits.SpatialKFold`).
        Overlapping neighbouring patches make a random hold-out (what
        ``MLPClassifier(early_stopping=True)`` does) optimistic, so training stops late:

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
        patches, y_index, classes = training_data(self, X, y, reset=True)
        check_parameters(self)
        seed = draw_seed(self.random_state)
        model_config = model_config_of(self, patches.shape[2])
        train_config = train_config_of(self, seed, epochs=self.epochs)
        device = resolve_device(train_config.device)
        precision = resolve_precision(train_config.precision, device).name

        train_index, val_index = np.arange(len(y_index)), None
        if self.early_stopping:
            train_index, val_index = early_stopping_holdout(
                y_index, fraction=self.validation_fraction, groups=groups, seed=seed,
                patch_size=patches.shape[2],
            )
        model = build_model(model_config, patches.shape[1], len(classes), seed)
        carry = CarryOptimizerState(None)
        callbacks: list[Callback] = [carry, *logging_callbacks(self.verbose)]
        val_data = None
        if val_index is not None:
            val_data = patch_source(
                patches[val_index], y_index[val_index], batch_size=self.batch_size, shuffle=False
            )
            callbacks += selection_callbacks(EARLY_STOPPING_PATIENCE)
        history = train_model(
            model,
            patch_source(
                patches[train_index], y_index[train_index], batch_size=self.batch_size,
                shuffle=True,
            ),
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
            patches, y_index, fitted_classes = training_data(
                self, X, y, reset=True, classes=classes
            )
            check_parameters(self)
            seed = draw_seed(self.random_state)
            model_config = model_config_of(self, patches.shape[2])
            model = build_model(model_config, patches.shape[1], len(fitted_classes), seed)
            optimizer_state = None
            history = History()
        else:
            patches, y_index, fitted_classes = training_data(
                self, X, y, reset=False, classes=classes
            )
            check_parameters(self)
            seed = self.seed_
            model_config = model_config_of(self, self.patch_size_)
            check_same_network(self.model_config_, model_config)
            model = self.model_
            optimizer_state = self.optimizer_state_
            if self.train_config_.optimizer != self.optimizer:
                optimizer_state = None
            history = self.history_

        train_config = train_config_of(
            self, (seed + len(history)) % MAX_SEED, epochs=1, scheduler="none"
        )
        device = resolve_device(train_config.device)
        precision = resolve_precision(train_config.precision, device).name
        carry = CarryOptimizerState(optimizer_state)
        epoch = train_model(
            model,
            patch_source(patches, y_index, batch_size=self.batch_size, shuffle=True),
            config=train_config,
            callbacks=[carry, *logging_callbacks(self.verbose)],
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
        proba = self.predict_proba(X)  # raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``: softmax over logits, ``classes_`` order.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ValueError: On NaN/Inf or a sample shape other than the fitted one.
        """
        patches = prediction_patches(self, X)
        if not self._averages(patches):
            return _softmax(self._logits(patches))
        return self._dihedral_proba(patches)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log of :meth:`predict_proba` (log-softmax over logits, ``classes_`` order)."""
        patches = prediction_patches(self, X)
        if self._averages(patches):
            with np.errstate(divide="ignore"):
                return np.log(self._dihedral_proba(patches))
        logits = self._logits(patches).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.classifier_tags.multi_label = False
        tags.target_tags.single_output = True
        # cuDNN's 3-D convolution backward pass is not bit-reproducible.
        tags.non_deterministic = may_use_cuda(self.device)
        return tags

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the weights as CPU tensors, never the live (maybe CUDA) module."""
        return weights_on_cpu(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network with the pickled weights, on its device or else the CPU."""
        weights = state.pop(WEIGHTS_KEY, None)
        super().__setstate__(state)
        if weights is not None:
            restore_model(self, weights)

    # ------------------------------------------------------------------ helpers

    def _averages(self, patches: np.ndarray) -> bool:
        """Whether predictions average the 8 symmetries (``tta`` on windows, not spectra)."""
        check_parameters(self)
        return bool(self.tta) and patches.shape[2] > 1

    def _dihedral_proba(self, patches: np.ndarray) -> np.ndarray:
        return dihedral_patch_average(lambda turned: _softmax(self._logits(turned)), patches)

    def _logits(self, patches: np.ndarray) -> np.ndarray:
        device = torch.device(self.device_)
        precision = resolve_precision(self.precision_, device)
        batches = patch_batches(patches, self.train_config_.eval_batch_size)
        chunks = [
            logits.cpu()
            for logits in predict_logits(self.model_, batches, device=device, precision=precision)
        ]
        return torch.cat(chunks).numpy()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    return proba / proba.sum(axis=1, keepdims=True)
