"""The targets: each one a ratio rnnlab / reference from measurements of the same run.

A target names the job groups it needs and reads two numbers from their
results, rnnlab's and the reference's; the ratio is the first over the second
and passes when it is at most the bound. Repeated jobs (rounds, cold starts)
keep their fastest run: on shared cores other processes only ever add time.
A `Comparison` is the same ratio without a bound: reported, never a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data_files import REUTERS_CONFIGS
from plan import Job

PARITY_TOLERANCE = 1e-5


class Measurements:
    """Job results by group, with the derived numbers the targets compare."""

    def __init__(self, jobs: list[Job], results: dict[str, dict[str, Any]]):
        self.jobs = {j.key: j for j in jobs}
        self.results = results

    def runs(self, group: str) -> list[tuple[Job, dict[str, Any]]]:
        found = [(self.jobs[k], r) for k, r in self.results.items() if self.jobs[k].group == group]
        if not found:
            raise KeyError(f"no result for {group}")
        return found

    def seconds(self, group: str, key: str = "seconds") -> float:
        """The fastest run's seconds (its result's ``key``), scaled to the full data set."""
        return min(r[key] * job.scale for job, r in self.runs(group))

    def from_spawn(self, group: str) -> float:
        """Fastest wall time from spawning the process to the end of its work."""
        return min(r["done_at"] - r["spawned_at"] for _, r in self.runs(group))

    def peak_rss(self, group: str) -> float:
        """The largest peak RSS of the group's processes, MiB."""
        return max(r["peak_rss_mb"] for _, r in self.runs(group))

    def scaling(self) -> tuple[float, float]:
        """(microseconds per token at the longest length, at the shortest) for the hidden
        size whose ratio of the two is the worst."""
        table = self.runs("lstm_scaling")[0][1]["tokens_per_s"]
        pairs = []
        for by_length in table.values():
            lengths = sorted(by_length, key=int)
            pairs.append((1e6 / by_length[lengths[-1]], 1e6 / by_length[lengths[0]]))
        return max(pairs, key=lambda p: p[0] / p[1])

    def serving(self) -> tuple[float, float]:
        """(ms per request of the micro-batching server, of one pass per request)."""
        ms = self.runs("serve_load")[0][1]["ms_per_request"]
        return ms["batched"], ms["one_pass_per_request"]

    def data_parallel(self) -> tuple[float, float]:
        """(seconds of 2 workers x 1 thread, of 1 worker x 2 threads), medians of rounds."""
        r = self.runs("distributed_data_parallel")[0][1]
        return r["seconds_2x1"], r["seconds_1x2"]

    def streamed(self) -> tuple[float, float]:
        """(seconds of the epoch from the token store as training reads it, from arrays)."""
        s = self.runs("streamed_epoch")[0][1]["median_seconds"]
        return s["store_bucketed"], s["in_memory"]

    def parity(self) -> tuple[float, float]:
        return self.runs("lstm_parity")[0][1]["max_abs_diff"], PARITY_TOLERANCE


def ratio_of(
    values: Callable[[Measurements], tuple[float, float]], m: Measurements
) -> tuple[float, float, float, str | None]:
    """(ours, reference, ours / reference, error): NaNs and the reason when a job failed."""
    try:
        ours, reference = values(m)
        return ours, reference, ours / reference, None
    except (KeyError, ZeroDivisionError) as exc:  # a job failed: report, do not crash
        nan = float("nan")
        return nan, nan, nan, str(exc)


@dataclass(frozen=True)
class Target:
    name: str
    bound: float
    groups: tuple[str, ...]
    values: Callable[[Measurements], tuple[float, float]]  # (rnnlab, reference)
    unit: str
    what: str  # one line for RESULTS.md

    def evaluate(self, m: Measurements) -> dict[str, Any]:
        ours, reference, ratio, error = ratio_of(self.values, m)
        return {
            "name": self.name,
            "ratio": ratio,
            "bound": self.bound,
            "passed": ratio <= self.bound,
            "rnnlab": ours,
            "reference": reference,
            "unit": self.unit,
            "what": self.what,
            "error": error,
        }


@dataclass(frozen=True)
class Comparison:
    """A same-run ratio reported without a bound: a `Target` less the pass / fail."""

    name: str
    groups: tuple[str, ...]
    values: Callable[[Measurements], tuple[float, float]]  # (measured, reference)
    sides: tuple[str, str]  # what the two numbers are, for the report
    unit: str
    what: str

    def evaluate(self, m: Measurements) -> dict[str, Any]:
        measured, reference, ratio, error = ratio_of(self.values, m)
        return {
            "name": self.name,
            "ratio": ratio,
            "measured": measured,
            "reference": reference,
            "sides": list(self.sides),
            "unit": self.unit,
            "what": self.what,
            "error": error,
        }


def epochs(ours: str, reference: str) -> Callable[[Measurements], tuple[float, float]]:
    return lambda m: (m.seconds(ours), m.seconds(reference))


