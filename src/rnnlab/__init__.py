"""rnnlab: recurrent-network text classifiers in PyTorch with Keras-exact data semantics."""

from rnnlab.data.sequence import pad_sequences, to_categorical

__version__ = "0.1.0"

__all__ = ["pad_sequences", "to_categorical", "__version__"]
