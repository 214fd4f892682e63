"""Streamed data for `rnnlab train` (``data.stream: true``): a token store instead of arrays.

`prepare_streamed` builds (or reuses) the token store of a `csv` / `folder`
source (`rnnlab.data.token_store`) and returns a `StreamedData`: the same
facts the runner takes from `PreparedData` (vocabulary, classes, maxlen), with
the train / validation / test parts as `StoreData`, engine data read from the
memory-mapped store batch by batch.

What differs from the in-memory path, on purpose: rows are assigned to train,
validation and test by a seeded draw per row (the in-memory path permutes the
whole file, which needs it in memory), and a training batch is padded to its
longest row, its rows drawn from windows of the permutation sorted by length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.data.token_store import StoreSettings, TokenStore, open_store
from rnnlab.data.vocab import Vocabulary
from rnnlab.engine.buckets import bucketed_order
from rnnlab.engine.data import ArrayData, Batch
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments.config import ExperimentConfig

QUICK_ROWS = 512  # --quick: the first rows only


class StoreData(ArrayData):
    """One part of a token store as engine data: batches of padded ids, lengths and labels.

    Args:
        store: the part.
        maxlen: longer rows are truncated (``truncating`` side) to this many tokens.
        padding: 'pre' or 'post'.
        fixed_width: pad every batch to ``maxlen`` (the in-memory arrays' shape);
            by default a batch is padded to its longest row.
    """

    def __init__(
        self,
        store: TokenStore,
        maxlen: int,
        padding: str = "pre",
        truncating: str = "pre",
        fixed_width: bool = False,
    ) -> None:
        if len(store) == 0:
            raise DataError(
                f"the token store's {store.part} part holds no rows; add rows or change "
                "data.test_fraction / train.validation_split"
            )
        self.store = store
        self.maxlen = int(maxlen)
        self.padding, self.truncating, self.fixed_width = padding, truncating, fixed_width
        self.lengths = store.lengths(self.maxlen)
        self.num_samples = len(store)
        self.inputs = ()
        self.target = torch.from_numpy(store.labels)

    def order(self, generator: torch.Generator | None, batch_size: int = 1) -> torch.Tensor:
        """The rows bucketed by length (`rnnlab.engine.buckets.bucketed_order`)."""
        return bucketed_order(self.lengths, generator, batch_size)

    def take(self, index: torch.Tensor) -> Batch:
        rows = index.numpy()
        lengths = self.lengths[rows]
        width = self.maxlen if self.fixed_width else max(1, int(lengths.max(initial=0)))
        ids = self.store.padded(rows, self.maxlen, self.padding, self.truncating, width)
        inputs = (torch.from_numpy(ids), torch.from_numpy(lengths.astype(np.int64)))
        return inputs, torch.from_numpy(self.store.labels[rows])

    def num_batches(self, batch_size: int) -> int:
        return -(-self.num_samples // batch_size)

    def subset(self, start: int, stop: int) -> ArrayData:
        raise DataError("a token store is split when it is built; use its val part")


@dataclass
class StreamedData:
    """What the runner needs of the data, from a token store (cf. `PreparedData`)."""

    train: StoreData
    val: StoreData | None
    test: StoreData
    label_names: list[str]
    vocabulary: Vocabulary
    maxlen: int
    directory: Path
    reused: bool

    @property
    def vocab_size(self) -> int:
        return self.vocabulary.size

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def y_train(self) -> np.ndarray:
        return self.train.store.labels

    @property
    def y_test(self) -> np.ndarray:
        return self.test.store.labels

    def summary(self) -> dict[str, Any]:
        return {
            "train": self.train.num_samples + (0 if self.val is None else self.val.num_samples),
            "test": self.test.num_samples,
            "classes": self.num_classes,
            "classes_in_train": int(len(np.unique(self.y_train))),
            "classes_in_test": int(len(np.unique(self.y_test))),
            "maxlen": self.maxlen,
            "vocab_size": int(self.vocab_size),
            "streamed_from": str(self.directory),
        }


def store_directory(cfg: ExperimentConfig, run_dir: str | os.PathLike[str]) -> Path:
    """`data.store_dir`, or ``token_store`` beside the run directory (shared by reruns)."""
    if cfg.data.store_dir:
        return Path(cfg.data.store_dir)
    return Path(run_dir).resolve().parent / "token_store"


def prepare_streamed(
    cfg: ExperimentConfig, run_dir: str | os.PathLike[str], quick: bool = False
) -> StreamedData:
    """Build or reuse the config's token store and open its parts."""
    d = cfg.data
    if cfg.model_kind == "hybrid":
        raise ConfigError(
            "`model_kind: hybrid` fits its n-gram part on in-memory texts: it is not "
            "streamed; set data.stream=false"
        )
    if d.source not in ("csv", "folder"):
        raise ConfigError(
            f"`data.stream` reads csv or folder sources, not {d.source!r}; set data.stream=false"
        )
    if not d.path:
        raise ConfigError("`data.stream` needs `data.path` (--data FILE_OR_DIR)")
    if d.test_path:
        raise ConfigError(
            "`data.stream` takes the test part from `data.path` (data.test_fraction); "
            "a separate data.test_path is not streamed yet: drop it or set data.stream=false"
        )
    if d.maxlen is None:
        raise ConfigError("`data.stream` needs `data.maxlen` (batches are cut to it)")
    paths = [p for p in str(d.path).split(",") if p]  # several files: comma-separated
    settings = StoreSettings(
        text_column=d.text_column,
        label_column=d.label_column,
        test_fraction=d.test_fraction,
        validation_fraction=cfg.train.validation_split,
        seed=d.seed,
        num_words=d.num_words,
        min_freq=d.min_freq,
        lower=d.lower,
        max_rows=QUICK_ROWS if quick else None,
    )
    directory = store_directory(cfg, run_dir) / ("quick" if quick else "full")
    meta, reused = _open_once(paths, directory, settings)
    vocabulary = Vocabulary.from_json(directory / "vocabulary.json")
    part = lambda name: StoreData(  # noqa: E731
        TokenStore(directory, name), d.maxlen or 1, d.padding, d.truncating
    )
    return StreamedData(
        train=part("train"),
        val=part("val") if cfg.train.validation_split else None,
        test=part("test"),
        label_names=list(meta["label_names"]),
        vocabulary=vocabulary,
        maxlen=int(d.maxlen),
        directory=directory,
        reused=reused,
    )


def _open_once(
    paths: list[str], directory: Path, settings: StoreSettings
) -> tuple[dict[str, Any], bool]:
    """Build on one process: distributed workers other than rank 0 wait for rank 0's store."""
    import time

    from rnnlab.data.token_store import store_is_current

    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        return open_store(paths, directory, settings)
    while not store_is_current(directory, paths, settings):
        time.sleep(0.5)  # torchrun stops this worker if rank 0 fails
    return open_store(paths, directory, settings)
