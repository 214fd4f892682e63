"""The benchmark inputs: the tutorials' arrays, prepared once by rnnlab's Keras-exact loaders.

The driver writes them to .npz files that both sides read, so both frameworks
train on identical arrays and the Keras side never loads a data set itself.
What is prepared (IMDB: num_words 20000, pre-padded to 80; Reuters: num_words
30000, maxlen 50, test_split 0.3, post-padded to 49) is read from the shipped
configs, exactly as `rnnlab train` prepares it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sizes import Sizes

from rnnlab.experiments.catalog import resolve_config
from rnnlab.experiments.config import load_config
from rnnlab.experiments.prepare import PreparedData, prepare_data

REPO = Path(__file__).resolve().parents[1]
IMDB_CONFIG = resolve_config("imdb/lstm")
REUTERS_CONFIGS = {
    name: resolve_config(f"reuters/{name}")
    for name in ("stacked_simple_rnn", "lstm", "stacked_lstm")
}


def use_default_data_dir() -> str:
    """`RNNLAB_DATA`, defaulting to ../shared/datasets next to the repository."""
    return os.environ.setdefault("RNNLAB_DATA", str(REPO.parent / "shared" / "datasets"))


def write_npz(
    path: Path, data: PreparedData, train_rows: int | None, test_rows: int | None
) -> dict[str, Any]:
    """Save the first rows of each split; return what the driver needs to scale timings."""
    train, test = slice(train_rows), slice(test_rows)
    np.savez(
        path,
        x_train=data.x_train[train],
        len_train=data.len_train[train],
        y_train=data.y_train[train],
        x_test=data.x_test[test],
        len_test=data.len_test[test],
        y_test=data.y_test[test],
        label_names=np.array(data.label_names),
        vocab_size=np.int64(data.vocab_size),
    )
    return {
        "path": str(path),
        "steps": int(data.x_train.shape[1]),
        "train_rows": len(data.y_train[train]),
        "full_train_rows": len(data.y_train),
        "test_rows": len(data.y_test[test]),
        "full_test_rows": len(data.y_test),
        "num_classes": data.num_classes,
        "vocab_size": data.vocab_size,
    }


def write_inputs(out_dir: Path, sizes: Sizes, datasets: set[str]) -> dict[str, dict[str, Any]]:
    """Write `<name>.npz` for each of ``datasets`` ('imdb', 'reuters') into ``out_dir``;
    return their descriptions."""
    use_default_data_dir()
    info = {}
    if "imdb" in datasets:
        data = prepare_data(load_config(IMDB_CONFIG).data)
        info["imdb"] = write_npz(
            out_dir / "imdb.npz", data, sizes.imdb_train_rows, sizes.imdb_predict_rows
        )
    if "reuters" in datasets:
        configs = [load_config(p) for p in REUTERS_CONFIGS.values()]
        if any(c.data != configs[0].data for c in configs):
            raise ValueError("the Reuters tutorial configs no longer share one data config")
        data = prepare_data(configs[0].data)
        info["reuters"] = write_npz(out_dir / "reuters.npz", data, sizes.reuters_rows, None)
    return info
