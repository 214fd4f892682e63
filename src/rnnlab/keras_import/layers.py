"""Keras layer configs -> the plain layer specs of a `KerasSequential`, or a refusal that says why.

`translate` walks the model's layers in order, checks each against what rnnlab
computes exactly as Keras does, tracks the tensor shape, and returns JSON-ready
specs (what the saved model's ``model.json`` holds). A functional model is
accepted when it is a linear chain (each layer fed by the one before); anything
else, an unsupported layer or an unsupported setting, raises `ModelFileError`
naming the layer and listing what is supported.

The final softmax / sigmoid is taken off: rnnlab models return logits, and
`rnnlab.engine.inference.class_probabilities` puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnlab.errors import ModelFileError
from rnnlab.keras_import.files import layer_name
from rnnlab.nn.activations import ACTIVATIONS

SUPPORTED = (
    "InputLayer",
    "Embedding",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Activation",
)
RECURRENT = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
# Between layers, the activations computed here; at the end only the ones that make
# probabilities out of logits (softmax, sigmoid) or leave logits (linear).
HIDDEN_ACTIVATIONS = ("linear", "softmax", "sigmoid", "relu", "tanh")
MERGE_MODES = ("concat", "sum", "ave", "mul")
_SUPPORTED_TEXT = (
    f"rnnlab imports {', '.join(SUPPORTED)} layers in a Sequential model or a linear "
    "functional chain"
)


@dataclass
class Translation:
    """What `translate` found: the input, the layer specs and the output.

    Attributes:
        input_shape: the per-sample input shape, None for a free length: ``(80,)``
            for ids into an Embedding, ``(49, 1)`` for numbers into an RNN.
        layers: JSON-ready specs, one per computing layer (InputLayer dropped).
        outputs: the number of logits (1: binary, the sigmoid's logit).
        output_activation: what was taken off the end ('softmax', 'sigmoid', 'linear').
        model_class: 'Sequential' or 'Functional'.
    """

    input_shape: tuple[int | None, ...]
    layers: list[dict[str, Any]]
    outputs: int
    output_activation: str
    model_class: str


def translate(model: dict[str, Any], keras_major: int = 3) -> Translation:
    """Check a serialized Keras model and turn its layers into specs (see the module doc)."""
    class_name = str(model.get("class_name", ""))
    inner = model.get("config")
    if class_name == "Sequential":
        layers = inner.get("layers", []) if isinstance(inner, dict) else inner
        input_shape = _sequential_input(inner if isinstance(inner, dict) else {}, layers)
    elif class_name in ("Functional", "Model"):
        layers, input_shape = _chain(inner if isinstance(inner, dict) else {})
    else:
        raise ModelFileError(
            f"the file holds a {class_name or 'non-model'} object, not a Sequential or "
            f"functional model; {_SUPPORTED_TEXT}"
        )
    if not isinstance(layers, list) or not layers:
        raise ModelFileError("the model config lists no layers")
    state = _Shape(input_shape)
    specs = []
    for layer in layers:
        cls = str(layer.get("class_name", ""))
        if cls == "InputLayer":
            continue
        spec = _layer(layer, cls, state, first=not specs, keras_major=keras_major)
        specs.append(spec)
    if not specs:
        raise ModelFileError("the model has no layers besides its input")
    outputs, activation = _take_off_output(specs, state)
    return Translation(
        tuple(input_shape),
        specs,
        outputs,
        activation,
        "Sequential" if class_name == "Sequential" else "Functional",
    )


# ---------------------------------------------------------------------------- input / chain


def _shape_of(config: dict[str, Any]) -> list[Any] | None:
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(config.get(key), list):
            return config[key]
    return None


def _sequential_input(inner: dict[str, Any], layers: list[dict[str, Any]]) -> tuple:
    shape = None
    if layers and isinstance(layers[0], dict):
        shape = _shape_of(layers[0].get("config") or {})  # InputLayer, or Keras 2's first layer
    if shape is None and isinstance(inner.get("build_input_shape"), list):
        shape = inner["build_input_shape"]
    if shape is None:
        raise ModelFileError(
            "the Sequential model has no input shape (it was never built): build it with "
            "keras.Input(shape) as its first layer, or call model.build(...) before saving"
        )
    return tuple(shape[1:])


def _history(arg: Any) -> str | None:
    """The layer name an inbound tensor comes from (Keras 3 and Keras 2 node formats)."""
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        return str(arg["config"]["keras_history"][0])
    if isinstance(arg, list) and arg and isinstance(arg[0], str):
        return arg[0]
    return None


def _inbound(layer: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for node in layer.get("inbound_nodes") or []:
        args = node.get("args", []) if isinstance(node, dict) else node
        for arg in args:
            if isinstance(arg, list) and arg and isinstance(arg[0], (list, dict)):
                names.extend(n for n in map(_history, arg) if n is not None)
            else:
                name = _history(arg)
                if name is not None:
                    names.append(name)
    return names


def _endpoints(value: Any) -> list[str]:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    return [v[0] for v in value or [] if isinstance(v, list) and v]


def _chain(inner: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple]:
    """A functional model's layers in order, if they form one chain input -> output."""
    layers = [layer for layer in inner.get("layers", []) if isinstance(layer, dict)]
    inputs, outputs = _endpoints(inner.get("input_layers")), _endpoints(inner.get("output_layers"))
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelFileError(
            f"the functional model has {len(inputs)} inputs and {len(outputs)} outputs; "
            f"{_SUPPORTED_TEXT} (one input, one output)"
        )
    # Keras 3 writes an Embedding's mask_zero mask as an op layer, NotEqual(input, 0), fed
    # to the recurrent layers' `mask`: the mask the module computes itself, so it is dropped.
    masks = {layer_name(layer) for layer in layers if _is_zero_mask(layer, inputs[0])}
    for layer in layers:
        for node in layer.get("inbound_nodes") or []:
            mask = node.get("kwargs", {}).get("mask") if isinstance(node, dict) else None
            source = _history(mask)
            if source is not None and source not in masks:
                raise ModelFileError(
                    f"layer {layer_name(layer)!r} ({layer.get('class_name')}) is given a mask "
                    f"computed by layer {source!r}; rnnlab masks only as an Embedding with "
                    "mask_zero=True does"
                )
    layers = [layer for layer in layers if layer_name(layer) not in masks]
    by_name = {layer_name(layer): layer for layer in layers}
    feeds: dict[str, list[str]] = {}
    for layer in layers:
        sources, calls = _inbound(layer), len(layer.get("inbound_nodes") or [])
        if len(sources) > 1 or calls > 1:
            what = f"is called {calls} times" if calls > 1 else f"takes {len(sources)} inputs"
            raise ModelFileError(
                f"layer {layer_name(layer)!r} ({layer.get('class_name')}) {what}; "
                f"{_SUPPORTED_TEXT}, not branches, merges or shared layers"
            )
        for source in sources:
            feeds.setdefault(source, []).append(layer_name(layer))
    branching = [name for name, users in feeds.items() if len(users) > 1]
    if branching:
        raise ModelFileError(
            f"the output of layer {branching[0]!r} feeds {len(feeds[branching[0]])} layers "
            f"({', '.join(feeds[branching[0]])}); {_SUPPORTED_TEXT}, not branches"
        )
    order, name = [], inputs[0]
    while True:
        if name not in by_name:
            raise ModelFileError(f"the functional model refers to an unknown layer {name!r}")
        order.append(by_name[name])
        if name == outputs[0]:
            break
        users = feeds.get(name, [])
        if not users:
            raise ModelFileError(
                f"layer {name!r} leads nowhere: the model's output is not "
                "reached from its input along one chain"
            )
        name = users[0]
    unused = [layer_name(layer) for layer in layers if layer not in order]
    if unused:
        raise ModelFileError(
            f"layers {unused} are not on the chain from input to output; {_SUPPORTED_TEXT}"
        )
    shape = _shape_of(order[0].get("config") or {})
    if order[0].get("class_name") != "InputLayer" or shape is None:
        raise ModelFileError("the functional model does not start at an InputLayer with a shape")
    if masks and not any(
        layer.get("class_name") == "Embedding" and (layer.get("config") or {}).get("mask_zero")
        for layer in order
    ):
        raise ModelFileError(
            "the functional model masks the steps whose input is 0 without an "
            "Embedding(mask_zero=True); rnnlab masks only that way"
        )
    return order, tuple(shape[1:])


def _is_zero_mask(layer: dict[str, Any], model_input: str) -> bool:
    """Whether ``layer`` is Keras 3's NotEqual(model input, 0) op, the mask_zero mask."""
    if layer.get("class_name") != "NotEqual":
        return False
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], dict):
        return False
    args = nodes[0].get("args", [])
    return len(args) == 2 and _history(args[0]) == model_input and args[1] == 0


