"""Training speed of the IMDB tutorial model: rnnlab's loop path, its fast path, torch nn.LSTM.

The model is the seed's: Embedding(20000, 128) -> LSTM(128) -> Dense(1), batch
32, 80 steps. One timed unit is forward + backward + Adam step over `--batches`
batches of random ids; seconds are also scaled to a 25,000-row epoch (782
batches). Variants, all measured in the same run (the machines drift 12-35 %
between runs, so compare the ratios):

  (a) rnnlab LSTM, dropout=0.2, recurrent_dropout=0.2 (Keras's per-gate masks): the loop
  (b) rnnlab LSTM, dropout=0.2 only: the fast path (torch's fused kernel)
  (c) plain torch nn.LSTM (no dropout of either kind)

DESIGN.md anchors for one epoch on 2 CPU cores: Keras 3 / TensorFlow 64.2 s,
a plain Python-loop LSTM with recurrent dropout 55.7 s, torch nn.LSTM 17.6 s.

    python benchmarks/bench_lstm.py                # 200 batches, best of 3 rounds
    python benchmarks/bench_lstm.py --batches 50 --rounds 1
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from rnnlab import nn as rnn

VOCAB, EMBED, UNITS, BATCH, STEPS = 20000, 128, 128, 32, 80
EPOCH_BATCHES = -(-25000 // BATCH)


class TutorialModel(nn.Module):
    def __init__(self, variant: str):
        super().__init__()
        if variant == "torch":
            self.embedding: nn.Module = nn.Embedding(VOCAB, EMBED)
            self.lstm: nn.Module = nn.LSTM(EMBED, UNITS, batch_first=True)
        else:
            self.embedding = rnn.Embedding(VOCAB, EMBED)
            recurrent_dropout = 0.2 if variant == "loop" else 0.0
            self.lstm = rnn.LSTM(
                UNITS, input_size=EMBED, dropout=0.2, recurrent_dropout=recurrent_dropout
            )
        self.variant = variant
        self.head = nn.Linear(UNITS, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        h = self.lstm(x)[1][0][0] if self.variant == "torch" else self.lstm(x)
        return self.head(h).squeeze(-1)


def time_variant(
    variant: str, batches: list[tuple[torch.Tensor, torch.Tensor]], warmup: int
) -> float:
    torch.manual_seed(0)
    model = TutorialModel(variant).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()

    def step(ids, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(ids), y)
        loss.backward()
        opt.step()

    for ids, y in batches[:warmup]:
        step(ids, y)
    start = time.perf_counter()
    for ids, y in batches:
        step(ids, y)
    elapsed = time.perf_counter() - start
    if variant != "torch":
        expected = "loop" if variant == "loop" else "fast"
        assert model.lstm.last_path == expected, (variant, model.lstm.last_path)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of all variants; the fastest is kept"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.randint(1, VOCAB, (BATCH, STEPS), generator=g),
            torch.randint(0, 2, (BATCH,), generator=g).float(),
        )
        for _ in range(args.batches)
    ]
    variants = {
        "loop": "(a) rnnlab loop, dropout + recurrent_dropout",
        "fast": "(b) rnnlab fast path, dropout only",
        "torch": "(c) torch nn.LSTM",
    }
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for v in variants:  # interleaved, so drift hits every variant alike
            times[v].append(time_variant(v, batches, args.warmup))
    # The fastest round: on shared cores, other processes only ever add time.
    med = {v: min(t) for v, t in times.items()}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.batches} batches x {BATCH} x {STEPS} steps, best of {args.rounds} round(s)"
    )
    print(f"{'variant':48s} {'seconds':>8s} {'s/epoch':>8s} {'vs (c)':>7s}")
    for v, label in variants.items():
        per_epoch = med[v] / args.batches * EPOCH_BATCHES
        print(f"{label:48s} {med[v]:8.2f} {per_epoch:8.1f} {med[v] / med['torch']:6.2f}x")


if __name__ == "__main__":
    main()