def reuters_target(name: str) -> Target:
    ours, ref = f"reuters_{name}_rnnlab", f"reuters_{name}_keras"
    return Target(
        f"reuters_{name}_epoch_vs_keras_tf",
        0.5,
        (ours, ref),
        epochs(ours, ref),
        "s/epoch",
        f"Reuters {name} (raw ids, 1,395 x 49, batch 50): one epoch",
    )


RD, NORD, TORCH, KERAS = "imdb_train_rd", "imdb_train_nord", "imdb_train_torch", "imdb_train_keras"
COLD = ("imdb_cold_start_rnnlab", "imdb_cold_start_keras")
PREDICT = ("imdb_predict_rnnlab", "imdb_predict_keras")

TARGETS = [
    Target(
        "imdb_train_epoch_recurrent_dropout_vs_keras_tf",
        0.33,
        (RD, KERAS),
        epochs(RD, KERAS),
        "s/epoch",
        "IMDB tutorial LSTM with recurrent dropout, one epoch vs Keras `fit`",
    ),
    Target(
        "imdb_train_epoch_recurrent_dropout_vs_torch_lstm",
        1.3,
        (RD, TORCH),
        epochs(RD, TORCH),
        "s/epoch",
        "the same epoch vs a plain torch nn.LSTM loop (no dropout), interleaved rounds",
    ),
    Target(
        "imdb_train_epoch_no_recurrent_dropout_vs_torch_lstm",
        1.05,
        (NORD, TORCH),
        epochs(NORD, TORCH),
        "s/epoch",
        "recurrent_dropout=0 (dropout 0.2 stays) vs the torch loop, interleaved rounds",
    ),
    Target(
        "imdb_inference_vs_keras_tf",
        0.5,
        PREDICT,
        epochs(*PREDICT),
        "s",
        "predict over the 25,000 test reviews, the same batch size on both sides",
    ),
    *(reuters_target(name) for name in REUTERS_CONFIGS),
    Target(
        "cold_start_first_batch_vs_keras_tf",
        1.0,
        COLD,
        lambda m: (m.from_spawn(COLD[0]), m.from_spawn(COLD[1])),
        "s",
        "process spawn -> imports, data, model -> end of the first trained batch",
    ),
    Target(
        "peak_memory_train_epoch_vs_keras_tf",
        1.0,
        (RD, KERAS),
        lambda m: (m.peak_rss(RD), m.peak_rss(KERAS)),
        "MiB",
        "peak RSS of the process that trained the IMDB epoch",
    ),
    Target(
        "scaling_linear_in_length",
        1.25,
        ("lstm_scaling",),
        Measurements.scaling,
        "µs/token",
        "recurrent-dropout LSTM layer: time per token at the longest vs the "
        "shortest length (worst hidden size)",
    ),
    Target(
        "serve_batched_vs_one_pass_per_request",
        0.333,
        ("serve_load",),
        Measurements.serving,
        "ms/request",
        "`rnnlab serve` (IMDB tutorial model), 2,000 reviews at concurrency 16 on loopback: "
        "time per request, micro-batching vs max batch 1 (at least 3x the throughput)",
    ),
    Target(
        "streamed_epoch_vs_in_memory",
        1.1,
        ("streamed_epoch",),
        Measurements.streamed,
        "s/epoch",
        "an epoch read batch by batch from the memory-mapped token store (bucketed by "
        "length) vs the same rows as in-memory padded arrays",
    ),
    Target(
        "fast_path_vs_reference_loop_max_abs_diff",
        1.0,
        ("lstm_parity",),
        Measurements.parity,
        "",
        "LSTM kernel vs the generic autograd loop: max |diff| of output and gradients / 1e-5",
    ),
]
TARGET_NAMES = [t.name for t in TARGETS]

ONNX = "imdb_predict_onnx"
COMPARISONS = [
    Comparison(
        "imdb_onnx_inference_vs_rnnlab",
        (ONNX,),
        lambda m: (m.seconds(ONNX), m.seconds(ONNX, "rnnlab_seconds")),
        ("onnxruntime", "rnnlab"),
        "s",
        "the exported IMDB tutorial model on onnxruntime vs `Pipeline.predict_proba_encoded`"
        " over the 25,000 test reviews, one process, same batches and threads",
    ),
]
COMPARISONS.append(
    Comparison(
        "data_parallel_2x1_vs_1x2",
        ("distributed_data_parallel",),
        Measurements.data_parallel,
        ("2 workers x 1 thread", "1 worker x 2 threads"),
        "s",
        "the IMDB tutorial model at the same global batch (32): two gloo DDP workers of one "
        "thread vs one process of two threads. Below 1, data parallelism uses the cores "
        "better: the LSTM's per-step operations are too small to share between threads",
    )
)
COMPARISON_NAMES = [c.name for c in COMPARISONS]
