"""Training speed of rnnlab's fast paths on long, variable-length batches.

Model: rnnlab.models.RecurrentClassifier(vocab 20000, Embedding 128 -> one
recurrent layer of 64 units -> Dense(1)), batch 64, 400 steps, post-padded
lengths drawn from [50, 400). One timed unit is forward + backward + Adam.
Cases, all measured in the same run and interleaved (shared cores drift, so
compare the ratios; each is relative to the unmasked LSTM):

  lstm            LSTM, no mask: rnnlab's LSTM kernel (`lstm_kernel.py`, C time loops)
  lstm_masked     LSTM with the length mask (the same kernel, masked steps carried)
  lstm_bi         Bidirectional LSTM, no mask
  lstm_bi_masked  Bidirectional LSTM with the length mask
  gru             GRU, no mask (rnnlab's GRU kernel, `gru_kernel.py`)
  gru_masked      GRU with the length mask (rows sorted by length, shrinking batch)
  torch_gru       plain torch nn.GRU, no mask (reference)

    python benchmarks/bench_paths.py                  # 5 batches per case, 3 rounds
    python benchmarks/bench_paths.py --cases lstm gru --rounds 5
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from rnnlab.models import RecurrentClassifier

VOCAB, BATCH, STEPS, UNITS = 20000, 64, 400, 64
CASES = {
    "lstm": ("lstm", False, False),
    "lstm_masked": ("lstm", True, False),
    "lstm_bi": ("lstm", False, True),
    "lstm_bi_masked": ("lstm", True, True),
    "gru": ("gru", False, False),
    "gru_masked": ("gru", True, False),
    "torch_gru": ("torch_gru", False, False),
}


class TorchGRUModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 128)
        self.gru = nn.GRU(128, UNITS, batch_first=True)
        self.head = nn.Linear(UNITS, 1)

    def forward(self, ids, lengths=None):
        return self.head(self.gru(self.embedding(ids))[1][0])


def make_model(case: str) -> nn.Module:
    cell, mask, bi = CASES[case]
    torch.manual_seed(0)
    if cell == "torch_gru":
        return TorchGRUModel()
    return RecurrentClassifier(
        vocab_size=VOCAB, num_classes=2, cell=cell, units=(UNITS,), mask=mask, bidirectional=bi
    )


def time_case(case: str, batches, warmup: int) -> float:
    """Seconds per batch (forward + backward + Adam)."""
    model = make_model(case).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def step(ids, lengths, y):
        opt.zero_grad(set_to_none=True)
        logits = model(ids, lengths).squeeze(1)
        nn.functional.binary_cross_entropy_with_logits(logits, y).backward()
        opt.step()

    for b in batches[:warmup]:
        step(*b)
    start = time.perf_counter()
    for b in batches:
        step(*b)
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "--flush-denormal", action="store_true", help="torch.set_flush_denormal(True)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(args.flush_denormal)
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(args.batches):
        lengths = torch.randint(50, STEPS, (BATCH,), generator=g)
        ids = torch.randint(1, VOCAB, (BATCH, STEPS), generator=g)
        ids[torch.arange(STEPS)[None, :] >= lengths[:, None]] = 0  # post padding
        batches.append((ids, lengths, torch.randint(0, 2, (BATCH,), generator=g).float()))
    times: dict[str, list[float]] = {c: [] for c in args.cases}
    for _ in range(args.rounds):
        for c in args.cases:  # interleaved, so drift hits every case alike
            times[c].append(time_case(c, batches, args.warmup))
    best = {c: min(t) for c, t in times.items()}  # other processes only ever add time
    ref = best.get("lstm")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {BATCH} x "
        f"{STEPS} steps, {UNITS} units, best of {args.rounds} round(s) of {args.batches}"
    )
    print(f"{'case':16s} {'ms/batch':>9s} {'vs lstm':>8s}")
    for c in args.cases:
        ratio = f"{best[c] / ref:7.2f}x" if ref else ""
        print(f"{c:16s} {best[c] * 1000:9.1f} {ratio}")


if __name__ == "__main__":
    main()
