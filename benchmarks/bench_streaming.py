"""Corpora larger than memory: peak RSS of a streamed epoch, and streamed vs in-memory epoch time.

Two measurements on a generated CSV (``--csv``; make one with ``--generate ROWS``,
under /tmp, never in the repository: 2,000,000 rows are about 1 GB):

  big      ``rnnlab train --data CSV data.stream=true`` in a child process, as a
           user runs it: the token store is built (two streamed passes), one epoch
           of a small GRU trains from it, the test part is evaluated and the model
           saved. Reported: rows, file size, the child's peak RSS
           (getrusage of the children), seconds of the whole command. With
           ``--max-batches N`` (a shared, slow CPU): in this process, the store is
           built from the whole file, training stops after N batches, and the
           validation part is evaluated; the peak RSS covers all of it.
  compare  on the first ``--subset`` rows (a corpus that fits in memory): one epoch
           of the same model on (a) in-memory padded arrays, as `prepare_data`
           gives, (b) the token store with every batch padded to maxlen (the same
           shapes as (a), in the store's bucketed order), (c) the token store
           as training uses it (batches bucketed by length, padded to their
           longest row). Rounds interleave the variants, rotating their order (the
           first slot of a round runs slower); the ratios are of medians.

    python benchmarks/bench_streaming.py --generate 2000000 --csv /tmp/big/big.csv
    python benchmarks/bench_streaming.py big --csv /tmp/big/big.csv
    python benchmarks/bench_streaming.py big --csv /tmp/big/big.csv --max-batches 500
    python benchmarks/bench_streaming.py compare --csv /tmp/big/big.csv --subset 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODEL = [
    "data.maxlen=100",
    "model.embedding_dim=16",
    "model.units=[16]",
    "model.output_dropout=0.0",
    "train.batch_size=256",
    "train.epochs=1",
    "train.validation_split=0.01",
]


def generate(rows: int, out: Path) -> None:
    """A labelled CSV: Zipf words from a 20,000-word vocabulary, 3 label words per row."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, size=rng.integers(3, 9))) for _ in range(20000)])
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    pos, neg = vocab[100:120], vocab[120:140]
    out.parent.mkdir(parents=True, exist_ok=True)
    from rnnlab.atomic import atomic_path

    with atomic_path(out) as tmp, open(tmp, "w") as fh:
        fh.write("text,label\n")
        for lo in range(0, rows, 20000):
            n = min(20000, rows - lo)
            lens = rng.integers(20, 140, size=n)
            words = rng.choice(vocab, size=int(lens.sum()), p=zipf)
            labels = rng.integers(0, 2, size=n)
            lines = []
            for seq, lab in zip(np.split(words, np.cumsum(lens)[:-1]), labels, strict=True):
                seq = list(seq)
                for j in rng.integers(0, len(seq), size=3):
                    seq[j] = rng.choice(pos if lab else neg)
                lines.append(" ".join(seq) + ("," + ("pos" if lab else "neg")) + "\n")
            fh.write("".join(lines))


def count_rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b"")) - 1


def big(csv: Path) -> None:
    with tempfile.TemporaryDirectory(dir=csv.parent) as tmp:
        cmd = [sys.executable, "-m", "rnnlab", "train", "--config", "text/gru", "--data"]
        cmd += [str(csv), "--out", str(Path(tmp) / "run"), "--quiet", "data.stream=true", *MODEL]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        print(done.stdout.strip())
        if done.returncode:
            print(done.stderr[-3000:])
            raise SystemExit(done.returncode)
    size = csv.stat().st_size
    print(
        f"big: {count_rows(csv):,} rows, {size / 2**30:.2f} GiB file; `rnnlab train --data "
        f"{csv.name} data.stream=true` (store build + 1 epoch + test + save) took "
        f"{seconds:.0f} s, peak RSS {peak / 2**30:.2f} GiB"
    )


