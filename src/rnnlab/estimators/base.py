"""`EstimatorBase`: the scikit-learn classifier around a torch module and the `Trainer`.

The subclasses say how X becomes model inputs and which module to build; this
class does the rest, the same way for all three estimators:

    fit(X, y)         check parameters -> inputs (subclass) -> labels -> validation
                      rows (subclass) -> seed -> build module (subclass) -> optimiser ->
                      Trainer.fit -> finish the module (subclass: the hybrid's linear part)
    decision_function logits: (n,) for two classes (one logit), else (n, n_classes)
    predict_proba     `rnnlab.engine.inference.class_probabilities` of the logits
    predict           classes_[argmax]; for two classes the logit's sign
    score             accuracy (one-hot y accepted)
    save / load       through `rnnlab.saving` (see `rnnlab.estimators.persistence`)

Determinism: with an integer ``random_state`` the module's initial weights,
the shuffling and the dropout masks all come from ``torch.manual_seed(random_state)``
inside a forked torch RNG, so the same seed gives bit-identical predictions
and a fit leaves the caller's global generators as they were. With
``random_state=None`` fit draws from the global torch generator.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted
from torch import nn

from rnnlab.engine import EarlyStopping, Trainer, resolve_device
from rnnlab.engine.inference import class_indices, class_probabilities, predict_logits
from rnnlab.engine.optim import OPTIMIZERS, build_optimizer
from rnnlab.errors import (
    ConfigError,
    DataError,
    InvalidTypeError,
    InvalidValueError,
    check_fraction,
    check_int,
)
from rnnlab.estimators import persistence
from rnnlab.estimators.labels import encode_labels, labels_for_score
from rnnlab.estimators.params import RoutedParamsMixin, signature_names
from rnnlab.input_encoder import InputEncoder
from rnnlab.pipeline import Pipeline

REGISTRY: dict[str, type[EstimatorBase]] = {}


class EstimatorBase(ClassifierMixin, RoutedParamsMixin, BaseEstimator):
    """Shared machinery; not used directly. See the subclasses for the parameters.

    Common parameters (every subclass declares them in its ``__init__``):
        epochs: passes over the training data.
        batch_size: samples per step (and per forward pass when predicting).
        optimizer: 'adam', 'adamw', 'sgd', 'rmsprop', 'adagrad' (Keras defaults),
            a torch optimiser class, or a callable ``params -> optimiser``;
            its settings route with ``optimizer__`` (``optimizer__weight_decay=0.01``).
        lr: learning rate (same as ``optimizer__lr``; set one of them).
        validation_split: fraction of the training data held out and reported as
            ``val_*`` in ``history_``: the last samples, before shuffling, as in Keras
            (SequenceClassifier, ModelClassifier); TextClassifier holds out a
            stratified, seeded, shuffled share instead.
        patience: stop after this many epochs without improvement of
            ``val_loss`` (``loss`` without a validation split) and keep the best
            weights; None trains all ``epochs``.
        shuffle: reshuffle the training data every epoch.
        classes: every class, in output order; default the sorted labels of y.
        random_state: an int for reproducible fits, None, or a RandomState.
        device: 'auto', 'cpu', 'cuda', ...
        verbose: 0 silent, 1 a progress bar per epoch, 2 a line per epoch.

    Attributes (after fit):
        classes_: the classes, in the order of the predict_proba columns.
        module_: the trained torch module (in eval mode).
        history_: per-epoch logs: ``{"loss": [...], "accuracy": [...], "val_loss": ...}``.
        validation_indices_: the rows of X that validated, in the order they were
            read (absent without validation; not saved).
        n_logits_: the module's outputs per sample: 1 (two classes, sigmoid) or n_classes.
    """

    _route_prefixes: ClassVar[tuple[str, ...]] = ("module", "optimizer")
    _fitted_attrs: ClassVar[tuple[str, ...]] = ()  # JSON-able learned state saved by `save`

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__] = cls

    # ------------------------------------------------------------ subclass hooks

    def _fit_inputs(self, X: Any) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
        """Validate training X: (model inputs, learned attributes to set after training)."""
        raise NotImplementedError

    def _predict_inputs(self, X: Any) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _build_module(
        self, n_classes: int, fitted: dict[str, Any]
    ) -> tuple[nn.Module, dict[str, Any]]:
        """Build the untrained module: (module, JSON-able learned attributes needed to rebuild it)."""
        raise NotImplementedError

    def _rebuild_module(self) -> nn.Module:
        """The untrained module of a loaded estimator, from its learned attributes."""
        raise NotImplementedError

    def _loss_setting(self) -> Any:
        return "auto"

    # ------------------------------------------------------------------- checks

    def _optimizer_names(self) -> list[str] | None:
        opt = self.optimizer
        if isinstance(opt, str) and opt.lower() in OPTIMIZERS:
            names = signature_names(OPTIMIZERS[opt.lower()], skip=("params", "fused", "foreach"))
            return None if names is None else [*names, "defaults", "implementation"]
        if isinstance(opt, type) and issubclass(opt, torch.optim.Optimizer):
            return signature_names(opt, skip=("params",))
        return None

    def _routed_names(self, prefix: str) -> list[str] | None:
        if prefix == "optimizer":
            return self._optimizer_names()
        return None

    def _settings(self) -> dict[str, Any]:
        """Validate the common parameters (at fit time, never in __init__)."""
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("verbose", self.verbose, minimum=0)
        if self.verbose not in (0, 1, 2):
            raise InvalidValueError(f"`verbose` must be one of 0, 1, 2, got {self.verbose}")
        if self.validation_split is not None:
            check_fraction("validation_split", self.validation_split, low_open=True)
        check_int("patience", self.patience, minimum=0, allow_none=True)
        if self.lr is not None and "lr" in self._routed("optimizer"):
            raise ConfigError("set the learning rate once: `lr` or `optimizer__lr`, not both")
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            seed: int | None = int(rs.randint(np.iinfo(np.int32).max))
        else:
            seed = check_int("random_state", rs, minimum=0, allow_none=True)
        return {"seed": seed, "device": resolve_device(self.device)}

    # ---------------------------------------------------------------------- fit

    def fit(self, X: Any, y: Any) -> EstimatorBase:
        """Learn the inputs' encoding, the classes and the module's weights.

        Args:
            X: training inputs (see the subclass).
            y: (n,) labels (ints, strings, ...) or (n, k) one-hot rows.

        Returns:
            self, fitted: ``classes_``, ``module_``, ``history_`` and the
            subclass's learned attributes are set.
        """
        self.check_param_names()
        settings = self._settings()
        name = type(self).__name__
        inputs, fitted = self._fit_inputs(X)
        indices, classes_ = encode_labels(y, int(inputs[0].shape[0]), self.classes, name)
        rows = self._validation_rows(indices, settings["seed"])
        with _seeded(settings["seed"], settings["device"]):
            module, spec = self._build_module(len(classes_), fitted)
            width = _output_width(module, inputs, len(classes_), name)
            loss, target = _loss_and_target(self._loss_setting(), indices, len(classes_), width)
            callbacks = []
            if self.patience is not None:
                monitor = "val_loss" if rows is not None else "loss"
                callbacks.append(
                    EarlyStopping(
                        monitor=monitor, patience=self.patience, restore_best_weights=True
                    )
                )
            trainer = Trainer(
                module,
                loss=loss,
                optimizer=self._make_optimizer(module),
                metrics="auto" if isinstance(loss, str) else (),
                callbacks=callbacks,
                class_weight=self._class_weights(indices, classes_),
                device=settings["device"],
                verbose=self.verbose,
            )
            train, validation = (inputs, target), None
            if rows is not None:
                fit_rows, val_rows = (torch.from_numpy(r) for r in rows)
                train = (tuple(t[fit_rows] for t in inputs), target[fit_rows])
                validation = (tuple(t[val_rows] for t in inputs), target[val_rows])
            history = trainer.fit(
                train,
                epochs=self.epochs,
                batch_size=self.batch_size,
                shuffle=bool(self.shuffle),
                validation_data=validation,
            )
            module.eval()
            module, extra = self._finish_module(module, inputs, indices, rows, settings)
        module.eval()
        for key, value in {**fitted, **spec, **extra}.items():
            setattr(self, key, value)
        self.classes_ = classes_
        self.n_logits_ = width
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.module_ = module
        if rows is not None:
            self.validation_indices_ = rows[1]
        else:
            self.__dict__.pop("validation_indices_", None)  # from an earlier fit
        return self

    def _validation_rows(
        self, indices: np.ndarray, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(training rows, validation rows) as int64 index arrays, or None without validation.

        Here Keras's rule: the last ``validation_split`` of the samples, before shuffling
        (`rnnlab.engine.data.split_validation`'s cut, so the results are unchanged).
        """
        if self.validation_split is None:
            return None
        n = len(indices)
        split_at = math.floor(n * (1.0 - float(self.validation_split)))
        if split_at in (0, n):
            raise DataError(
                f"`validation_split`={self.validation_split} leaves an empty split of the {n} "
                "training samples; pass more data or another fraction"
            )
        return np.arange(split_at, dtype=np.int64), np.arange(split_at, n, dtype=np.int64)

    def _class_weights(self, indices: np.ndarray, classes_: np.ndarray) -> list[float] | None:
        """One training-loss weight per class index (of ``classes_``), or None: unweighted."""
        return None

    def _finish_module(
        self,
        module: nn.Module,
        inputs: tuple[torch.Tensor, ...],
        indices: np.ndarray,
        rows: tuple[np.ndarray, np.ndarray] | None,
        settings: dict[str, Any],
    ) -> tuple[nn.Module, dict[str, Any]]:
        """The trained module as ``module_``, and learned attributes to set; here as it is."""
        return module, {}

    def _make_optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        params = [p for p in module.parameters() if p.requires_grad]
        settings = self._routed("optimizer")
        lr = settings.pop("lr", self.lr)  # `_settings` refuses both being set
        return build_optimizer(self.optimizer, params, lr, **settings)

    # ------------------------------------------------------------------ predict

    def __sklearn_is_fitted__(self) -> bool:
        return "module_" in self.__dict__

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _logits(self, X: Any) -> np.ndarray:
        """(n, n_logits_) float32 logits, independent of the order of X (`predict_logits`)."""
        check_is_fitted(self)
        inputs = self._predict_inputs(X)
        step = check_int("batch_size", self.batch_size, minimum=1)
        return predict_logits(self.module_, inputs, batch_size=step, order_invariant=True)

    def decision_function(self, X: Any) -> np.ndarray:
        """The module's logits: (n,) for two classes (positive means ``classes_[1]``), else (n, n_classes)."""
        logits = self._logits(X)
        return logits[:, 0] if self.n_logits_ == 1 else logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float64, columns in ``classes_`` order: (n, n_classes)."""
        return class_probabilities(self._logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each sample: (n,) values of ``classes_``."""
        index = class_indices(self._logits(X))  # checks fitted before classes_ is read
        return self.classes_[index]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy on (X, y); y may be labels or one-hot rows.

        A label that is not in ``classes_`` can never be predicted, so it counts as an error.
        """
        truth = labels_for_score(y, self.classes_, type(self).__name__)
        return float(accuracy_score(truth, self.predict(X), sample_weight=sample_weight))

    # ------------------------------------------------------------------- saving

    def save(self, directory: str | Path) -> Path:
        """Save the fitted estimator to ``directory`` (weights in safetensors, the rest JSON).

        Parameters that JSON cannot hold (a ``build_fn``, an optimiser class, a
        loss function) are not saved: `load` asks for them again.

        Returns:
            The directory.
        """
        check_is_fitted(self)
        return persistence.save_estimator(self, directory)

    @classmethod
    def load(cls, directory: str | Path, **params: Any) -> EstimatorBase:
        """Load an estimator saved by `save`; ``params`` supply (or override) unsaved parameters.

        Raises:
            ModelFileError: a missing, truncated, tampered or incompatible directory,
                or one that holds another estimator class.
        """
        return persistence.load_estimator(directory, REGISTRY, cls, params)

    def to_pipeline(self) -> Pipeline:
        """The fitted model as a `Pipeline`: what `save` writes and `rnnlab.load` reads back."""
        check_is_fitted(self)
        architecture, config = self._architecture()
        return Pipeline(
            self.module_,
            [str(c) for c in self.classes_],
            self._input_encoder(),
            architecture,
            config,
        )

    def _architecture(self) -> tuple[str | None, dict[str, Any]]:
        """(registered architecture name or None, the config that rebuilds ``module_``)."""
        raise NotImplementedError

    def _input_encoder(self) -> InputEncoder:
        """How raw inputs become the module's tensors, as the fitted estimator does it."""
        raise NotImplementedError

    def _fitted_state(self) -> dict[str, Any]:
        names = (
            "classes_",
            "n_logits_",
            "history_",
            "n_features_in_",
            "feature_names_in_",
            *self._fitted_attrs,
        )
        return {k: self.__dict__[k] for k in names if k in self.__dict__}

    def _restore(self, fitted: dict[str, Any], parts: dict[str, Any]) -> None:
        for key, value in fitted.items():
            setattr(self, key, value)


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch for the block and put the caller's generator state back afterwards."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _output_width(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], n_classes: int, name: str
) -> int:
    """Run the module on one sample to learn its output width, and check it fits the classes."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(*(t[:1] for t in inputs))
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise InvalidTypeError(
            f"the module must return a tensor of logits, got {type(out).__name__}"
        )
    width = 1 if out.ndim == 1 else int(np.prod(out.shape[1:]))
    if width == n_classes or (width == 1 and n_classes == 2):
        return width
    raise InvalidValueError(
        f"{name}: the module returns {width} outputs per sample but there are {n_classes} "
        f"classes: it must return (batch, {n_classes}) logits"
        + (" or (batch, 1) for two classes" if n_classes == 2 else "")
        + " (pass `classes=` if some class is missing from y)"
    )


_INDEX_LOSSES = ("cross_entropy", "sparse_categorical_crossentropy")


def _loss_and_target(
    loss: Any, indices: np.ndarray, n_classes: int, width: int
) -> tuple[Any, torch.Tensor]:
    """The Trainer loss and the target tensor that loss wants."""
    if callable(loss):
        return loss, torch.from_numpy(indices)
    if loss == "auto":
        loss = "binary_crossentropy" if width == 1 else "cross_entropy"
    if loss == "binary_crossentropy":
        if width != 1:
            raise ConfigError(
                f"loss 'binary_crossentropy' needs one logit per sample; the module returns {width}"
            )
        return loss, torch.from_numpy(indices.astype(np.float32))
    if width == 1:
        raise ConfigError(
            f"loss {loss!r} needs one logit per class; the module returns one logit: "
            "use 'binary_crossentropy' (or 'auto')"
        )
    if loss == "categorical_crossentropy":
        return loss, torch.from_numpy(np.eye(n_classes, dtype=np.float32)[indices])
    if loss in _INDEX_LOSSES:
        return loss, torch.from_numpy(indices)
    raise ConfigError(
        "`loss` must be 'auto', 'cross_entropy', 'categorical_crossentropy', "
        f"'binary_crossentropy' or a callable (outputs, target) -> losses, got {loss!r}"
    )
