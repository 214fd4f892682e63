"""`from_keras`: a Keras model file -> an rnnlab `Pipeline` (save it, and every command loads it).

The file is read with h5py and json (`files.py`), its layers checked and turned
into specs (`layers.py`), the module built and given the file's arrays
(`architecture.py`), and the inputs described by an `InputEncoder`:

- a model starting with an Embedding reads token ids ('ids'), or raw text when
  a Keras word index is given (`word_index`, Keras's id layout: start 1,
  oov 2, words from 3 + rank, ids >= `num_words` become oov);
- a model whose recurrent layer reads numbers, the Reuters tutorial's input
  (time, 1), reads one number per step ('numbers'; with a word index, raw text
  whose ids are fed as numbers, as the tutorial feeds them);
- a model on any other fixed shape reads arrays of that shape ('array').

Sequences are padded to the model's input length (or `maxlen` when the input
length is free): 'pre' padding for ids, as `pad_sequences` does, 'post' for
numbers, as the Reuters tutorial pads; truncation is 'pre' (the last steps kept).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import (
    ConfigError,
    DataFileError,
    InvalidValueError,
    check_choice,
    check_int,
)
from rnnlab.input_encoder import InputEncoder
from rnnlab.keras_import.architecture import KerasSequential
from rnnlab.keras_import.files import read_keras_file
from rnnlab.keras_import.layers import translate
from rnnlab.pipeline import Pipeline


def from_keras(
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | str | os.PathLike[str] | None = None,
    maxlen: int | None = None,
    padding: str | None = None,
    truncating: str = "pre",
    word_index: str | os.PathLike[str] | dict[str, int] | None = None,
    num_words: int | None = None,
    lower: bool | str = True,
) -> Pipeline:
    """Import a Keras 3 ``.keras`` or legacy ``.h5`` model file as an rnnlab `Pipeline`.

    Args:
        path: the model file (``model.save(...)``'s output).
        labels: class names: a list, a comma-separated string, or the path of a
            JSON file holding a list; default "0", "1", ... (one per class).
        maxlen: the padded length, needed only when the model's input length is
            free (``keras.Input((None,))``); it must match a fixed one.
        padding: 'pre' or 'post'; default 'pre' for ids, 'post' for numbers.
        truncating: 'pre' (keep the last steps, the default) or 'post'.
        word_index: a Keras word index (word -> rank), or its JSON file: the
            imported model then reads raw text.
        num_words: with `word_index`: ids >= num_words become oov, as in Keras's
            ``load_data(num_words=...)``; default the Embedding's input_dim.
        lower: the tokenizer's lowercasing: True (Keras), False or 'ascii' (how
            the Keras IMDB arrays were made).

    Returns:
        The model as a `Pipeline`; ``.save(directory)`` writes the saved model.
    """
    keras_file = read_keras_file(path)
    found = translate(keras_file.config, keras_file.keras_major)
    specs = found.layers
    reads_ids = specs[0]["kind"] == "embedding"
    shape = found.input_shape
    if reads_ids:
        inputs = "ids"
    elif len(shape) == 2 and shape[1] == 1:
        inputs = "numbers"
    else:
        inputs = "array"
        if any(d is None for d in shape):
            raise ConfigError(
                f"the model takes inputs of shape {shape} with a free axis and more than one "
                "feature per step; rnnlab imports models on ids, on one number per step, or "
                "on a fixed shape"
            )
    module = KerasSequential(specs, inputs)
    module.set_keras_weights(keras_file.weights)
    module.eval()
    num_classes = 2 if found.outputs == 1 else found.outputs
    encoder = _encoder(
        inputs,
        shape,
        module,
        maxlen=maxlen,
        padding=padding,
        truncating=truncating,
        word_index=word_index,
        num_words=num_words,
        lower=lower,
    )
    names = _labels(labels, num_classes)
    source = Path(path)
    training = {
        "name": f"keras:{source.stem}",
        "imported_from": {
            "file": source.name,
            "container": keras_file.container,
            "keras_version": keras_file.keras_version,
            "model_class": found.model_class,
            "output_activation": found.output_activation,
            "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        },
    }
    return Pipeline(module, names, encoder, "keras_sequential", None, {"training": training})


def _encoder(
    inputs: str,
    shape: tuple,
    module: KerasSequential,
    *,
    maxlen: int | None,
    padding: str | None,
    truncating: str,
    word_index: Any,
    num_words: int | None,
    lower: bool | str,
) -> InputEncoder:
    if inputs == "array":
        if word_index is not None:
            raise ConfigError(
                "`word_index` applies to models on token ids; this model takes "
                f"arrays of shape {shape}"
            )
        return InputEncoder("array", shape=tuple(int(d) for d in shape))
    steps = shape[0]
    check_int("maxlen", maxlen, minimum=1, allow_none=True)
    if steps is None:
        if maxlen is None:
            raise ConfigError(
                "the model's input length is free (Input((None, ...))): pass the padded length "
                "the model was trained with as `maxlen` (--maxlen on the command line)"
            )
        steps = maxlen
    elif maxlen is not None and maxlen != steps:
        raise ConfigError(
            f"`maxlen`={maxlen} differs from the model's input length {steps}; leave it out"
        )
    if padding is None:
        padding = "pre" if inputs == "ids" else "post"
    check_choice("padding", padding, ("pre", "post"))
    check_choice("truncating", truncating, ("pre", "post"))
    vocabulary = None
    if word_index is not None:
        if num_words is None and module.embedding is not None:
            num_words = module.embedding.input_dim
        vocabulary = Vocabulary.from_word_index(
            word_index, tokenizer=Tokenizer(lower=lower), num_words=num_words
        )
        if module.embedding is not None and vocabulary.size > module.embedding.input_dim:
            raise InvalidValueError(
                f"`num_words`={num_words} gives ids up to {vocabulary.size - 1}, but the "
                f"Embedding takes ids below {module.embedding.input_dim}: pass "
                f"num_words <= {module.embedding.input_dim}"
            )
    elif num_words is not None:
        raise ConfigError("`num_words` applies with a `word_index` (it caps the word ids)")
    kind = "text" if vocabulary is not None else inputs
    return InputEncoder(
        kind, maxlen=int(steps), padding=padding, truncating=truncating, vocabulary=vocabulary
    )


def _labels(labels: Any, num_classes: int) -> list[str]:
    if labels is None:
        return [str(k) for k in range(num_classes)]
    if isinstance(labels, (str, os.PathLike)):
        text = os.fspath(labels)
        if text.endswith(".json") or (os.path.isfile(text) and "," not in text):
            labels = _read_label_file(Path(text))
        else:
            labels = [part.strip() for part in text.split(",")]
    names = [str(n) for n in labels]
    if len(names) != num_classes:
        raise InvalidValueError(
            f"`labels` names {len(names)} classes, the model has {num_classes}"
            + (" (one sigmoid output: two classes, negative first)" if num_classes == 2 else "")
        )
    if len(set(names)) != len(names) or not all(names):
        raise InvalidValueError(f"`labels` must be distinct non-empty names, got {names}")
    return names


def _read_label_file(path: Path) -> list[str]:
    if not path.is_file():
        raise DataFileError(f"label file {str(path)!r} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"label file {str(path)!r} is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise DataFileError(f"label file {str(path)!r} must hold a JSON list of class names")
    return [str(n) for n in data]
