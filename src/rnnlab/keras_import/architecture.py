"""`KerasSequential`: the "keras_sequential" architecture, a chain of layers rebuilt from specs.

An imported Keras model is saved as this architecture and the layer specs
`rnnlab.keras_import.layers.translate` made (plain JSON, no code), so
`rnnlab.load` and every command rebuild it from ``model.json``. The layers are
`rnnlab.nn`'s Keras-exact ones (Embedding, SimpleRNN, LSTM, GRU, Bidirectional)
and torch's Linear, Dropout and activations.

Masking follows Keras: an Embedding with ``mask_zero`` masks the steps whose id
is 0, wherever they are, and the mask goes on through Dense, Dropout and
Activation layers to every recurrent layer until one returns a single state.
Without ``mask_zero`` nothing is masked, as in Keras; ``lengths`` is accepted
(the `InputEncoder` passes it) and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.errors import ConfigError, DataError, ModelFileError, check_choice
from rnnlab.models.registry import register_model
from rnnlab.nn import GRU, LSTM, Bidirectional, Embedding, SimpleRNN

INPUTS = ("ids", "numbers", "array")
_CELLS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
_ACTIVATIONS = {
    "linear": lambda x: x,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
}


class Activation(nn.Module):
    """A Keras activation by name (linear, softmax over the last axis, sigmoid, relu, tanh)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = check_choice("activation", name, _ACTIVATIONS)
        self._fn = _ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)

    def extra_repr(self) -> str:
        return self.name


class Dense(nn.Module):
    """Keras `Dense`: ``activation(x @ kernel + bias)`` on the last axis, kernel (in, out)."""

    def __init__(
        self, in_features: int, units: int, activation: str = "linear", use_bias: bool = True
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, units, bias=use_bias)
        self.activation = Activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))

    @torch.no_grad()
    def set_keras_weights(self, weights: Sequence[Any]) -> None:
        """[kernel (in, out), bias (out,)] as Keras `get_weights()` (no bias without use_bias)."""
        w = self.linear.weight
        shapes = [(w.shape[1], w.shape[0])] + (
            [(w.shape[0],)] if self.linear.bias is not None else []
        )
        got = [tuple(np.shape(a)) for a in weights]
        if got != shapes:
            raise ModelFileError(f"Dense expects arrays of shapes {shapes}, got {got}")
        w.copy_(torch.as_tensor(np.asarray(weights[0]).T, dtype=w.dtype))
        if self.linear.bias is not None:
            self.linear.bias.copy_(torch.as_tensor(np.asarray(weights[1]), dtype=w.dtype))


def _recurrent(spec: dict[str, Any]) -> nn.Module:
    kwargs = {
        key: spec[key]
        for key in (
            "units",
            "input_size",
            "use_bias",
            "return_sequences",
            "go_backwards",
            "zero_output_for_mask",
            "dropout",
            "recurrent_dropout",
            "activation",
        )
    }
    if spec["cell"] != "simple_rnn":
        kwargs["recurrent_activation"] = spec["recurrent_activation"]
    if spec["cell"] == "gru":
        kwargs["reset_after"] = spec["reset_after"]
    return _CELLS[spec["cell"]](**kwargs)


def _stage(spec: dict[str, Any]) -> nn.Module:
    kind = spec["kind"]
    if kind == "recurrent":
        return _recurrent(spec)
    if kind == "bidirectional":
        return Bidirectional(
            _recurrent(spec["forward"]),
            merge_mode=spec["merge_mode"],
            backward_layer=_recurrent(spec["backward"]),
        )
    if kind == "dense":
        return Dense(spec["in_features"], spec["units"], spec["activation"], spec["use_bias"])
    if kind == "dropout":
        return nn.Dropout(spec["rate"])
    if kind == "activation":
        return Activation(spec["activation"])
    raise ConfigError(f"unknown layer kind {kind!r} in a keras_sequential config")


class KerasSequential(nn.Module):
    """The layers of an imported Keras model, in order; returns logits.

    Args:
        layers: the specs `translate` made (dicts with a ``kind``).
        inputs: what the first layer reads: 'ids' (an Embedding), 'numbers' (one
            number per step, the Keras input (time, 1); ids from a text encoder are
            cast, as the Reuters tutorial feeds them), or 'array' (fixed shape).

    Attributes:
        embedding: the Embedding layer when the model starts with one, else None
            (what `rnnlab.explain` attributes over).
    """

    def __init__(self, layers: Sequence[dict[str, Any]], inputs: str = "ids") -> None:
        super().__init__()
        self.inputs = check_choice("inputs", inputs, INPUTS)
        specs = [dict(spec) for spec in layers]
        self.config: dict[str, Any] = {"layers": [dict(spec) for spec in specs], "inputs": inputs}
        self.embedding: Embedding | None = None
        if specs and specs[0]["kind"] == "embedding":
            first = specs.pop(0)
            self.embedding = Embedding(
                first["input_dim"], first["output_dim"], mask_zero=first["mask_zero"]
            )
        if (self.embedding is None) != (inputs != "ids"):
            raise ConfigError(
                f"keras_sequential: inputs={inputs!r} but the first layer is "
                f"{'an' if self.embedding is not None else 'not an'} Embedding"
            )
        self.specs = specs
        self.stages = nn.ModuleList(_stage(spec) for spec in specs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        mask = None
        if self.embedding is not None:
            if x.numel() and (int(x.max()) >= self.embedding.input_dim or int(x.min()) < 0):
                # A user's input, not a bug: say so in one line rather than a traceback.
                raise DataError(
                    f"token ids must be in [0, {self.embedding.input_dim - 1}] for this model "
                    f"(its Embedding has {self.embedding.input_dim} rows), got ids from "
                    f"{int(x.min())} to {int(x.max())}; map larger ids to the oov id (2 in the "
                    "Keras layout), as load_data(num_words=...) does"
                )
            mask = self.embedding.compute_mask(x)
            h = self.embedding(x)
        elif self.inputs == "numbers":
            h = x.float().unsqueeze(-1)
        else:
            h = x.float()
        for spec, stage in zip(self.specs, self.stages):
            if spec["kind"] in ("recurrent", "bidirectional"):
                h = stage(h, mask=mask) if mask is not None else stage(h)
                if not stage.return_sequences:
                    mask = None
            else:
                h = stage(h)
        return h

    def set_keras_weights(self, weights: dict[str, list[np.ndarray]]) -> None:
        """Load each layer's arrays (layer name -> `get_weights()` list) into its stage."""
        named = (
            [(self.config["layers"][0]["name"], self.embedding)]
            if self.embedding is not None
            else []
        )
        named += [
            (spec["name"], stage)
            for spec, stage in zip(self.specs, self.stages)
            if spec["kind"] not in ("dropout", "activation")
        ]
        for name, module in named:
            if name not in weights:
                raise ModelFileError(f"the weights file has no arrays for layer {name!r}")
            try:
                module.set_keras_weights(weights[name])
            except (ValueError, TypeError, ModelFileError) as exc:
                raise ModelFileError(f"layer {name!r}: {exc}") from None


@register_model("keras_sequential")
def keras_sequential(layers: Sequence[dict[str, Any]], inputs: str = "ids") -> KerasSequential:
    """The registered factory: ``model.json``'s config -> a `KerasSequential`."""
    return KerasSequential(layers, inputs)