# ---------------------------------------------------------------------------- shapes


class _Shape:
    """The per-sample shape flowing through the layers: (time, features) or (features,)."""

    def __init__(self, shape: tuple) -> None:
        self.shape = list(shape)

    @property
    def features(self) -> int | None:
        return self.shape[-1] if self.shape else None


def _fail(layer: dict[str, Any], cls: str, problem: str) -> ModelFileError:
    return ModelFileError(f"layer {layer_name(layer)!r} ({cls}): {problem}")


def _activation(value: Any) -> str | None:
    """A serialized activation's name (a string, or Keras's dict forms), else None."""
    if value is None:
        return "linear"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return None


def _positive_int(layer, cls, config, key) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(layer, cls, f"`{key}` must be a positive integer, got {value!r}")
    return value


def _layer(
    layer: dict[str, Any], cls: str, state: _Shape, first: bool, keras_major: int
) -> dict[str, Any]:
    config = layer.get("config") or {}
    name = layer_name(layer)
    if cls not in SUPPORTED:
        raise _fail(layer, cls, f"unsupported layer; {_SUPPORTED_TEXT}")
    for key in ("quantization_config", "lora_rank"):
        if config.get(key):
            raise _fail(
                layer,
                cls,
                f"`{key}` is set (quantized or LoRA weights); import the "
                "model before quantizing it",
            )
    if cls == "Embedding":
        if not first:
            raise _fail(layer, cls, "an Embedding must be the first layer after the input")
        if len(state.shape) != 1:
            raise _fail(
                layer,
                cls,
                f"expects (batch, time) token ids, the input is "
                f"(batch, {', '.join(map(str, state.shape))})",
            )
        input_dim = _positive_int(layer, cls, config, "input_dim")
        output_dim = _positive_int(layer, cls, config, "output_dim")
        state.shape = [state.shape[0], output_dim]
        return {
            "kind": "embedding",
            "name": name,
            "input_dim": input_dim,
            "output_dim": output_dim,
            "mask_zero": bool(config.get("mask_zero", False)),
        }
    if cls in RECURRENT:
        if len(state.shape) != 2:
            raise _fail(
                layer, cls, "a recurrent layer needs a sequence input (batch, time, features)"
            )
        spec = _recurrent(layer, cls, config, state.features, keras_major)
        state.shape = (
            [state.shape[0], spec["units"]] if spec["return_sequences"] else [spec["units"]]
        )
        return spec
    if cls == "Bidirectional":
        if len(state.shape) != 2:
            raise _fail(
                layer, cls, "a recurrent layer needs a sequence input (batch, time, features)"
            )
        merge = config.get("merge_mode", "concat")
        if merge not in MERGE_MODES:
            raise _fail(
                layer,
                cls,
                f"merge_mode={merge!r} is not supported (it returns both "
                f"directions apart); supported: {', '.join(MERGE_MODES)}",
            )
        inner = config.get("layer") or {}
        inner_cls = str(inner.get("class_name", ""))
        if inner_cls not in RECURRENT:
            raise _fail(
                layer,
                cls,
                f"wraps a {inner_cls or 'missing'} layer; rnnlab's "
                "Bidirectional wraps SimpleRNN, LSTM or GRU",
            )
        forward = _recurrent(
            inner, inner_cls, inner.get("config") or {}, state.features, keras_major
        )
        if forward["go_backwards"]:
            raise _fail(
                layer,
                cls,
                "the wrapped layer has go_backwards=True; Keras would then "
                "run both directions reversed, which rnnlab does not",
            )
        back_cfg = config.get("backward_layer")
        if back_cfg:
            back_cls = str(back_cfg.get("class_name", ""))
            if back_cls not in RECURRENT:
                raise _fail(
                    layer,
                    cls,
                    f"its backward layer is a {back_cls or 'missing'} "
                    "layer, not SimpleRNN, LSTM or GRU",
                )
            backward = _recurrent(
                back_cfg, back_cls, back_cfg.get("config") or {}, state.features, keras_major
            )
        else:
            backward = {**forward, "go_backwards": True}
        if backward["return_sequences"] != forward["return_sequences"]:
            raise _fail(layer, cls, "its two directions differ in return_sequences")
        backward["go_backwards"] = True
        units = forward["units"] + backward["units"] if merge == "concat" else forward["units"]
        if merge != "concat" and backward["units"] != forward["units"]:
            raise _fail(layer, cls, f"merge_mode={merge!r} needs equal units in both directions")
        state.shape = [state.shape[0], units] if forward["return_sequences"] else [units]
        return {
            "kind": "bidirectional",
            "name": name,
            "merge_mode": merge,
            "forward": forward,
            "backward": backward,
        }
    if cls == "Dense":
        units = _positive_int(layer, cls, config, "units")
        activation = _activation(config.get("activation"))
        if activation not in HIDDEN_ACTIVATIONS:
            raise _fail(
                layer,
                cls,
                f"activation {activation or config.get('activation')!r} is "
                f"not supported; supported: {', '.join(HIDDEN_ACTIVATIONS)}",
            )
        if state.features is None:
            raise _fail(layer, cls, "the input has no feature axis")
        spec = {
            "kind": "dense",
            "name": name,
            "in_features": state.features,
            "units": units,
            "activation": activation,
            "use_bias": bool(config.get("use_bias", True)),
        }
        state.shape = [*state.shape[:-1], units]
        return spec
    if cls == "Dropout":
        return {"kind": "dropout", "name": name, "rate": float(config.get("rate", 0.0))}
    activation = _activation(config.get("activation"))
    if activation not in HIDDEN_ACTIVATIONS:
        raise _fail(
            layer,
            cls,
            f"activation {activation or config.get('activation')!r} is not "
            f"supported; supported: {', '.join(HIDDEN_ACTIVATIONS)}",
        )
    return {"kind": "activation", "name": name, "activation": activation}


