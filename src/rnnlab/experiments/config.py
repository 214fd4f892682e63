"""Experiment configuration: frozen dataclasses, YAML loading and dotted overrides.

An experiment config composes one dataclass per component (data, model, train).
Every key is checked: an unknown key fails and suggests the nearest name, a value
of the wrong type names the key, the expected type and the value.

>>> cfg = ExperimentConfig.from_dict({"name": "demo", "model": {"units": [32]}})
>>> apply_overrides(cfg, ["train.epochs=2", "model.cell=gru"]).model.cell
'gru'
>>> apply_overrides(cfg, ["train.epoch=2"])
Traceback (most recent call last):
...
rnnlab.errors.ConfigError: unknown key `train.epoch` (did you mean `epochs`?); valid keys: ...
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnnlab.atomic import write_text_atomic
from rnnlab.errors import (
    ConfigError,
    DataFileError,
    check_choice,
    check_fraction,
    check_int,
    check_positive,
    suggest,
)
from rnnlab.models.ngram_keys import MAX_ORDER
from rnnlab.models.spec import ModelSpec

SOURCES = ("imdb", "reuters", "csv", "folder", "imdb_csv")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
CLASS_WEIGHTS = ("balanced",)
LR_SCHEDULES = ("plateau", "cosine")


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it becomes padded id arrays."""

    # 'imdb' / 'reuters': the Keras arrays; 'csv': a CSV/TSV file; 'folder': one folder per label;
    # 'imdb_csv': the raw IMDB reviews (shared imdb_reviews.csv) through the tokenizer.
    source: str = "imdb"
    path: str | None = None  # file or folder for csv / folder / imdb_csv
    text_column: str = "text"
    label_column: str = "label"
    test_path: str | None = None  # optional separate test file; else test_fraction of path
    test_fraction: float = 0.2
    num_words: int | None = None  # Keras: ranks >= num_words become the oov id
    skip_top: int = 0
    load_maxlen: int | None = None  # Keras loader maxlen: DROPS longer sequences
    test_split: float = 0.2  # Reuters only: Keras's train/test split fraction
    seed: int = 113  # Keras's shuffle seed for the loaders
    maxlen: int | None = None  # pad_sequences maxlen (truncates)
    # Size the padded length by the data: this quantile of the training lengths (capped
    # by maxlen when both are set), so a few long documents do not set it for all.
    maxlen_quantile: float | None = None
    padding: str = "pre"
    truncating: str = "pre"
    lower: str = "true"  # tokenizer lowercasing for raw text: 'true', 'false' or 'ascii'
    min_freq: int = 1  # raw text: words seen fewer times in training are oov
    # csv / folder: encode into a memory-mapped token store and train from it, for corpora
    # larger than memory (`rnnlab.experiments.streamed`); path may list files, comma-separated.
    stream: bool = False
    store_dir: str | None = None  # where the token store lives (default: beside the run)

    def __post_init__(self) -> None:
        check_choice("data.source", self.source, SOURCES)
        check_choice("data.padding", self.padding, ("pre", "post"))
        check_choice("data.truncating", self.truncating, ("pre", "post"))
        check_choice("data.lower", self.lower, ("true", "false", "ascii"))
        check_fraction("data.test_split", self.test_split, low_open=True)
        check_fraction("data.test_fraction", self.test_fraction, low_open=True)
        check_int("data.maxlen", self.maxlen, minimum=1, allow_none=True)
        check_int("data.num_words", self.num_words, minimum=1, allow_none=True)
        check_int("data.min_freq", self.min_freq, minimum=1)
        if self.maxlen_quantile is not None:
            check_fraction(
                "data.maxlen_quantile", self.maxlen_quantile, low_open=True, high_open=False
            )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and model selection."""

    epochs: int = 3
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 0.001
    epsilon: float = 1e-7  # Keras's Adam epsilon (torch's default is 1e-8)
    weight_decay: float = 0.0
    clipnorm: float | None = None
    # 'plateau': the rate times `lr_factor` after each epoch where `monitor` does not improve
    # (needs a validation split); 'cosine': from `lr` down to 0 along a half cosine over
    # `epochs`, a step per epoch; None: a constant rate (Keras's default).
    lr_schedule: str | None = None
    lr_factor: float = 0.5
    # Batches of rows of similar length, each cut to its longest row
    # (`rnnlab.engine.buckets`): fewer steps for the recurrent layer, the same outputs
    # for a model that masks its padding.
    bucket_by_length: bool = False
    # Fraction of the training set held out for validation (never the test set).
    validation_split: float = 0.0
    early_stopping_patience: int | None = None  # epochs without val improvement
    monitor: str = "val_loss"  # what early stopping watches (restoring the best weights)
    # The IMDB tutorial passes the test set as validation data; only for its printout.
    validate_on_test: bool = False
    seed: int = 0
    # 'balanced': each class's training loss weighted by n / (classes * its count), so
    # rare classes are not ignored; None: every sample counts once (Keras's default).
    class_weight: str | None = None
    # Where the Trainer runs: 'auto' (a GPU when there is one), 'cpu', 'cuda', 'cuda:1'.
    device: str = "auto"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(
                f"`train.device` must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps', "
                f"got {self.device!r}"
            )
        check_int("train.epochs", self.epochs, minimum=1)
        if self.class_weight is not None:
            check_choice("train.class_weight", self.class_weight, CLASS_WEIGHTS)
        check_int("train.batch_size", self.batch_size, minimum=1)
        check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        check_positive("train.lr", self.lr, integer=False)
        # The optimiser refuses these too, but only once training starts, and with a bare
        # ValueError; here the config names the key.
        check_positive("train.epsilon", self.epsilon, integer=False)
        check_positive("train.weight_decay", self.weight_decay, integer=False, allow_zero=True)
        if self.clipnorm is not None:
            check_positive("train.clipnorm", self.clipnorm, integer=False)
        if self.lr_schedule is not None:
            check_choice("train.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0 < check_positive("train.lr_factor", self.lr_factor, integer=False) < 1:
            raise ConfigError(
                f"`train.lr_factor` must be in (0, 1): it multiplies the learning rate, "
                f"got {self.lr_factor}"
            )
        if self.lr_schedule == "plateau" and self.validation_split == 0:
            raise ConfigError(
                "`train.lr_schedule: plateau` needs a validation set to watch: "
                "set `train.validation_split` (e.g. 0.1)"
            )
        for name in ("lr", "epsilon", "weight_decay", "clipnorm"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"`train.{name}` must be a finite number, got {value}")
        check_fraction("train.validation_split", self.validation_split)
        check_int("train.early_stopping_patience", self.early_stopping_patience, 1, allow_none=True)
        if self.early_stopping_patience is not None and self.validation_split == 0:
            raise ConfigError(
                "`train.early_stopping_patience` needs a validation set: "
                "set `train.validation_split` (e.g. 0.1)"
            )
        if self.validate_on_test and self.validation_split:
            raise ConfigError(
                "`train.validate_on_test` and `train.validation_split` exclude each other: "
                "the test set may only be printed, never used to select a model"
            )


@dataclass(frozen=True)
class LinearPartConfig:
    """The n-gram linear part of a hybrid model (``model_kind: hybrid``): NBSVM.

    Its n-gram order (among ``ngram_orders``), weighting (among ``weightings``), C and
    beta, and the blend with the
    recurrent part, are chosen on the validation split (`rnnlab.experiments.hybrid_fit`).
    """

    min_df: int = 2  # an n-gram is kept when this many training documents hold it
    # The orders validation chooses among: 2 = word uni+bigrams, 3 = up to trigrams.
    ngram_orders: tuple[int, ...] = (2, 3)
    # binary = Wang & Manning's binarized rows; idf = the same times idf, at unit length.
    weightings: tuple[str, ...] = ("binary", "idf")

    def __post_init__(self) -> None:
        check_int("linear.min_df", self.min_df, minimum=1)
        if not self.ngram_orders:
            raise ConfigError("`linear.ngram_orders` must name at least one n-gram order (2, 3)")
        for order in self.ngram_orders:
            check_choice("linear.ngram_orders", order, range(1, MAX_ORDER + 1))
        if not self.weightings:
            raise ConfigError("`linear.weightings` must name at least one of: binary, idf")
        for weighting in self.weightings:
            check_choice("linear.weightings", weighting, ("binary", "idf"))


MODEL_KINDS = ("recurrent", "hybrid")


@dataclass(frozen=True)
class PublishedResult:
    """The figure a tutorial published, to be printed next to ours."""

    accuracy: float | None = None
    loss: float | None = None
    source: str = ""


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    # The model section is the classifier's own spec (`rnnlab.models.spec`): one definition
    # of the architecture's choices and checks, which `RecurrentClassifier` takes as is.
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    published: PublishedResult = field(default_factory=PublishedResult)
    # 'recurrent': the model section alone; 'hybrid': that model blended with an n-gram
    # linear part (`linear`), the blend chosen on validation.
    model_kind: str = "recurrent"
    linear: LinearPartConfig = field(default_factory=LinearPartConfig)

    def __post_init__(self) -> None:
        if self.model_kind not in MODEL_KINDS:
            raise ConfigError(
                f"`model_kind` must be one of {', '.join(MODEL_KINDS)}, got {self.model_kind!r}"
                f"{suggest(str(self.model_kind), MODEL_KINDS)}"
            )
        if self.model_kind == "hybrid" and not self.train.validation_split:
            raise ConfigError(
                "`model_kind: hybrid` chooses its blend on validation rows: set "
                "`train.validation_split` (e.g. 0.1)"
            )
        if self.train.bucket_by_length and not self.model.mask:
            raise ConfigError(
                "`train.bucket_by_length` cuts each batch to its longest row, which changes "
                "what a model that reads its padding sees: set `model.mask: true`"
            )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentConfig:
        return _build(cls, raw, prefix="")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) that YAML/JSON can write and from_dict reads back."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Check (and minimally convert) one value against its annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, arg, value)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # `units: 64` means one layer of 64
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{key}` must be a list of {_type_name(item_tp)}, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", item_tp, v) for i, v in enumerate(value))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, bool):
        return "true" if value else "false"  # YAML reads `lower: true` as a bool
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping of settings, got {value!r}")
        return _build(tp, value, prefix=f"{key}.")
    if tp in (int, float, str, bool) and (
        not isinstance(value, tp) or (tp is int and isinstance(value, bool))
    ):
        raise ConfigError(f"`{key}` must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"`{prefix.rstrip('.') or 'config'}` must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in hints:
            raise ConfigError(
                f"unknown key `{prefix}{key}`{suggest(key, names)}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = _coerce(prefix + key, hints[key], value)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        if not prefix:
            raise
        # A component's own check names its field (`units`); say where it sits (`model.units`).
        message = str(exc)
        if message.startswith("`") and not message.startswith(f"`{prefix}"):
            message = f"`{prefix}{message[1:]}"
        raise ConfigError(message) from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(
            f"override {text!r} must look like `section.key=value`, e.g. train.epochs=5"
        )
    key, _, value = text.partition("=")
    if not value.strip():
        return key.strip().split("."), None
    if _nesting(value) > _MAX_NESTING:
        # PyYAML parses nesting recursively, and slowly: 1200 levels took 2.5 s to end in a
        # RecursionError. No setting nests deeper than a list of lists.
        raise ConfigError(f"override {key.strip()!r}: the value is nested too deeply")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"override {text!r}: the value is not valid YAML ({first}); quote a string "
            "value, e.g. data.path='my file.csv'"
        ) from None
    except RecursionError:  # block nesting ("- - - ... 1") is not counted by _nesting
        raise ConfigError(f"override {key.strip()!r}: the value is nested too deeply") from None
    return key.strip().split("."), parsed


_MAX_NESTING = 32


def _nesting(text: str) -> int:
    """How deep the flow brackets of a YAML value nest (brackets inside quotes do not count)."""
    depth = deepest = 0
    quote = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied and validated."""
    raw = cfg.to_dict()
    for text in overrides:
        path, value = _parse_override(text)
        node: Any = raw
        for depth, part in enumerate(path[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                keys = (
                    [k for k, v in node.items() if isinstance(v, dict)]
                    if isinstance(node, dict)
                    else []
                )
                raise ConfigError(
                    f"unknown section `{'.'.join(path[: depth + 1])}`{suggest(part, keys)}; "
                    f"valid sections: {', '.join(keys)}"
                )
            node = node[part]
        if path[-1] not in node:
            raise ConfigError(
                f"unknown key `{'.'.join(path)}`{suggest(path[-1], node)}; valid keys: {', '.join(node)}"
            )
        node[path[-1]] = value
    return ExperimentConfig.from_dict(raw)


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config, apply dotted overrides and validate everything."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(f"config file {str(path)!r} does not exist") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    if raw is None:
        raise ConfigError(f"config file {str(path)!r} is empty")
    cfg = ExperimentConfig.from_dict(raw)
    return apply_overrides(cfg, overrides or [])


def dump_config(cfg: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (what `load_config` reads back)."""
    write_text_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
