"""Reading Keras model files with h5py and json alone: the model config and each layer's arrays.

Two containers hold a whole model:

- Keras 3 ``.keras``: a zip of ``config.json`` (the model), ``metadata.json``
  (the Keras version) and ``model.weights.h5``. Inside the H5 a layer's arrays
  are the datasets "0", "1", ... of its ``vars`` group, under a path named by
  the snake_case class name with _1, _2 suffixes (``layers/dense_1``), not by
  the layer's own name; Keras 3.x writes that name as the ``vars`` group's
  ``name`` attribute, which is what is matched here (older files fall back to
  rebuilding the path names). A recurrent layer's arrays sit under ``cell``,
  a Bidirectional's under ``forward_layer`` / ``backward_layer``.
- legacy ``.h5`` (``model.save("m.h5")``, Keras 2 or 3): the config in the root's
  ``model_config`` attribute, each layer's arrays under
  ``model_weights/<layer name>``, in the order of its ``weight_names`` attribute.

Either way a layer's arrays come out in the order the Keras layer's
``get_weights()`` returns them, which is what `rnnlab.nn`'s
``set_keras_weights`` takes.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.errors import DataFileError, ModelFileError

# A layer's sub-objects in the order Keras's get_weights() walks them.
_CHILD_ORDER = ("cell", "forward_layer", "backward_layer")


@dataclass
class KerasFile:
    """A Keras model file, read: its config, its arrays per layer name, where it came from.

    Attributes:
        config: the serialized model (``{"class_name": "Sequential", "config": ...}``).
        weights: layer name -> the layer's arrays, in ``get_weights()`` order.
        container: 'keras' (a Keras 3 zip) or 'h5' (the legacy HDF5 format).
        keras_version: the version that saved it ('' when the file does not say).
        path: the file.
    """

    config: dict[str, Any]
    weights: dict[str, list[np.ndarray]] = field(repr=False)
    container: str
    keras_version: str
    path: Path

    @property
    def keras_major(self) -> int:
        """2 or 3 (a file that does not say is taken as Keras 3)."""
        head = self.keras_version.split(".")[0]
        return int(head) if head.isdigit() else 3


def read_keras_file(path: str | Path) -> KerasFile:
    """Read a ``.keras`` or legacy ``.h5`` model file (told apart by content, not name)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"Keras model file {str(path)!r} does not exist")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    with open(path, "rb") as fh:
        signature = fh.read(8)
    if signature == b"\x89HDF\r\n\x1a\n":
        return _read_legacy_h5(path)
    raise ModelFileError(
        f"{str(path)!r} is neither a Keras 3 .keras file (a zip) nor a legacy .h5 file "
        "(HDF5); save the model with model.save('model.keras')"
    )


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ModelFileError(
            "reading Keras weights needs h5py: pip install 'rnnlab[keras]'"
        ) from None
    return h5py


def _read_zip(path: Path) -> KerasFile:
    where = repr(str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ModelFileError(
                    f"{where} is a zip but not a Keras 3 model file: it lacks "
                    f"{'config.json' if 'config.json' not in names else 'model.weights.h5'}"
                )
            config = json.loads(zf.read("config.json").decode("utf-8"))
            metadata = {}
            if "metadata.json" in names:
                metadata = json.loads(zf.read("metadata.json").decode("utf-8"))
            blob = zf.read("model.weights.h5")
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{where} is damaged: {exc}") from None
    h5py = _h5py()
    try:
        with h5py.File(io.BytesIO(blob), "r") as h5:
            weights = _zip_layer_weights(h5, config, where)
    except OSError as exc:
        raise ModelFileError(f"{where}: model.weights.h5 cannot be read: {exc}") from None
    version = str(metadata.get("keras_version", ""))
    return KerasFile(config, weights, "keras", version, path)


def _zip_layer_weights(h5: Any, config: dict[str, Any], where: str) -> dict[str, list[np.ndarray]]:
    """Layer name -> arrays, for the layers under the H5's ``layers`` group."""
    root = h5.get("layers")
    if root is None:
        return {}
    by_name: dict[str, Any] = {}
    for key in root:
        group = root[key]
        vars_group = group.get("vars")
        name = vars_group.attrs.get("name") if vars_group is not None else None
        if name is None:
            by_name = {}
            break
        by_name[name.decode() if isinstance(name, bytes) else str(name)] = group
    if not by_name:
        # Files without the name attribute: rebuild Keras's path names from the layer order.
        counts: dict[str, int] = {}
        for layer in _config_layers(config):
            base = snake_case(str(layer.get("class_name", "")))
            n = counts.get(base, 0)
            counts[base] = n + 1
            key = base if n == 0 else f"{base}_{n}"
            if key in root:
                by_name[layer_name(layer)] = root[key]
    return {name: _collect(group) for name, group in by_name.items()}


def _collect(group: Any) -> list[np.ndarray]:
    """The arrays of one layer group: its own ``vars``, then its sub-objects', Keras's order."""
    out = []
    vars_group = group.get("vars")
    if vars_group is not None:
        keys = sorted(vars_group, key=lambda k: int(k) if k.isdigit() else k)
        out.extend(np.asarray(vars_group[k][()]) for k in keys)
    children = [k for k in _CHILD_ORDER if k in group]
    children += sorted(
        k for k in group if k != "vars" and k not in _CHILD_ORDER and not hasattr(group[k], "shape")
    )
    for key in children:
        out.extend(_collect(group[key]))
    return out


def _read_legacy_h5(path: Path) -> KerasFile:
    where = repr(str(path))
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
            if raw is None:
                raise ModelFileError(
                    f"{where} holds weights only, no model config (was it written by "
                    "save_weights?): save the whole model with model.save('model.keras')"
                )
            config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
            version = h5.attrs.get("keras_version", b"")
            version = version.decode() if isinstance(version, bytes) else str(version)
            group = h5.get("model_weights")
            if group is None:
                raise ModelFileError(f"{where} has a model config but no model_weights group")
            weights = {}
            for name in group:
                layer = group[name]
                names = [
                    n.decode() if isinstance(n, bytes) else str(n)
                    for n in layer.attrs.get("weight_names", [])
                ]
                weights[name] = [np.asarray(layer[n][()]) for n in names]
    except (OSError, KeyError) as exc:
        raise ModelFileError(f"{where} cannot be read as a Keras model: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{where}: its model_config is not valid JSON: {exc}") from None
    return KerasFile(config, weights, "h5", version, path)


def _config_layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    inner = config.get("config", {})
    layers = inner.get("layers", []) if isinstance(inner, dict) else inner
    return [layer for layer in layers if isinstance(layer, dict)]


def layer_name(layer: dict[str, Any]) -> str:
    """A serialized layer's name (Keras 3 puts it in ``config``; functional models beside it)."""
    config = layer.get("config")
    name = layer.get("name") or (config.get("name") if isinstance(config, dict) else None)
    return str(name or "")


def snake_case(name: str) -> str:
    """Keras's `to_snake_case`: 'SimpleRNN' -> 'simple_rnn', 'InputLayer' -> 'input_layer'.

    >>> [snake_case(n) for n in ("SimpleRNN", "LSTM", "Bidirectional", "InputLayer")]
    ['simple_rnn', 'lstm', 'bidirectional', 'input_layer']
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
