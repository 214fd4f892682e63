"""How much work each benchmark does: the real run, `--quick` and `--smoke`.

Training and inference times are measured on `*_rows` rows and scaled to the
full data set (25,000 IMDB reviews: 782 batches of 32), so `--quick` gives
the same kind of number from a fraction of the work; the driver prints how
many batches were actually timed. `None` means all rows (nothing extrapolated).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    profile: str
    imdb_train_rows: int | None  # rows per timed training epoch
    imdb_predict_rows: int | None
    # Warm-up rows before timing: four full batches of 32 and one partial one, so
    # Keras has traced both batch shapes an epoch of 25,000 rows feeds it.
    warmup_rows: int
    predict_batch_size: int  # both sides (Keras's `predict` default)
    reuters_rows: int | None
    reuters_epochs: int  # timed epochs, after one warm-up epoch
    cold_start_reps: int
    scaling_hiddens: tuple[int, ...]
    scaling_lengths: tuple[int, ...]
    scaling_batch: int
    # Each (hidden, length) cell: the fastest of this many samples, every sample the
    # same number of tokens (as many passes as make up one pass of the longest length).
    scaling_samples: int
    parity_shape: tuple[int, int, int]  # batch, steps, units
    # `rnnlab serve` under load (load_test.py): the model served ('imdb/lstm': the tutorial
    # model, or 'tiny'), requests per timed round, connections, rounds (fastest kept).
    serve_model: str
    serve_requests: int
    serve_concurrency: int
    serve_rounds: int
    # Data-parallel (bench_distributed.py): IMDB training rows per timed fit, interleaved rounds.
    dp_rows: int
    dp_rounds: int
    # Streamed vs in-memory epoch (bench_streaming.py compare): generated rows, rounds.
    stream_rows: int
    stream_rounds: int
    threads: int | None  # intra-op threads of every framework; None: all cores
    keras_backend: str
    one_process_per_side: bool  # smoke only: pay each side's imports once


FULL = Sizes(
    profile="full",
    imdb_train_rows=None,
    imdb_predict_rows=None,
    warmup_rows=136,
    predict_batch_size=32,
    reuters_rows=None,
    reuters_epochs=5,
    cold_start_reps=3,
    scaling_hiddens=(64, 128, 256),
    scaling_lengths=(80, 320, 1280),
    scaling_batch=32,
    scaling_samples=7,
    parity_shape=(32, 80, 128),
    serve_model="imdb/lstm",
    serve_requests=2000,
    serve_concurrency=16,
    serve_rounds=3,
    dp_rows=1024,
    dp_rounds=3,
    stream_rows=50000,
    stream_rounds=3,
    threads=None,
    keras_backend="tensorflow",
    one_process_per_side=False,
)
QUICK = Sizes(
    profile="quick",
    imdb_train_rows=40 * 32,
    imdb_predict_rows=2000,
    warmup_rows=136,
    predict_batch_size=32,
    reuters_rows=None,
    reuters_epochs=2,
    cold_start_reps=2,
    scaling_hiddens=(64, 128, 256),
    scaling_lengths=(80, 320, 1280),
    scaling_batch=32,
    scaling_samples=2,
    parity_shape=(32, 80, 128),
    serve_model="imdb/lstm",
    serve_requests=500,
    serve_concurrency=16,
    serve_rounds=1,
    dp_rows=256,
    dp_rounds=1,
    stream_rows=10000,
    stream_rounds=1,
    threads=None,
    keras_backend="tensorflow",
    one_process_per_side=False,
)
# The test suite's smoke run: every code path on tiny sizes, Keras on its torch
# backend (no TensorFlow install), one thread per process (pytest runs -n 2).
SMOKE = Sizes(
    profile="smoke",
    imdb_train_rows=64,
    imdb_predict_rows=64,
    warmup_rows=40,
    predict_batch_size=32,
    reuters_rows=100,
    reuters_epochs=1,
    cold_start_reps=1,
    scaling_hiddens=(4, 8),
    scaling_lengths=(5, 20),
    scaling_batch=4,
    scaling_samples=1,
    parity_shape=(4, 6, 5),
    serve_model="tiny",
    serve_requests=48,
    serve_concurrency=4,
    serve_rounds=1,
    dp_rows=64,
    dp_rounds=1,
    stream_rows=2000,
    stream_rounds=1,
    threads=1,
    keras_backend="torch",
    one_process_per_side=True,
)
PROFILES = {s.profile: s for s in (FULL, QUICK, SMOKE)}
