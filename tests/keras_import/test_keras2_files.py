"""Legacy .h5 files as Keras 2 wrote them, rebuilt here with h5py (no TensorFlow to write them).

What differs from Keras 3's legacy files: the input shape as the first layer's
`batch_input_shape` (no InputLayer in older Sequential configs), functional nodes as
nested lists (`[[["input_1", 0, 0, {}]]]`), weight names with a ':0' suffix, and
keras_version 2.x. The arrays are a Keras 3 model's, so its predictions are the
reference.
"""

import json
import os

import h5py
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

import rnnlab

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

L = keras.layers
LSTM_CONFIG = {
    "name": "lstm",
    "units": 5,
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "use_bias": True,
    "return_sequences": False,
    "return_state": False,
    "go_backwards": False,
    "stateful": False,
    "unroll": False,
    "time_major": False,
    "dropout": 0.0,
    "recurrent_dropout": 0.0,
    "implementation": 2,
}
DENSE_CONFIG = {"name": "dense", "units": 3, "activation": "softmax", "use_bias": True}
NAMES = {
    "embedding": ["embedding/embeddings:0"],
    "lstm": [
        "lstm/lstm_cell/kernel:0",
        "lstm/lstm_cell/recurrent_kernel:0",
        "lstm/lstm_cell/bias:0",
    ],
    "dense": ["dense/kernel:0", "dense/bias:0"],
}


@pytest.fixture(scope="module")
def reference():
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((10,)),
            L.Embedding(40, 4, mask_zero=True),
            L.LSTM(5),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.set_weights([w * 3 for w in model.get_weights()])
    arrays = {
        "embedding": model.layers[0].get_weights(),
        "lstm": model.layers[1].get_weights(),
        "dense": model.layers[2].get_weights(),
    }
    return model, arrays


def _write(path, config, arrays):
    with h5py.File(path, "w") as fh:
        fh.attrs["keras_version"] = "2.15.0"
        fh.attrs["backend"] = "tensorflow"
        fh.attrs["model_config"] = json.dumps(config)
        weights = fh.create_group("model_weights")
        weights.attrs["layer_names"] = [n.encode() for n in ("input_1", *arrays)]
        weights.create_group("input_1").attrs["weight_names"] = []
        for layer, values in arrays.items():
            group = weights.create_group(layer)
            group.attrs["weight_names"] = [n.encode() for n in NAMES[layer]]
            for name, value in zip(NAMES[layer], values):
                group.create_dataset(name, data=value)


def _embedding(**extra):
    return {"name": "embedding", "input_dim": 40, "output_dim": 4, "mask_zero": True, **extra}


def _sequential_without_input_layer():
    return {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "Embedding", "config": _embedding(batch_input_shape=[None, 10])},
                {"class_name": "LSTM", "config": LSTM_CONFIG},
                {"class_name": "Dense", "config": DENSE_CONFIG},
            ],
        },
    }


def _functional():
    def node(source):
        return [[[source, 0, 0, {}]]]

    layers = [
        {
            "class_name": "InputLayer",
            "name": "input_1",
            "inbound_nodes": [],
            "config": {"batch_input_shape": [None, 10], "dtype": "float32", "name": "input_1"},
        },
        {
            "class_name": "Embedding",
            "name": "embedding",
            "inbound_nodes": node("input_1"),
            "config": _embedding(),
        },
        {
            "class_name": "LSTM",
            "name": "lstm",
            "inbound_nodes": node("embedding"),
            "config": LSTM_CONFIG,
        },
        {
            "class_name": "Dense",
            "name": "dense",
            "inbound_nodes": node("lstm"),
            "config": DENSE_CONFIG,
        },
    ]
    return {
        "class_name": "Functional",
        "config": {
            "name": "model",
            "layers": layers,
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["dense", 0, 0]],
        },
    }


@pytest.mark.parametrize("config", [_sequential_without_input_layer, _functional])
def test_keras_2_legacy_files_import_with_keras_s_predictions(reference, config, tmp_path):
    model, arrays = reference
    _write(tmp_path / "old.h5", config(), arrays)
    pipeline = rnnlab.from_keras(tmp_path / "old.h5")
    assert pipeline.parts["training"]["imported_from"]["keras_version"] == "2.15.0"
    x = np.array(
        [
            [0, 0, 0, 5, 6, 7, 0, 8, 9, 10],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 39],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 12],
        ]
    )
    np.testing.assert_allclose(
        pipeline.predict_proba(x.tolist()), model.predict(x, verbose=0), atol=1e-5, rtol=0
    )
