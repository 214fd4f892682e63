"""The strongest linear baseline on the four reference corpora: what a recurrent recipe must beat.

    RNNLAB_DATA=/path/to/datasets python benchmarks/linear_baselines.py
    python benchmarks/linear_baselines.py --corpus reuters-default-split --json out.json
    python benchmarks/linear_baselines.py --quick      # 256 / 128 documents: a smoke test

For each corpus (named as `results.json` names it), `strongest_linear_baseline` runs
on exactly the documents a reproduction gives the networks, with the seed the report
uses (`data.seed`, 113): tf-idf word uni+bigrams (min_df 2, sublinear tf) with a linear
SVM, logistic regression and NBSVM, C (and NBSVM's beta) chosen on a stratified 20 %
validation split of the training part, each refitted on the whole training part and
scored once on test. The line printed first is the model best on validation.
Seconds are features + fit + predict on a shared machine: compare them within a run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rnnlab.experiments.baselines import describe, settings, strongest_linear_baseline
from rnnlab.experiments.config import DataConfig
from rnnlab.experiments.prepare import prepare_data

CORPORA = {
    # The IMDB tutorial's arrays: num_words=20000, every token of every review.
    "imdb-keras-arrays": DataConfig(source="imdb", num_words=20000),
    # The Reuters tutorial: num_words=30000, wires shorter than 50 tokens, 30 % test.
    "reuters-tutorial-split": DataConfig(
        source="reuters", num_words=30000, load_maxlen=50, test_split=0.3
    ),
    # `reuters.load_data()` with Keras's defaults: 8,982 / 2,246 wires, 46 topics.
    "reuters-default-split": DataConfig(source="reuters"),
    # The 50,000 raw reviews through rnnlab's tokenizer, the vocabulary fitted on train.
    "imdb-raw-reviews": DataConfig(source="imdb_csv", lower="ascii"),
}


def measure(corpus: str, quick: bool = False) -> dict:
    cfg = CORPORA[corpus]
    start, cpu = time.perf_counter(), time.process_time()
    data = prepare_data(cfg, quick=quick)
    prepare_seconds = time.perf_counter() - start
    line = strongest_linear_baseline(
        data.seq_train, data.y_train, data.seq_test, data.y_test, seed=cfg.seed
    )
    return {
        "corpus": corpus,
        "train": len(data.y_train),
        "test": len(data.y_test),
        "classes": data.num_classes,
        "prepare_seconds": prepare_seconds,
        "total_seconds": time.perf_counter() - start,
        # CPU time of this process: far below the wall time when others share the cores.
        "total_cpu_seconds": time.process_time() - cpu,
        **line,
    }


def print_result(result: dict) -> None:
    print(
        f"{result['corpus']}: {result['train']} train / {result['test']} test, "
        f"{result['classes']} classes, {result['features']} n-grams"
    )
    print(
        f"  selected on validation: {describe(result)}  test accuracy "
        f"{result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}  "
        f"{result['seconds']:.1f} s (features + fit + predict)"
    )
    for name, m in result["models"].items():
        print(
            f"    {name:<7} {settings(m):<18} validation {m['validation_accuracy']:.4f}  "
            f"test {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  {m['seconds']:.1f} s  "
            f"(selection {m['selection_seconds']:.1f} s"
            + ("" if m["converged"] else ", stopped before converging")
            + ")"
        )
    print(
        f"  total {result['total_seconds']:.0f} s wall (with {result['prepare_seconds']:.0f} s "
        f"of data), {result['total_cpu_seconds']:.0f} s of CPU"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus", action="append", choices=list(CORPORA), help="default: all four"
    )
    parser.add_argument("--quick", action="store_true", help="256 / 128 documents per corpus")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = []
    for corpus in args.corpus or list(CORPORA):
        results.append(measure(corpus, quick=args.quick))
        print_result(results[-1])
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
