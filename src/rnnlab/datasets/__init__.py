"""Keras-compatible data sets: `from rnnlab.datasets import imdb, reuters`.

Drop-ins for `keras.datasets.imdb` and `keras.datasets.reuters` (Keras 3.15):
same signatures, defaults and arrays. Files come from `data_dirs()` (the
`RNNLAB_DATA` directory, else `~/.rnnlab/datasets`), are downloaded from the
Keras location when missing, and are verified by SHA-256 before they are read;
`file_provenance(name)` says which known version of a file was read.
"""

from rnnlab.datasets import imdb, reuters
from rnnlab.datasets.files import data_dirs, file_provenance

__all__ = ["imdb", "reuters", "data_dirs", "file_provenance"]
