"""Prediction speed of a masked model: length-sorted batches cut to their longest row vs full width.

Model: imdb/hybrid's recurrent part, untrained (speed does not depend on the weights):
Embedding(20000, 128) -> bidirectional GRU(64), masked, max pooling. Inputs: the
first ``--limit`` Keras IMDB test reviews, post-padded to 800 tokens as that config
pads them (most reviews are far shorter). Both cases go through
`rnnlab.engine.inference.predict_logits` with batches of 256, in the same run,
interleaved, best of ``--rounds``; only the ratio means anything on a shared machine.

  full  the model behind a wrapper without `cuts_padding`: every batch 800 steps wide
  cut   the model itself: rows sorted by length, each batch cut to its longest row

    RNNLAB_DATA=../shared/datasets python benchmarks/bench_predict.py [--limit 3000] [--rounds 2]

Target: full / cut >= 2 on these reviews; the largest logit difference below 1e-5.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from rnnlab.data.sequence import pad_sequences
from rnnlab.datasets import imdb
from rnnlab.engine.inference import predict_logits
from rnnlab.models import RecurrentClassifier

MAXLEN = 800


class FullWidth(nn.Module):
    """The same module without `cuts_padding`: `predict_logits` keeps the padded width."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(*inputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000, help="test reviews to predict")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, (reviews, _) = imdb.load_data(num_words=20000)
    reviews = reviews[: args.limit]
    ids = pad_sequences(reviews, maxlen=MAXLEN, padding="post", truncating="pre")
    lengths = np.minimum([len(r) for r in reviews], MAXLEN)
    inputs = (torch.as_tensor(ids, dtype=torch.int64), torch.as_tensor(lengths))
    torch.manual_seed(0)
    model = RecurrentClassifier(
        vocab_size=20000, num_classes=2, padding="post", input="embedding", embedding_dim=128,
        cell="gru", units=[64], mask=True, bidirectional=True, pooling="max",
    )  # fmt: skip
    cases = {"full": FullWidth(model), "cut": model}
    best = dict.fromkeys(cases, float("inf"))
    logits = {}
    for _ in range(args.rounds):
        for name, module in cases.items():
            start = time.perf_counter()
            logits[name] = predict_logits(module, inputs, batch_size=256)
            best[name] = min(best[name], time.perf_counter() - start)
    print(
        f"{len(reviews)} reviews, median {int(np.median(lengths))} of {MAXLEN} tokens, "
        f"{args.threads} thread(s)"
    )
    for name, seconds in best.items():
        print(f"  {name:5s} {seconds:7.2f} s")
    difference = float(np.abs(logits["full"] - logits["cut"]).max())
    print(
        f"full / cut: {best['full'] / best['cut']:.2f}; largest logit difference {difference:.1e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
