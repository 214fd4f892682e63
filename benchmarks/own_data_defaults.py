"""`TextClassifier()` with its defaults against the strongest linear line, on raw-text corpora.

    RNNLAB_DATA=/work/shared/datasets python benchmarks/own_data_defaults.py --corpus reuters-topics
    python benchmarks/own_data_defaults.py --corpus imdb-raw --train 3000 --test 2000
    python benchmarks/own_data_defaults.py --corpus reuters-topics --set class_weight=balanced

Corpora, built from the shared raw data (nothing here is tuned on a test set):

- ``reuters-topics``: Reuters-21578 SGML, ModApte split, the documents with exactly one
  topic whose topic has a training document (a newswire-topic corpus of a few thousand
  documents, very unbalanced);
- ``imdb-raw``: the raw IMDB reviews CSV, a seeded sample of ``--train`` training and
  ``--test`` test reviews (balanced, long).

Both sides see the same training texts and are scored once on the same test texts:
``TextClassifier(random_state=seed, **set)`` (its own stratified validation split
inside), its recurrent part alone (the same fitted network, without the n-gram part),
and `strongest_linear_baseline` (tf-idf uni+bigrams with a linear SVM, logistic
regression or NBSVM, C chosen on its own validation split). Seconds are wall time on a
shared machine: compare them within a run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab import TextClassifier
from rnnlab.atomic import write_text_atomic
from rnnlab.data.reuters_sgml import read_reuters_sgml
from rnnlab.engine.inference import predict_logits
from rnnlab.experiments.baselines import strongest_linear_baseline
from rnnlab.experiments.evaluation import classification_metrics


def _data_dir() -> Path:
    return Path(os.environ.get("RNNLAB_DATA", "/work/shared/datasets"))


def reuters_topics(seed: int, n_train: int | None, n_test: int | None):
    split = read_reuters_sgml(_data_dir() / "reuters21578", "modapte")
    train = [(t, top[0]) for t, top in zip(split.train.texts, split.train.topics) if len(top) == 1]
    known = {label for _, label in train}
    test = [
        (t, top[0])
        for t, top in zip(split.test.texts, split.test.topics)
        if len(top) == 1 and top[0] in known
    ]
    return _sample(train, n_train, seed), _sample(test, n_test, seed + 1)


def imdb_raw(seed: int, n_train: int | None, n_test: int | None):
    csv.field_size_limit(1 << 30)
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    with open(_data_dir() / "imdb_reviews.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["split"]].append((row["review"], row["sentiment"]))
    return _sample(rows["train"], n_train, seed), _sample(rows["test"], n_test, seed + 1)


def _sample(pairs, n, seed):
    if n is not None and n < len(pairs):
        keep = np.sort(np.random.RandomState(seed).choice(len(pairs), n, replace=False))
        pairs = [pairs[i] for i in keep]
    return [t for t, _ in pairs], [label for _, label in pairs]


CORPORA = {"reuters-topics": reuters_topics, "imdb-raw": imdb_raw}


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"None": None, "True": True, "False": False}.get(text, text)


def recurrent_part_predictions(clf: TextClassifier, texts: list[str]) -> np.ndarray:
    """The classes the fitted model's recurrent part alone predicts (the hybrid without n-grams)."""
    module = getattr(clf.module_, "recurrent", clf.module_)
    ids, lengths = clf._predict_inputs(texts)
    logits = predict_logits(module, (ids, lengths), batch_size=256, order_invariant=True)
    index = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(1)
    return clf.classes_[index]


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(corpus: str, seed: int, n_train, n_test, overrides: dict) -> dict:
    (x_train, y_train), (x_test, y_test) = CORPORA[corpus](seed, n_train, n_test)
    _progress(f"{corpus}: {len(x_train)} training, {len(x_test)} test texts")
    labels = sorted(set(y_train))
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index.get(label, -1) for label in y_test])
    start = time.perf_counter()
    clf = TextClassifier(random_state=seed, **overrides).fit(x_train, y_train)
    seconds = time.perf_counter() - start
    _progress(f"TextClassifier: {seconds:.0f} s, {len(clf.history_['loss'])} epochs")
    predicted = np.array([index[p] for p in clf.predict(x_test)])
    alone = np.array([index[p] for p in recurrent_part_predictions(clf, x_test)])
    linear = strongest_linear_baseline(
        x_train, [index[label] for label in y_train], x_test, truth, seed=seed
    )
    _progress(f"linear line: {linear['seconds']:.0f} s")
    return {
        "corpus": corpus,
        "seed": seed,
        "train": len(x_train),
        "test": len(x_test),
        "classes": len(labels),
        "settings": overrides,
        "text_classifier": {**classification_metrics(truth, predicted), "seconds": seconds},
        "recurrent_part": classification_metrics(truth, alone),
        "epochs_run": len(clf.history_["loss"]),
        "maxlen": clf.maxlen_,
        "hybrid": getattr(clf, "hybrid_", None),
        "linear": {k: linear[k] for k in ("model", "C", "accuracy", "macro_f1", "seconds")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="reuters-topics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=None, help="sample this many training docs")
    parser.add_argument("--test", type=int, default=None, help="sample this many test docs")
    parser.add_argument("--set", action="append", default=[], help="TextClassifier key=value")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = _value(value)
    result = measure(args.corpus, args.seed, args.train, args.test, overrides)
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json:
        write_text_atomic(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