def _recurrent(
    layer: dict[str, Any], cls: str, config: dict[str, Any], features: int | None, keras_major: int
) -> dict[str, Any]:
    for key, why in (
        ("stateful", "its state carries over between batches"),
        ("return_state", "it returns its states besides the output"),
        ("time_major", "it takes time-major input"),
    ):
        if config.get(key):
            raise _fail(layer, cls, f"{key}=True is not supported ({why})")
    if features is None:
        raise _fail(layer, cls, "the input has no feature axis")
    spec: dict[str, Any] = {
        "kind": "recurrent",
        "name": layer_name(layer),
        "cell": RECURRENT[cls],
        "units": _positive_int(layer, cls, config, "units"),
        "input_size": features,
        "use_bias": bool(config.get("use_bias", True)),
        "return_sequences": bool(config.get("return_sequences", False)),
        "go_backwards": bool(config.get("go_backwards", False)),
        "zero_output_for_mask": bool(config.get("zero_output_for_mask", False)),
        "dropout": float(config.get("dropout", 0.0)),
        "recurrent_dropout": float(config.get("recurrent_dropout", 0.0)),
    }
    names = ["activation"] + ([] if cls == "SimpleRNN" else ["recurrent_activation"])
    for key in names:
        default = "sigmoid" if key == "recurrent_activation" else "tanh"
        activation = _activation(config.get(key, default))
        if activation not in ACTIVATIONS:
            raise _fail(
                layer,
                cls,
                f"{key} {config.get(key)!r} is not supported; supported: {', '.join(ACTIVATIONS)}",
            )
        if activation == "hard_sigmoid" and keras_major < 3:
            # Keras 2's hard_sigmoid is clip(0.2 x + 0.5); Keras 3's (rnnlab's) is x / 6 + 0.5.
            raise _fail(
                layer,
                cls,
                f"{key}='hard_sigmoid' of Keras 2 (0.2 x + 0.5) differs from "
                "Keras 3's (x / 6 + 0.5), which rnnlab computes",
            )
        spec[key] = activation
    if cls == "GRU":
        # Keras 2 (TF 1) defaulted to reset_after=False; its configs always name it.
        spec["reset_after"] = bool(config.get("reset_after", True))
    return spec


