"""`Pipeline`: a trained model with everything it needs to read raw inputs; the saved model.

Whatever trained the model (`rnnlab train`, `reproduce`, `TextClassifier`,
`SequenceClassifier`, `ModelClassifier` with a registered model factory), it is
saved as one directory and loaded by one function, `rnnlab.load`::

    model.safetensors   the weights (tensors only: safetensors cannot hold code)
    model.json          architecture name + its config, the labels, the `InputEncoder`
    vocabulary.json     text models: the vocabulary and its tokenizer
    training.json       optional: the training config, the test metrics, the seed
    estimator.json      optional: the scikit-learn estimator's parameters and state
    manifest.json       format version, rnnlab version, SHA-256 and size of every file

Every command that takes a model (`predict`, `evaluate`, ...) loads it this way.
Directories written by rnnlab 0.1 (format 1) load too (`rnnlab.legacy_format`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.data.vocab import Vocabulary
from rnnlab.engine.inference import class_probabilities, predict_logits
from rnnlab.errors import InvalidTypeError, ModelFileError
from rnnlab.input_encoder import InputEncoder
from rnnlab.models.registry import build_architecture
from rnnlab.saving import load_model_dir, save_model_dir
from rnnlab.tagged_json import UNSAVED, decode, encode

MODEL_PART = "model"
OPTIONAL_PARTS = ("training", "estimator")


class Pipeline:
    """Raw inputs -> `InputEncoder` -> module -> class probabilities.

    Args:
        module: the trained network (returns logits; one logit for two classes).
        labels: class k is ``labels[k]`` (strings).
        inputs: how raw inputs become the module's tensors.
        architecture: the registered name that rebuilds ``module`` from ``config``
            (None: the module cannot be rebuilt from data; it can still predict).
        config: keyword arguments of the architecture.
        parts: other JSON parts saved alongside (``training``, ``estimator``).
    """

    def __init__(
        self,
        module: nn.Module,
        labels: Sequence[Any],
        inputs: InputEncoder,
        architecture: str | None = "RecurrentClassifier",
        config: dict[str, Any] | None = None,
        parts: dict[str, Any] | None = None,
    ) -> None:
        self.module = module
        self.labels = [str(n) for n in labels]
        self.inputs = inputs
        self.architecture = architecture
        if config is None:
            config = dict(getattr(module, "config", {}))
        self.config = config
        self.parts = dict(parts or {})

    # ------------------------------------------------------------------ predict

    @property
    def label_names(self) -> list[str]:
        return self.labels

    @property
    def vocabulary(self) -> Vocabulary | None:
        return self.inputs.vocabulary

    @property
    def name(self) -> str:
        training = self.parts.get("training") or {}
        return str(training.get("name") or self.architecture or type(self.module).__name__)

    def encode(self, items: Sequence[Any]) -> tuple[torch.Tensor, ...]:
        return self.inputs.encode(items)

    def predict_logits(self, tensors: Sequence[torch.Tensor], batch_size: int = 256) -> np.ndarray:
        """(n, n_logits) float32 logits of already encoded inputs."""
        tensors = tuple(torch.as_tensor(t) for t in tensors)
        return predict_logits(self.module, tensors, batch_size=batch_size)

    def predict_proba_encoded(self, *tensors: Any, batch_size: int = 256) -> np.ndarray:
        """Encoded inputs (e.g. padded ids and lengths) -> (n, classes) float64 probabilities."""
        return class_probabilities(self.predict_logits(tensors, batch_size))

    def predict_proba(self, items: Sequence[Any], batch_size: int = 256) -> np.ndarray:
        """Raw inputs (texts, or sequences for id models) -> (n, classes) probabilities."""
        return class_probabilities(self.predict_logits(self.encode(items), batch_size))

    def predict(self, items: Sequence[Any]) -> list[str]:
        return [self.labels[k] for k in self.predict_proba(items).argmax(1)]

    # ------------------------------------------------------------------ persistence

    def describe(self) -> dict[str, Any]:
        """What ``model.json`` holds."""
        # Plain keys; only values JSON has no type for are tagged (`rnnlab.tagged_json`).
        config = {key: encode(value) for key, value in self.config.items()}
        unsaved = [key for key, value in config.items() if value is UNSAVED]
        if unsaved:
            raise InvalidTypeError(
                f"cannot save the model: its `{unsaved[0]}` argument has no JSON form; "
                "build it from numbers, strings, lists and dicts only"
            )
        return {
            "architecture": self.architecture,
            "config": config,
            "labels": self.labels,
            "inputs": self.inputs.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        """Write the saved-model directory (atomically: a crash never leaves half a model)."""
        parts: dict[str, Any] = {MODEL_PART: self.describe()}
        if self.inputs.vocabulary is not None:
            parts["vocabulary"] = self.inputs.vocabulary.to_dict()
        for name in OPTIONAL_PARTS:
            if self.parts.get(name) is not None:
                parts[name] = self.parts[name]
        return save_model_dir(directory, self.module.state_dict(), parts)

    @classmethod
    def load(cls, directory: str | Path) -> Pipeline:
        """Load any rnnlab saved model (see the module docstring)."""
        state, parts = read_model_parts(directory)
        where = repr(str(directory))
        info = parts[MODEL_PART]
        architecture = info.get("architecture")
        if architecture is None:
            raise ModelFileError(
                f"{where} was saved by a ModelClassifier whose `build_fn` is not a registered "
                "architecture, so it cannot be rebuilt from the files alone: register the "
                "factory with `@rnnlab.register_model` before fitting and saving, or load it "
                "with ModelClassifier.load(directory, build_fn=...)"
            )
        try:
            if not isinstance(architecture, str) or not isinstance(info.get("config"), dict):
                raise ModelFileError(f"{where}: {MODEL_PART}.json names no architecture config")
            config = {key: decode(value) for key, value in info["config"].items()}
            labels = _labels(info.get("labels"), config, where)
            inputs = encoder_of(parts)
            _check_vocabulary_fits(inputs, config, where)
            _check_weights_fit(architecture, config, state, where)
            with torch.random.fork_rng(devices=[]):  # building draws initial weights
                module = build_architecture(architecture, config)
            module.load_state_dict(state, strict=True)
            module.eval()
            return cls(
                module,
                labels,
                inputs,
                architecture,
                config,
                {k: parts[k] for k in OPTIONAL_PARTS if k in parts},
            )
        except ModelFileError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            RuntimeError,
            AttributeError,
            RecursionError,
        ) as exc:
            # The parts passed their checksums, so they are as written: by a writer that did
            # not make a model this rnnlab can build (an edited file, re-hashed).
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"{where} holds an inconsistent model: {first}") from None


def _labels(labels: Any, config: dict[str, Any], where: str) -> list[str]:
    """The class names, as many as the module has classes (when its config says how many)."""
    if not isinstance(labels, list) or not labels:
        raise ModelFileError(f"{where}: {MODEL_PART}.json has no list of class labels")
    names = [str(n) for n in labels]
    classes = config.get("num_classes")
    if isinstance(classes, int) and classes != len(names):
        raise ModelFileError(
            f"{where} is inconsistent: {len(names)} class labels for a model of {classes} classes"
        )
    return names


def _check_vocabulary_fits(inputs: InputEncoder, config: dict[str, Any], where: str) -> None:
    """Every id the vocabulary can give must have a row in the embedding."""
    rows = config.get("vocab_size")
    vocab = inputs.vocabulary
    if vocab is None or not isinstance(rows, int) or config.get("input") == "raw":
        return
    if vocab.size > rows:
        raise ModelFileError(
            f"{where} is inconsistent: the vocabulary gives ids up to {vocab.size - 1}, "
            f"the model embeds {rows} ids"
        )


def _check_weights_fit(
    architecture: str, config: dict[str, Any], state: dict[str, torch.Tensor], where: str
) -> None:
    """Build the module on the meta device (no memory) and compare it with the weights.

    A config edited to ``vocab_size: 10**9`` would otherwise allocate gigabytes
    before `load_state_dict` notices the weights do not fit. Factories that cannot
    build on the meta device are checked by `load_state_dict` alone.
    """
    try:
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            shapes = {
                k: tuple(v.shape)
                for k, v in build_architecture(architecture, config).state_dict().items()
            }
    except ModelFileError:
        raise
    except Exception:  # noqa: BLE001 - only a pre-check: the real build reports the error
        return
    saved = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != saved:
        wrong = sorted(set(shapes) ^ set(saved)) or sorted(
            k for k in shapes if shapes[k] != saved[k]
        )
        key = wrong[0]
        raise ModelFileError(
            f"{where} is inconsistent: its weights do not fit the {architecture} its config "
            f"builds (`{key}`: saved {saved.get(key, 'nothing')}, built {shapes.get(key, 'nothing')})"
        )


def encoder_of(parts: dict[str, Any]) -> InputEncoder:
    """The `InputEncoder` described by a saved model's parts."""
    vocabulary = Vocabulary.from_dict(parts["vocabulary"]) if "vocabulary" in parts else None
    return InputEncoder.from_dict(parts[MODEL_PART]["inputs"], vocabulary)


def read_model_parts(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Verified weights and JSON parts of a saved model, in the current format."""
    from rnnlab.legacy_format import upgrade

    state, parts = load_model_dir(directory)
    parts = upgrade(parts, directory)
    if not isinstance(parts.get(MODEL_PART), dict):
        raise ModelFileError(
            f"{str(directory)!r} is a saved rnnlab directory without {MODEL_PART}.json: "
            "it does not hold a model"
        )
    return state, parts


def load(directory: str | Path) -> Pipeline:
    """Load any model rnnlab saved: the one entry point (`rnnlab.load`)."""
    return Pipeline.load(directory)
