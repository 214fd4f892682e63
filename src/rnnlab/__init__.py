"""rnnlab: recurrent-network text classifiers in PyTorch with Keras-exact data semantics.

`pad_sequences` and `to_categorical` are here (as in `keras.utils`); the data sets
are `rnnlab.datasets.imdb` / `.reuters`; layers are in `rnnlab.nn`. The
scikit-learn estimators and the Trainer load lazily, so `import rnnlab` stays light.
`rnnlab.load(directory)` reads any saved model, whatever trained it.
"""

from importlib import import_module
from typing import Any

from rnnlab.data.sequence import pad_sequences, to_categorical

__version__ = "0.1.0"

_LAZY = {
    "TextClassifier": "rnnlab.estimators",
    "SequenceClassifier": "rnnlab.estimators",
    "ModelClassifier": "rnnlab.estimators",
    "load": "rnnlab.pipeline",
    "Pipeline": "rnnlab.pipeline",
    "register_model": "rnnlab.models",
    "Trainer": "rnnlab.engine",
    "from_keras": "rnnlab.keras_import",
    "explain": "rnnlab.interpret",
}

__all__ = ["pad_sequences", "to_categorical", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
