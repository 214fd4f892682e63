"""Importing trained Keras models (`.keras` and legacy `.h5`) as rnnlab saved models, no Keras needed.

``rnnlab.from_keras("model.keras").save("out")`` (or ``rnnlab import-keras
model.keras out``) writes a saved model that `rnnlab.load`, ``rnnlab predict``
and ``rnnlab evaluate`` read like any other. See docs/keras_import.md.
"""

from rnnlab.keras_import.importer import from_keras

__all__ = ["from_keras"]
