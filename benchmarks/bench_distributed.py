"""Data-parallel on one machine: 2 workers x 1 thread against 1 worker x 2 threads.

Model: the IMDB tutorial (`imdb/lstm`: Embedding(20000, 128) -> LSTM(128,
dropout 0.2, recurrent dropout 0.2) -> Dense(1)), on the first ``--rows``
training reviews (pre-padded to 80), global batch 32, Adam: one timed unit
is that fraction of an epoch (the full epoch is 25,000 rows; seconds are
reported for the fraction and scaled to the epoch). Variants, in the same run
and interleaved round by round (shared cores drift, so read the ratio):

  1x2   one process, torch.set_num_threads(2), batch 32
  2x1   two gloo workers (`Trainer(distributed=True)`), 1 thread each,
        16 rows per worker per step (the same global batch of 32)

Only the fit is timed (process start, imports and the data preparation are
not). The ratio is seconds(2x1) / seconds(1x2): below 1, data parallelism
uses the two cores better than intra-op threads do.

    python benchmarks/bench_distributed.py              # 1,024 rows, 3 rounds
    python benchmarks/bench_distributed.py --rows 4096 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

from rnnlab.atomic import write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_files import IMDB_CONFIG, use_default_data_dir  # noqa: E402

FULL_ROWS = 25000


def _prepare(rows: int) -> tuple:
    from rnnlab.experiments.config import load_config
    from rnnlab.experiments.prepare import prepare_data

    cfg = load_config(IMDB_CONFIG)
    data = prepare_data(cfg.data)
    train = ((data.x_train[:rows], data.len_train[:rows]), data.y_train[:rows])
    return cfg, data, train


def _fit_seconds(distributed: bool, rows: int, threads: int) -> float:
    from rnnlab.engine import seed_everything
    from rnnlab.experiments.runner import build_model, make_trainer

    torch.set_num_threads(threads)
    cfg, data, train = _prepare(rows)
    seed_everything(0)
    model = build_model(cfg, data)
    trainer = make_trainer(cfg, model, seed=0, verbose=0, distributed=distributed)
    if distributed:
        torch.distributed.barrier()
    start = time.perf_counter()
    trainer.fit(train, epochs=1, batch_size=cfg.train.batch_size)
    return time.perf_counter() - start


def _worker(rank: int, port: int, rows: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE="2",
    )
    seconds = _fit_seconds(True, rows, threads=1)
    if rank == 0:
        write_text_atomic(out, json.dumps(seconds))
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _two_workers(rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "seconds.json")
        mp.spawn(_worker, args=(_free_port(), rows, out), nprocs=2, join=True)
        return float(json.loads(Path(out).read_text()))


def _one_worker(rows: int) -> float:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:  # its own process, like the workers: same import state
        return float(pool.apply(_fit_seconds, (False, rows, 2)))


def benchmark_job(rows: int, rounds: int, log=print) -> dict:
    """Both variants, interleaved round by round: seconds of every round and the medians."""
    times: dict[str, list[float]] = {"1x2": [], "2x1": []}
    for r in range(rounds):
        times["1x2"].append(_one_worker(rows))
        times["2x1"].append(_two_workers(rows))
        log(f"round {r + 1}: 1x2 {times['1x2'][-1]:.2f} s, 2x1 {times['2x1'][-1]:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "rows": rows,
        "full_rows": FULL_ROWS,
        "rounds": times,
        "seconds_1x2": med["1x2"],
        "seconds_2x1": med["2x1"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    use_default_data_dir()
    got = benchmark_job(args.rows, args.rounds)
    one, two = got["seconds_1x2"], got["seconds_2x1"]
    scale = FULL_ROWS / args.rows
    print(
        f"imdb/lstm, {args.rows} of {FULL_ROWS} rows, global batch 32, median of {args.rounds}: "
        f"1 worker x 2 threads {one:.2f} s ({one * scale:.0f} s/epoch), "
        f"2 workers x 1 thread {two:.2f} s ({two * scale:.0f} s/epoch); "
        f"ratio 2x1 / 1x2 = {two / one:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