def _take_off_output(specs: list[dict[str, Any]], state: _Shape) -> tuple[int, str]:
    """Strip the final softmax / sigmoid; return (number of logits, what was stripped)."""
    if len(state.shape) != 1:
        raise ModelFileError(
            f"the model outputs a sequence (per-sample shape {tuple(state.shape)}), not one "
            "prediction per sample: a classifier's last recurrent layer has "
            "return_sequences=False"
        )
    outputs = int(state.shape[0])
    last = len(specs) - 1
    while last >= 0 and specs[last]["kind"] == "dropout":
        last -= 1
    spec = specs[last] if last >= 0 else None
    if spec is None or spec["kind"] not in ("dense", "activation"):
        kind = spec["kind"] if spec else "nothing"
        raise ModelFileError(
            f"the model ends in a {kind} layer ({spec['name'] if spec else ''!r}), not a Dense "
            "layer with a softmax or sigmoid (or none): rnnlab imports classifiers"
        )
    activation = spec["activation"]
    if activation == "sigmoid" and outputs > 1:
        raise ModelFileError(
            f"the output layer {spec['name']!r} is Dense({outputs}, sigmoid): {outputs} "
            "independent yes/no outputs (multi-label), while an rnnlab saved model picks one "
            "class; import a Dense(k, softmax) or Dense(1, sigmoid) classifier"
        )
    if activation == "softmax" and outputs == 1:
        raise ModelFileError(
            f"the output layer {spec['name']!r} is a softmax over one unit, "
            "which is always 1: use Dense(1, sigmoid) for two classes"
        )
    if activation not in ("softmax", "sigmoid", "linear"):
        raise ModelFileError(
            f"the output layer {spec['name']!r} ends in {activation!r}, which makes neither "
            "probabilities nor logits; a classifier ends in softmax, sigmoid or linear (logits)"
        )
    if spec["kind"] == "activation":
        del specs[last]
    else:
        spec["activation"] = "linear"
    return outputs, activation
