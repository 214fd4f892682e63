"""The jobs of a benchmark run, in the order they run.

A job is one workload call in a child process (`workloads/`); jobs of one
*group* are repeats of the same measurement (rounds). The canonical order
interleaves the rounds of the rnnlab and torch epochs, so machine drift hits
every variant alike, and a run with `--only` keeps that order for what it needs.
Group names start with the data set they read ('imdb', 'reuters'), 'lstm' or 'serve'
(the serving job trains its own model); 'distributed' reads the IMDB arrays itself and
'streamed' generates its own CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from data_files import IMDB_CONFIG, REUTERS_CONFIGS
from sizes import Sizes

from rnnlab.experiments.config import ExperimentConfig, load_config

NO_RECURRENT_DROPOUT = ["model.recurrent_dropout=0.0"]


@dataclass(frozen=True)
class Job:
    key: str  # unique: the group, plus '#round' for repeated groups
    group: str
    side: str  # 'rnnlab' (rnnlab's venv) or 'keras'
    fn: str  # a job function of that side's workload script
    params: dict[str, Any] = field(hash=False)
    scale: float = 1.0  # full work / timed work: seconds are multiplied by it
    timed: str = ""  # what was actually timed, for the tables
    fresh: bool = False  # timed from its process's spawn


def keras_spec(cfg: ExperimentConfig, data: dict[str, Any]) -> dict[str, Any]:
    """The plain-dict model the Keras side builds (it cannot import rnnlab's config)."""
    m, t = cfg.model, cfg.train
    tutorial = m.pooling == "last" and t.optimizer == "adam"
    if m.bidirectional or m.mask or m.output_dropout or not tutorial:
        raise ValueError(f"{cfg.name}: the Keras side builds only the tutorial architectures")
    return {
        "input": m.input,
        "cell": m.cell,
        "units": list(m.units),
        "dropout": m.dropout,
        "recurrent_dropout": m.recurrent_dropout,
        "embedding_dim": m.embedding_dim,
        "vocab_size": data["vocab_size"],
        "num_classes": data["num_classes"],
        "steps": data["steps"],
        "lr": t.lr,
        "epsilon": t.epsilon,
        "batch_size": t.batch_size,
    }


def extrapolated(rows: int, full_rows: int, batch_size: int, epochs: int = 1) -> tuple[float, str]:
    """(scale to the full data set, what was timed) for a job over the first ``rows`` rows."""
    batches, full = -(-rows // batch_size), -(-full_rows // batch_size)
    timed = f"{batches} batches" if batches == full else f"{batches} of {full} batches"
    return full / batches, timed if epochs == 1 else f"{epochs} epochs x {timed}"


def imdb_jobs(sizes: Sizes, rounds: int, data: dict[str, Any]) -> list[Job]:
    cfg = load_config(IMDB_CONFIG)
    bs, path = cfg.train.batch_size, data["path"]
    spec = keras_spec(cfg, data)
    scale, timed = extrapolated(data["train_rows"], data["full_train_rows"], bs)
    fit = {"data": path, "warmup_rows": sizes.warmup_rows, "epochs": 1}

    def rnnlab_epoch(group: str, r: int, overrides: list[str], expect_path: str) -> Job:
        params = {
            "config": str(IMDB_CONFIG),
            "overrides": overrides,
            "expect_path": expect_path,
            **fit,
        }
        return Job(f"{group}#{r}", group, "rnnlab", "fit_epochs", params, scale, timed)

    torch_params = {
        "vocab_size": spec["vocab_size"],
        "embedding_dim": spec["embedding_dim"],
        "units": spec["units"][0],
        "lr": spec["lr"],
        "epsilon": spec["epsilon"],
        "batch_size": bs,
        **fit,
    }
    jobs = []
    for r in range(rounds):
        jobs += [
            rnnlab_epoch("imdb_train_rd", r, [], "kernel"),
            Job(
                f"imdb_train_torch#{r}",
                "imdb_train_torch",
                "rnnlab",
                "torch_fit_epochs",
                torch_params,
                scale,
                timed,
            ),
            rnnlab_epoch("imdb_train_nord", r, NO_RECURRENT_DROPOUT, "kernel"),
        ]
    jobs.append(
        Job(
            "imdb_train_keras",
            "imdb_train_keras",
            "keras",
            "fit_epochs",
            {"spec": spec, **fit},
            scale,
            timed,
        )
    )
    pb = sizes.predict_batch_size
    scale, timed = extrapolated(data["test_rows"], data["full_test_rows"], pb)
    predict = {"data": path, "batch_size": pb, "warmup_rows": sizes.warmup_rows}
    jobs += [
        Job(
            "imdb_predict_rnnlab",
            "imdb_predict_rnnlab",
            "rnnlab",
            "predict_rows",
            {"config": str(IMDB_CONFIG), **predict},
            scale,
            timed,
        ),
        Job(
            "imdb_predict_keras",
            "imdb_predict_keras",
            "keras",
            "predict_rows",
            {"spec": spec, **predict},
            scale,
            timed,
        ),
        # One process times both sides in turns; two rounds at most: each pass over the
        # 25,000 reviews takes 15-20 s per side on 2 cores.
        Job(
            "imdb_predict_onnx",
            "imdb_predict_onnx",
            "rnnlab",
            "onnx_predict_rows",
            {"config": str(IMDB_CONFIG), "rounds": min(rounds, 2), **predict},
            scale,
            timed,
        ),
    ]
    for r in range(sizes.cold_start_reps):
        jobs += [
            Job(
                f"imdb_cold_start_rnnlab#{r}",
                "imdb_cold_start_rnnlab",
                "rnnlab",
                "first_batch",
                {"config": str(IMDB_CONFIG), "data": path},
                timed="1 batch",
                fresh=True,
            ),
            Job(
                f"imdb_cold_start_keras#{r}",
                "imdb_cold_start_keras",
                "keras",
                "first_batch",
                {"spec": spec, "data": path},
                timed="1 batch",
                fresh=True,
            ),
        ]
    return jobs


def reuters_jobs(sizes: Sizes, data: dict[str, Any]) -> list[Job]:
    jobs = []
    for name, path in REUTERS_CONFIGS.items():
        cfg = load_config(path)
        scale, timed = extrapolated(
            data["train_rows"], data["full_train_rows"], cfg.train.batch_size, sizes.reuters_epochs
        )
        # One whole epoch of warm-up: Keras then has traced the last, partial batch too.
        fit = {
            "data": data["path"],
            "warmup_rows": data["train_rows"],
            "epochs": sizes.reuters_epochs,
        }
        jobs += [
            Job(
                f"reuters_{name}_rnnlab",
                f"reuters_{name}_rnnlab",
                "rnnlab",
                "fit_epochs",
                {"config": str(path), "overrides": [], "expect_path": "kernel", **fit},
                scale,
                timed,
            ),
            Job(
                f"reuters_{name}_keras",
                f"reuters_{name}_keras",
                "keras",
                "fit_epochs",
                {"spec": keras_spec(cfg, data), **fit},
                scale,
                timed,
            ),
        ]
    return jobs


def lstm_jobs(sizes: Sizes) -> list[Job]:
    batch, steps, units = sizes.parity_shape
    return [
        Job(
            "lstm_parity",
            "lstm_parity",
            "rnnlab",
            "kernel_parity",
            {"batch": batch, "steps": steps, "units": units},
            timed="1 batch",
        ),
        Job(
            "lstm_scaling",
            "lstm_scaling",
            "rnnlab",
            "lstm_scaling",
            {
                "hiddens": list(sizes.scaling_hiddens),
                "lengths": list(sizes.scaling_lengths),
                "batch": sizes.scaling_batch,
                "samples": sizes.scaling_samples,
            },
            timed="fastest of equal-token samples",
        ),
    ]


def serve_jobs(sizes: Sizes) -> list[Job]:
    """`rnnlab serve` under a bounded load on loopback, with and without micro-batching."""
    params = {
        "model": sizes.serve_model,
        "requests": sizes.serve_requests,
        "concurrency": sizes.serve_concurrency,
        "rounds": sizes.serve_rounds,
        "max_batch": 64,
        "max_wait_ms": 2.0,
    }
    timed = (
        f"{sizes.serve_rounds} x {sizes.serve_requests} requests per server, "
        f"concurrency {sizes.serve_concurrency}"
    )
    return [Job("serve_load", "serve_load", "rnnlab", "serve_load", params, timed=timed)]


def scale_out_jobs(sizes: Sizes) -> list[Job]:
    """Growing past one process: data-parallel workers, and an epoch read from a token store."""
    return [
        Job(
            "distributed_data_parallel",
            "distributed_data_parallel",
            "rnnlab",
            "data_parallel",
            {"rows": sizes.dp_rows, "rounds": sizes.dp_rounds},
            timed=f"imdb/lstm on {sizes.dp_rows} rows, global batch 32, "
            f"median of {sizes.dp_rounds} interleaved rounds",
        ),
        Job(
            "streamed_epoch",
            "streamed_epoch",
            "rnnlab",
            "streamed_epoch",
            {"rows": sizes.stream_rows, "rounds": sizes.stream_rounds},
            timed=f"a small GRU, one epoch over {sizes.stream_rows:,} generated rows, "
            f"1 thread, median of {sizes.stream_rounds} interleaved rounds",
        ),
    ]


def datasets_for(groups: set[str]) -> set[str]:
    return {g.split("_")[0] for g in groups} & {"imdb", "reuters"}


def make_jobs(
    sizes: Sizes, rounds: int, data: dict[str, dict[str, Any]], groups: set[str]
) -> list[Job]:
    """The jobs of ``groups`` in canonical order: parity first (it fails fast), then the
    interleaved IMDB rounds, Keras, inference, Reuters, cold starts, serving, data-parallel
    and streamed epochs, scaling last."""
    parity, scaling = lstm_jobs(sizes)
    jobs = [parity]
    if "imdb" in data:
        jobs += imdb_jobs(sizes, rounds, data["imdb"])
    if "reuters" in data:
        jobs += reuters_jobs(sizes, data["reuters"])
    jobs += serve_jobs(sizes)
    jobs += scale_out_jobs(sizes)
    jobs.append(scaling)
    return [j for j in jobs if j.group in groups]
