"""`ModelClassifier`: the KerasClassifier pattern: your own model factory, a scikit-learn classifier.

``build_fn`` is a callable returning a torch ``nn.Module`` that maps a batch
of X to logits: (batch, n_classes), or (batch, 1) for two classes. Leave out
the final softmax / sigmoid of a Keras model: the loss applies it (that is
the numerically stable form), and predict_proba applies it for you.

Keyword arguments of ``build_fn`` route with ``module__`` (or ``build_fn__``):
``ModelClassifier(build_fn=make, module__units=64)`` calls ``make(units=64)``.
When ``build_fn`` names a parameter ``num_classes`` (or ``n_classes``) or
``input_shape``, fit passes the number of classes / ``X.shape[1:]`` unless it
is set explicitly. The optimiser is the estimator's (``optimizer="adam"``,
``optimizer__lr=0.001``), not part of the model.

Saving: a function cannot be stored as data, so ``save`` keeps the weights,
the parameters and the arguments ``build_fn`` got. Register the factory
(``@rnnlab.register_model("name")``) and the saved model rebuilds from its
files alone: ``rnnlab.load(dir)``, ``rnnlab predict dir``,
``ModelClassifier.load(dir)``. Otherwise loading needs the function again:
``ModelClassifier.load(dir, build_fn=make)``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import nn

from rnnlab.errors import ConfigError, InvalidTypeError, InvalidValueError, check_choice
from rnnlab.estimators.base import EstimatorBase
from rnnlab.estimators.params import signature_names
from rnnlab.input_encoder import InputEncoder
from rnnlab.models.registry import architecture_name

_AUTO_CLASSES = ("num_classes", "n_classes")


class ModelClassifier(EstimatorBase):
    """Wraps ``build_fn() -> nn.Module`` (logits) as a scikit-learn classifier.

    Args:
        build_fn: callable returning the untrained module; called once per fit.
        loss: 'auto' (sigmoid cross-entropy for one logit, softmax cross-entropy
            otherwise), 'cross_entropy', 'categorical_crossentropy' (one-hot
            targets; the same numbers), 'binary_crossentropy', or a callable
            ``(logits, target indices) -> per-sample losses``.
        dtype: what X becomes before the module sees it: 'float32' (the default,
            as a Keras ``Input``; right for recurrent layers fed numbers),
            'int64' (for a module that starts with an embedding) or 'auto'
            (floats -> float32, integers -> int64).
        epochs, batch_size, optimizer, lr, validation_split, patience, shuffle,
            classes, random_state, device, verbose: see `EstimatorBase`.
        **kwargs: ``module__<name>`` / ``build_fn__<name>`` arguments of
            ``build_fn``, ``optimizer__<name>`` optimiser settings.

    Attributes:
        classes_, module_, history_, n_logits_, n_features_in_: see `EstimatorBase`.
        build_kwargs_: the keyword arguments ``build_fn`` was called with.
        input_shape_: ``X.shape[1:]`` at fit.
    """

    _route_prefixes: ClassVar[tuple[str, ...]] = ("module", "build_fn", "optimizer")
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("build_kwargs_", "input_shape_", "input_dtype_")

    def __init__(
        self,
        build_fn: Any = None,
        *,
        loss: Any = "auto",
        dtype: str = "float32",
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: Any = "adam",
        lr: float | None = None,
        validation_split: float | None = None,
        patience: int | None = None,
        shuffle: bool = True,
        classes: Any = None,
        random_state: Any = None,
        device: Any = "auto",
        verbose: int = 0,
        **kwargs: Any,
    ) -> None:
        self.build_fn = build_fn
        self.loss = loss
        self.dtype = dtype
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.validation_split = validation_split
        self.patience = patience
        self.shuffle = shuffle
        self.classes = classes
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._routed_params = kwargs

    def _routed_names(self, prefix: str) -> list[str] | None:
        if prefix in ("module", "build_fn"):
            return signature_names(self.build_fn) if callable(self.build_fn) else None
        return super()._routed_names(prefix)

    def _loss_setting(self) -> Any:
        return self.loss

    # ------------------------------------------------------------------ inputs

    def _convert(self, x: np.ndarray) -> torch.Tensor:
        dtype = check_choice("dtype", self.dtype, ("float32", "int64", "auto"))
        if dtype == "auto":
            dtype = "int64" if x.dtype.kind in "biu" else "float32"
        if dtype == "int64" and x.dtype.kind == "f" and not (x == np.round(x)).all():
            raise InvalidValueError(
                "dtype='int64' needs whole numbers in X (token ids), got fractions"
            )
        return torch.tensor(x.astype(dtype))

    def _fit_inputs(self, X: Any) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
        if not callable(self.build_fn):
            raise InvalidTypeError(
                "`build_fn` must be a callable returning a torch.nn.Module, got "
                f"{type(self.build_fn).__name__} {self.build_fn!r}"
            )
        x = validate_data(self, X, reset=True, dtype="numeric", allow_nd=True)
        values = self._convert(x)
        fitted = {
            "input_shape_": tuple(int(d) for d in x.shape[1:]),
            "input_dtype_": str(values.dtype).removeprefix("torch."),
        }
        return (values,), fitted

    def _predict_inputs(self, X: Any) -> tuple[torch.Tensor, ...]:
        x = validate_data(self, X, reset=False, dtype="numeric", allow_nd=True)
        if tuple(x.shape[1:]) != tuple(self.input_shape_):
            raise InvalidValueError(
                f"X has samples of shape {tuple(x.shape[1:])}, but {type(self).__name__} "
                f"was fitted on samples of shape {tuple(self.input_shape_)}"
            )
        return (self._convert(x),)

    # ------------------------------------------------------------------ module

    def _build_kwargs(self, n_classes: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
        a, b = self._routed("module"), self._routed("build_fn")
        both = sorted(set(a) & set(b))
        if both:
            raise ConfigError(
                f"`module__{both[0]}` and `build_fn__{both[0]}` are the same argument; set one"
            )
        kwargs = {**a, **b}
        try:
            explicit = set(inspect.signature(self.build_fn).parameters)
        except (TypeError, ValueError):
            explicit = set()
        for name in _AUTO_CLASSES:
            if name in explicit and name not in kwargs:
                kwargs[name] = n_classes
        if "input_shape" in explicit and "input_shape" not in kwargs:
            kwargs["input_shape"] = tuple(input_shape)
        return kwargs

    def _call_build_fn(self, kwargs: dict[str, Any]) -> nn.Module:
        module = self.build_fn(**kwargs)
        if not isinstance(module, nn.Module):
            raise InvalidTypeError(
                "`build_fn` must return a torch.nn.Module whose forward returns logits, got "
                f"{type(module).__name__}"
            )
        return module

    def _build_module(
        self, n_classes: int, fitted: dict[str, Any]
    ) -> tuple[nn.Module, dict[str, Any]]:
        kwargs = self._build_kwargs(n_classes, fitted["input_shape_"])
        return self._call_build_fn(kwargs), {"build_kwargs_": kwargs}

    def _architecture(self) -> tuple[str | None, dict[str, Any]]:
        return architecture_name(self.build_fn), dict(self.build_kwargs_)

    def _input_encoder(self) -> InputEncoder:
        dtype = getattr(self, "input_dtype_", "float32")
        return InputEncoder("array", shape=tuple(self.input_shape_), dtype=dtype)

    def _rebuild_module(self) -> nn.Module:
        if not callable(self.build_fn):
            raise InvalidTypeError(
                "loading a ModelClassifier needs `build_fn=` (the same function)"
            )
        return self._call_build_fn(dict(self.build_kwargs_))