def big_stopped(csv: Path, max_batches: int) -> None:
    """The store built from the whole file, then training stopped after ``max_batches``."""
    import torch

    from rnnlab.engine import Callback, seed_everything
    from rnnlab.experiments.catalog import resolve_config
    from rnnlab.experiments.config import apply_overrides, load_config
    from rnnlab.experiments.runner import build_model, make_trainer
    from rnnlab.experiments.streamed import prepare_streamed

    class StopAfter(Callback):
        def on_batch_end(self, trainer, batch, logs):  # type: ignore[no-untyped-def]
            if trainer.step >= max_batches:
                trainer.stop(f"benchmark: stopped after {max_batches} batches")

    torch.set_num_threads(1)
    overrides = [f"data.path={csv}", "data.stream=true", *MODEL]
    cfg = apply_overrides(load_config(resolve_config("text/gru")), overrides)
    with tempfile.TemporaryDirectory(dir=csv.parent) as tmp:
        start = time.perf_counter()
        data = prepare_streamed(cfg, Path(tmp) / "run")
        built = time.perf_counter() - start
        rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        seed_everything(0)
        trainer = make_trainer(cfg, build_model(cfg, data), seed=0, verbose=0)
        start = time.perf_counter()
        trainer.fit(data.train, epochs=1, batch_size=cfg.train.batch_size, callbacks=[StopAfter()])
        trained = time.perf_counter() - start
        start = time.perf_counter()
        val = trainer.evaluate(data.val, batch_size=1024) if data.val is not None else {}
        evaluated = time.perf_counter() - start
        rows = {
            k: getattr(data, k).num_samples for k in ("train", "val", "test") if getattr(data, k)
        }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    batches = data.train.num_batches(cfg.train.batch_size)
    print(
        f"big (stopped): {sum(rows.values()):,} rows {rows}, {csv.stat().st_size / 2**30:.2f} GiB "
        f"file; token store built in {built:.0f} s (peak RSS then {rss_built / 2**30:.2f} GiB); "
        f"{trainer.step} of {batches} training batches in {trained:.0f} s "
        f"({trained / max(1, trainer.step) * batches:.0f} s per epoch at that rate); "
        f"validation part ({rows.get('val', 0):,} rows) evaluated in {evaluated:.0f} s, "
        f"val accuracy {val.get('accuracy', float('nan')):.3f}; peak RSS {peak / 2**30:.2f} GiB"
    )


def compare(csv: Path, subset: int, rounds: int, log=print) -> dict:
    """Median seconds of one epoch per variant, over the first ``subset`` rows of ``csv``."""
    import torch

    from rnnlab.engine import seed_everything
    from rnnlab.experiments.catalog import resolve_config
    from rnnlab.experiments.config import apply_overrides, load_config
    from rnnlab.experiments.runner import build_model, make_trainer
    from rnnlab.experiments.streamed import StoreData, prepare_streamed

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(dir=csv.parent) as tmp:
        part = Path(tmp) / "subset.csv"
        with csv.open("rb") as src, part.open("wb") as dst:  # noqa: PTH123 - scratch copy
            for _ in range(subset + 1):
                dst.write(src.readline())
        overrides = [f"data.path={part}", "data.stream=true", *MODEL]
        cfg = apply_overrides(load_config(resolve_config("text/gru")), overrides)
        # No validation here: an epoch of training is what is compared.
        cfg = apply_overrides(cfg, ["train.early_stopping_patience=null"])
        data = prepare_streamed(cfg, Path(tmp) / "run")
        train, d = data.train, cfg.data
        n = train.num_samples
        rows = np.arange(n)
        x = train.store.padded(rows, d.maxlen, d.padding, d.truncating, d.maxlen)
        arrays = ((x, train.lengths.astype(np.int64)), train.store.labels)
        fixed = StoreData(train.store, d.maxlen, d.padding, d.truncating, fixed_width=True)
        variants = {"in_memory": arrays, "store_fixed_width": fixed, "store_bucketed": train}
        times: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:  # each variant takes each slot
                source = variants[name]
                seed_everything(0)
                trainer = make_trainer(cfg, build_model(cfg, data), seed=0, verbose=0)
                start = time.perf_counter()
                trainer.fit(source, epochs=1, batch_size=cfg.train.batch_size)
                times[name].append(time.perf_counter() - start)
            log(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    log(
        f"compare: {n:,} training rows of {subset:,}, batch 256, 1 thread, median of {rounds}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in med.items())
        + f"; store_fixed_width / in_memory = {med['store_fixed_width'] / med['in_memory']:.2f}, "
        f"store_bucketed / in_memory = {med['store_bucketed'] / med['in_memory']:.2f}"
    )
    return {"training_rows": n, "subset": subset, "rounds": times, "median_seconds": med}


def compare_job(rows: int, rounds: int, log=print) -> dict:
    """`compare` on a generated CSV of ``rows`` rows in a scratch directory (benchmarks/run.py)."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-stream-") as tmp:
        csv = Path(tmp) / "generated.csv"
        generate(rows, csv)
        return compare(csv, rows, rounds, log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("big", "compare"))
    parser.add_argument("--csv", type=Path, default=Path("/tmp/rnnlab-big/big.csv"))
    parser.add_argument("--generate", type=int, metavar="ROWS")
    parser.add_argument("--subset", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--max-batches", type=int, help="big: stop training after this many batches (in-process)"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.generate:
        generate(args.generate, args.csv)
    if args.what == "big" and args.max_batches:
        big_stopped(args.csv, args.max_batches)
    elif args.what == "big":
        big(args.csv)
    elif args.what == "compare":
        compare(args.csv, args.subset, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
