"""`RecurrentEstimator`: what Sequence- and TextClassifier share: a `RecurrentClassifier` and padding.

The network is `rnnlab.models.RecurrentClassifier`; its settings route with
``module__`` (``module__cell="gru"``, ``module__units=(64,)``,
``module__embedding_dim=32``, ``module__dropout=0.2``, ``module__mask=True``,
...). The estimator fills in what it learns or owns itself: ``vocab_size``
(from the data or the vocabulary), ``num_classes`` (from the classes) and
``padding`` (the estimator's own parameter, which also pads the batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnlab.data.sequence import pad_with_lengths, padded_lengths
from rnnlab.errors import ConfigError, check_choice, check_int
from rnnlab.estimators.base import EstimatorBase
from rnnlab.estimators.params import signature_names
from rnnlab.models import RecurrentClassifier

_OWNED = {
    "vocab_size": "it is learned from the data (SequenceClassifier: pass `vocab_size=`)",
    "num_classes": "it is the number of classes (pass `classes=` to fix them)",
    "padding": "pass the estimator's `padding=`, which also pads the batches",
}


class RecurrentEstimator(EstimatorBase):
    """Base of the estimators whose network is a `RecurrentClassifier` (not used directly)."""

    _owned_module_args: ClassVar[dict[str, str]] = _OWNED
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("module_config_", "maxlen_")

    def _routed_names(self, prefix: str) -> list[str] | None:
        if prefix == "module":
            return signature_names(RecurrentClassifier, skip=self._owned_module_args)
        return super()._routed_names(prefix)

    def _refusal(self, prefix: str, name: str) -> str | None:
        return self._owned_module_args.get(name) if prefix == "module" else None

    def _module_settings(self) -> dict[str, Any]:
        settings = self._routed("module")
        for key, why in self._owned_module_args.items():
            if key in settings:
                raise ConfigError(f"{type(self).__name__}: `module__{key}` cannot be set: {why}")
        return settings

    def _check_padding(self) -> None:
        check_choice("padding", self.padding, ("pre", "post"))
        check_choice("truncating", self.truncating, ("pre", "post"))
        check_int("maxlen", self.maxlen, minimum=1, allow_none=True)

    def _vocab_size(self, fitted: dict[str, Any]) -> int | None:
        return fitted.get("vocab_size_")

    def _build_module(
        self, n_classes: int, fitted: dict[str, Any]
    ) -> tuple[nn.Module, dict[str, Any]]:
        config = {
            **self._module_settings(),
            "vocab_size": self._vocab_size(fitted) or 1,  # 'raw' input has no vocabulary
            "num_classes": n_classes,
            "padding": self.padding,
        }
        if "input_" in fitted:
            config["input"] = fitted["input_"]
        module = RecurrentClassifier(**config)
        return module, {"module_config_": dict(module.config)}

    def _rebuild_module(self) -> nn.Module:
        return RecurrentClassifier(**self.module_config_)

    def _architecture(self) -> tuple[str | None, dict[str, Any]]:
        return "RecurrentClassifier", dict(self.module_config_)


def pad_ragged(
    sequences: Sequence[Sequence[Any]], maxlen: int, padding: str, truncating: str, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Ragged sequences -> ((n, maxlen) array, (n,) int64 lengths, at least 1)."""
    return pad_with_lengths(sequences, maxlen, padding, truncating, dtype=dtype, min_length=1)


array_lengths = padded_lengths


def as_tensors(x: np.ndarray, lengths: np.ndarray, embedding: bool) -> tuple[torch.Tensor, ...]:
    """Model inputs (ids or float features, lengths) as fresh tensors (read-only input is fine)."""
    values = torch.tensor(x, dtype=torch.int64 if embedding else torch.float32)
    return values, torch.tensor(lengths, dtype=torch.int64)
