"""Encoding speed: rnnlab tokenize + vocabulary lookup vs scikit-learn's CountVectorizer analyzer.

Both sides process the same 50,000 IMDB reviews (imdb_reviews.csv) in the same
run, interleaved, best of `--repeat` runs each; the machine is noisy, so only
the same-run ratio means anything.

- CountVectorizer: `build_analyzer()` applied to every text, i.e. lowercasing
  and regex tokenising only (no vocabulary, no counting).
- rnnlab encode: `Vocabulary.encode`, i.e. tokenising *and* mapping every token
  to its id through the real Keras IMDB word index (Keras id layout: start,
  oov, index_from=3).

Run: python benchmarks/bench_tokenize.py [--data DIR] [--repeat N]
Target: encode (lower=True) / CountVectorizer <= 1.0.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from pathlib import Path

from sklearn.feature_extraction.text import CountVectorizer

from rnnlab.data.text import read_csv
from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary


def _data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("RNNLAB_DATA"):
        return Path(os.environ["RNNLAB_DATA"])
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


def _time(fn, times: list[float]) -> None:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with imdb_reviews.csv and imdb_word_index.json")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (best is kept)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N reviews")
    args = parser.parse_args(argv)

    data = _data_dir(args.data)
    t0 = time.perf_counter()
    texts = read_csv(data / "imdb_reviews.csv", "review", "sentiment").texts[: args.limit]
    read_s = time.perf_counter() - t0
    n_chars = sum(map(len, texts))

    analyzer = CountVectorizer().build_analyzer()
    vocab_default = Vocabulary.from_word_index(data / "imdb_word_index.json")
    vocab_ascii = Vocabulary.from_word_index(
        data / "imdb_word_index.json", tokenizer=Tokenizer(lower="ascii")
    )
    tok = Tokenizer()
    methods = {
        "CountVectorizer analyzer (tokenize)": lambda: [analyzer(t) for t in texts],
        "rnnlab Tokenizer (tokenize)": lambda: tok.tokenize_many(texts),
        "rnnlab encode, lower=True": lambda: vocab_default.encode(texts),
        "rnnlab encode, lower='ascii'": lambda: vocab_ascii.encode(texts),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.repeat):  # interleaved, so drift hits every method alike
        for name, fn in methods.items():
            _time(fn, times[name])

    n_tokens = sum(map(len, vocab_default.encode(texts))) - len(texts)
    base = min(times["CountVectorizer analyzer (tokenize)"])
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; {len(texts):,} reviews, "
        f"{n_chars / 1e6:.1f} M chars, {n_tokens / 1e6:.2f} M tokens; CSV read {read_s:.2f} s; "
        f"best of {args.repeat}"
    )
    print(f"{'method':<40} {'best s':>8} {'all runs s':>24} {'ratio':>7}")
    for name, ts in times.items():
        runs = " ".join(f"{t:.2f}" for t in ts)
        print(f"{name:<40} {min(ts):>8.3f} {runs:>24} {min(ts) / base:>7.2f}")
    ratio = min(times["rnnlab encode, lower=True"]) / base
    print(f"\nratio rnnlab encode / CountVectorizer tokenize = {ratio:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
