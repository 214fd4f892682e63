"""NBSVM's selection grid on Keras's default Reuters split: in one process vs in worker processes.

`rnnlab.experiments.hybrid_fit.fit_nbsvm` chooses the hybrid's n-gram order,
weighting, C and beta on validation: 20 NBSVM fits of 46 one-vs-rest SVMs here,
each independent, so they run in as many processes as torch has threads. This
runs the selection reuters/default_hybrid makes (8,982 wires,
the last 300 tokens of each, the last 10 % validating), with 1 thread and then with
``--threads``, and checks that both choose the same settings with the same weights.

    RNNLAB_DATA=../shared/datasets python benchmarks/bench_nbsvm_selection.py [--threads 2]

Target: 1 process / ``--threads`` processes >= 1.5 with 2 threads on 2 idle cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rnnlab.datasets import reuters
from rnnlab.experiments.hybrid_fit import fit_nbsvm

MAXLEN, VALIDATION = 300, 0.1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="processes of the second case")
    args = parser.parse_args(argv)
    (wires, labels), _ = reuters.load_data(num_words=20000, test_split=0.2)
    docs = [list(w[-MAXLEN:]) for w in wires]  # truncating="pre", as the config pads
    cut = int(len(docs) * (1 - VALIDATION))
    seconds, chosen = {}, {}
    for threads in (1, args.threads):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        _, model, info = fit_nbsvm(docs[:cut], labels[:cut], docs[cut:], labels[cut:], seed=0)
        seconds[threads] = time.perf_counter() - start
        chosen[threads] = info, model.weights_
        print(f"  {threads} process(es): {seconds[threads]:6.1f} s, chose {info}")
    same = chosen[1][0] == chosen[args.threads][0]
    same = same and np.array_equal(chosen[1][1], chosen[args.threads][1])
    print(
        f"1 / {args.threads}: {seconds[1] / seconds[args.threads]:.2f}; same choice and weights: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
