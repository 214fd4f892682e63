"""`RecurrentEstimator`: what Sequence- and TextClassifier share: a `RecurrentClassifier` and padding.

The network is `rnnlab.models.RecurrentClassifier`; its settings route with
``module__`` (``module__cell="gru"``, ``module__units=(64,)``,
``module__embedding_dim=32``, ``module__dropout=0.2``, ``module__mask=True``,
...). The estimator fills in what it learns or owns itself: ``vocab_size``
(from the data or the vocabulary), ``num_classes`` (from the classes) and
``padding`` (the estimator's own parameter, which also pads the batches).

``model_kind="hybrid"`` puts NBSVM's word n-gram scores beside the trained
network (`rnnlab.models.HybridClassifier`): after the recurrent part is trained
(its best epoch restored on validation), `fit_hybrid` fits the n-gram part on the
training rows, chooses its n-gram order, C, beta and the blend on the validation rows, and refits
it on all rows. ``module_`` is then the `HybridClassifier`, ``module_config_`` its
config and ``hybrid_`` what was chosen.
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
from rnnlab.models.hybrid import HybridClassifier

MODEL_KINDS = ("recurrent", "hybrid")

_OWNED = {
    "vocab_size": "it is learned from the data (SequenceClassifier: pass `vocab_size=`)",
    "num_classes": "it is the number of classes (pass `classes=` to fix them)",
    "padding": "pass the estimator's `padding=`, which also pads the batches",
}


class RecurrentEstimator(EstimatorBase):
    """Base of the estimators whose network is a `RecurrentClassifier` (not used directly)."""

    _owned_module_args: ClassVar[dict[str, str]] = _OWNED
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("module_config_", "maxlen_", "hybrid_")
    # `module__` settings used where the caller gives none (TextClassifier's recipe).
    _module_defaults: ClassVar[dict[str, Any]] = {}
    model_kind: str

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
        return {**self._module_defaults, **settings}

    def _check_model_kind(self) -> str:
        kind = check_choice("model_kind", self.model_kind, MODEL_KINDS)
        if kind == "hybrid" and self.validation_split is None:
            raise ConfigError(
                f"{type(self).__name__}: model_kind='hybrid' chooses its blend on validation "
                "rows, but validation_split is None: set validation_split (e.g. 0.1) or "
                "model_kind='recurrent'"
            )
        return kind

    def _validation_rows(
        self, indices: np.ndarray, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        self._check_model_kind()
        return super()._validation_rows(indices, seed)

    def _finish_module(
        self,
        module: nn.Module,
        inputs: tuple[torch.Tensor, ...],
        indices: np.ndarray,
        rows: tuple[np.ndarray, np.ndarray] | None,
        settings: dict[str, Any],
    ) -> tuple[nn.Module, dict[str, Any]]:
        """With model_kind='hybrid': the trained network blended with NBSVM (`fit_hybrid`)."""
        if self._check_model_kind() != "hybrid":
            return module, {}
        if module.config.get("input") == "raw" or not isinstance(module, RecurrentClassifier):
            raise ConfigError(
                f"{type(self).__name__}: model_kind='hybrid' reads token ids; this input is "
                "raw numbers: use model_kind='recurrent'"
            )
        # The n-gram part lives in experiments/ beside the linear baselines it shares.
        from rnnlab.experiments.hybrid_fit import fit_hybrid

        assert rows is not None  # `_check_model_kind` refuses hybrid without validation
        ids, lengths = (t.cpu().numpy() for t in inputs[:2])
        fit_rows, val_rows = rows
        hybrid, info = fit_hybrid(
            module,
            fit=(ids[fit_rows], lengths[fit_rows], indices[fit_rows]),
            validation=(ids[val_rows], lengths[val_rows], indices[val_rows]),
            seed=settings["seed"] or 0,
        )
        hybrid.to(settings["device"])
        return hybrid, {"module_config_": dict(hybrid.config), "hybrid_": info}

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
        if _is_hybrid(self.module_config_):
            return HybridClassifier(**self.module_config_)
        return RecurrentClassifier(**self.module_config_)

    def _architecture(self) -> tuple[str | None, dict[str, Any]]:
        name = "HybridClassifier" if _is_hybrid(self.module_config_) else "RecurrentClassifier"
        return name, dict(self.module_config_)


def _is_hybrid(config: dict[str, Any]) -> bool:
    """A `HybridClassifier` config (a recurrent part and n-gram sizes), not a recurrent one."""
    return "recurrent" in config and "ngrams" in config


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
