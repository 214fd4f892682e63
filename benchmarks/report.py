"""What a run prints and writes: tables, the target lines, the JSON and RESULTS.md.

The target lines come last, one per target, exactly
`<name> ratio=<x> target=<bound> PASS|FAIL`, so scripts and tests can grep them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from plan import Job
from sizes import Sizes
from targets import Measurements

from rnnlab.atomic import write_text_atomic


def fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.3g}" if abs(x) < 0.01 else f"{x:.2f}"


def target_line(t: dict[str, Any]) -> str:
    verdict = "PASS" if t["passed"] else "FAIL"
    return f"{t['name']} ratio={_ratio_text(t)} target={t['bound']} {verdict}"


def _ratio_text(t: dict[str, Any]) -> str:
    """The ratio with as many digits as it takes to read the verdict from it (0.3312 > 0.33)."""
    text, digits = fmt(t["ratio"]), 3
    while math.isfinite(t["ratio"]) and (float(text) <= t["bound"]) != t["passed"] and digits < 12:
        text, digits = f"{t['ratio']:.{digits}g}", digits + 1
    return text


def comparison_line(c: dict[str, Any]) -> str:
    """`<name> ratio=<measured / reference> <side>=<value> <unit> <side>=<value> <unit>`."""
    (ours, theirs), unit = c["sides"], c["unit"]
    return (
        f"{c['name']} ratio={fmt(c['ratio'])} {ours}={fmt(c['measured'])} {unit} "
        f"{theirs}={fmt(c['reference'])} {unit}"
    )


def job_rows(jobs: list[Job], m: Measurements, errors: dict[str, str]) -> list[list[str]]:
    """One row per job: what was timed, the measured and the full-size value, peak memory."""
    rows = []
    for job in jobs:
        r = m.results.get(job.key)
        if r is None:
            rows.append([job.key, job.side, job.timed, "error", "", ""])
            continue
        if "seconds" in r:
            measured, full = fmt(r["seconds"]), fmt(r["seconds"] * job.scale)
        elif job.fresh:
            measured = full = fmt(r["done_at"] - r["spawned_at"])
        else:
            measured = full = "-"
        share = r.get("others_cpu_share")
        rows.append(
            [
                job.key,
                job.side,
                job.timed,
                measured,
                full,
                f"{r['peak_rss_mb']:.0f}",
                "?" if share is None else f"{share:.0%}",
            ]
        )
    return rows


JOB_HEADER = ["job", "side", "timed", "seconds", "full-size s", "peak RSS MiB", "others' CPU"]
# Above this share of the CPUs taken by other processes, a job's time is not trustworthy.
BUSY_SHARE = 0.1


def busy_warning(m: Measurements) -> str | None:
    busy = sorted(k for k, r in m.results.items() if (r.get("others_cpu_share") or 0) > BUSY_SHARE)
    if not busy:
        return None
    worst = max(m.results[k]["others_cpu_share"] for k in busy)
    return (
        f"WARNING: other processes used more than {BUSY_SHARE:.0%} of the CPUs (up to "
        f"{worst:.0%}) during {len(busy)} of {len(m.results)} jobs (column others' CPU): "
        "their times are inflated and ratios against them unreliable; rerun on a quiet "
        "machine."
    )


def scaling_rows(m: Measurements) -> tuple[list[str], list[list[str]]]:
    """Tokens/s by hidden size (rows) and length (columns), and the worst-case ratio."""
    table = m.runs("lstm_scaling")[0][1]["tokens_per_s"]
    lengths = sorted(next(iter(table.values())), key=int)
    header = ["hidden \\ length", *lengths, f"s/token {lengths[-1]} / {lengths[0]}"]
    rows = [
        [h, *(f"{v[n]:,.0f}" for n in lengths), fmt(v[lengths[0]] / v[lengths[-1]])]
        for h, v in table.items()
    ]
    return header, rows


def serving_rows(m: Measurements) -> tuple[list[str], list[list[str]]]:
    """The two servers of the serving job: throughput, latency, errors, batch sizes."""
    result = m.runs("serve_load")[0][1]
    header = ["server", "req/s", "p50 ms", "p99 ms", "errors", "mean batch", "max abs diff"]
    rows = []
    for name in ("batched", "one_pass_per_request"):
        r = result[name]
        rows.append(
            [
                f"{name} (max batch {r['max_batch']})",
                f"{r['requests_per_s']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                str(r["errors"]),
                f"{r['mean_batch']:.1f}",
                f"{r['max_abs_diff']:.1e}",
            ]
        )
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(
        "| " + " | ".join(str(c).replace("|", "\\|") for c in line) + " |" for line in lines
    )


def print_report(
    jobs: list[Job],
    m: Measurements,
    errors: dict[str, str],
    targets: list[dict[str, Any]],
    machine: str,
    comparisons: list[dict[str, Any]] = (),
) -> None:
    print(machine)
    print(text_table(JOB_HEADER, job_rows(jobs, m, errors)))
    if any(j.group == "lstm_scaling" for j in jobs) and "lstm_scaling" in m.results:
        print("\nrecurrent-dropout LSTM layer, tokens/s (forward + backward):")
        print(text_table(*scaling_rows(m)))
    if "serve_load" in m.results:
        print("\nrnnlab serve under load (fastest round of each server):")
        print(text_table(*serving_rows(m)))
    warning = busy_warning(m)
    if warning:
        print(f"\n{warning}")
    if comparisons:
        print("\ncomparisons (same run, no bound):")
        for c in comparisons:
            print(comparison_line(c))
    print()
    for t in targets:
        print(target_line(t))


def write_json(path: Path, run: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(run, indent=1, default=str) + "\n")


def method_notes(sizes: Sizes, rounds: int) -> list[str]:
    """How the numbers were taken, from the settings of this run."""
    notes = [
        (
            "Every workload runs in a fresh child process (`benchmarks/workloads/`) with the same "
            "thread count for every framework (OMP / TF intra- and inter-op threads = "
            f"{sizes.threads or 'all cores'}); data come from rnnlab's Keras-exact loaders through "
            "an .npz, so both sides train on identical arrays."
        ),
        (
            "rnnlab models and trainers are built from the shipped configs with "
            "`rnnlab.experiments.build_model` / `make_trainer` and trained with `Trainer.fit`; "
            "each job asserts the path its recurrent layers took ('kernel' = rnnlab's LSTM "
            "kernel with its C time loops, 'fused' = torch's fused kernel)."
        ),
        (
            f"Training: a warm-up fit on the first {sizes.warmup_rows} rows (ending in a partial "
            "batch, so Keras has traced both batch shapes an epoch feeds it), then one timed `fit` "
            f"epoch; the rnnlab and torch epochs run in {rounds} interleaved round(s), fastest "
            "kept. Keras trains once."
        ),
        (
            "Extrapolation: where 'timed' shows fewer batches than the full data set, seconds are "
            "scaled to it ('full-size s')."
        ),
        (
            f"Inference: `Trainer.predict` and Keras `model.predict`, both batch size "
            f"{sizes.predict_batch_size} (Keras's default), after a warm-up predict."
        ),
        (
            "ONNX: the tutorial model exported by `rnnlab.export.export_onnx`, run on onnxruntime "
            "(CPU, intra-op threads = torch's) and by `Pipeline.predict_proba_encoded` in one "
            f"process, batch size {sizes.predict_batch_size} both, after a warm-up; the two take "
            "turns, fastest round of each kept."
        ),
        f"Reuters: one warm-up epoch, then the mean of {sizes.reuters_epochs} timed epoch(s).",
        (
            f"Cold start: best of {sizes.cold_start_reps}; the parent takes `time.time()` before "
            "spawning, the child prints it after its first trained batch."
        ),
        "Peak memory: `ru_maxrss` of the process that trained the IMDB epoch (largest round).",
        (
            "others' CPU: the share of all cores that other processes used while the job ran "
            "(/proc/stat minus the benchmark's own CPU time)."
        ),
        (
            "Parity: the layer's `implementation` switches it between the LSTM kernel ('kernel') "
            "and the generic autograd loop of `run_loop` ('loop', the reference); same dropout "
            "masks, float32, the kernel's calls counted on both sides."
        ),
    ]
    if sizes.one_process_per_side:
        notes.insert(
            0,
            f"Profile {sizes.profile}: all of a side's jobs share one process and "
            f"Keras runs on its {sizes.keras_backend} backend; the numbers only show "
            "that every workload runs.",
        )
    return notes


def comparison_section(comparisons: list[dict[str, Any]]) -> list[str]:
    """RESULTS.md's table of the same-run comparisons without a bound (none: no section)."""
    if not comparisons:
        return []
    rows = [
        [
            f"`{c['name']}`<br>{c['what']}",
            f"{c['sides'][0]} {fmt(c['measured'])} {c['unit']}",
            f"{c['sides'][1]} {fmt(c['reference'])} {c['unit']}",
            fmt(c["ratio"]),
        ]
        for c in comparisons
    ]
    return [
        "## Comparisons (no bound)",
        markdown_table(["comparison", "measured", "reference", "ratio"], rows),
    ]


def write_results_md(
    path: Path,
    run: dict[str, Any],
    jobs: list[Job],
    m: Measurements,
    errors: dict[str, str],
    sizes: Sizes,
) -> None:
    target_rows = [
        [
            f"`{t['name']}`<br>{t['what']}",
            f"{fmt(t['rnnlab'])} {t['unit']}".strip(),
            f"{fmt(t['reference'])} {t['unit']}".strip(),
            fmt(t["ratio"]),
            str(t["bound"]),
            "PASS" if t["passed"] else "FAIL",
        ]
        for t in run["targets"]
    ]
    parts = [
        "# Benchmark results",
        (
            "Written by `benchmarks/run.py --write-results` from one real run. Every ratio is "
            "rnnlab / reference measured in that same run: the machines drift 12-35 % between "
            "runs, so only same-run ratios mean anything."
        ),
        f"Machine: {run['machine']}",
        f"Command: `{run['command']}`",
        "## Targets",
        markdown_table(["target", "rnnlab", "reference", "ratio", "bound", "result"], target_rows),
        *comparison_section(run.get("comparisons") or []),
        "## Measurements",
        markdown_table(JOB_HEADER, job_rows(jobs, m, errors)),
        *filter(None, [busy_warning(m)]),
    ]
    if "lstm_scaling" in m.results:
        parts += [
            "## Scaling: tokens/s of one recurrent-dropout LSTM layer",
            (
                f"Batch {run['sizes']['scaling_batch']}, input size = hidden size, "
                "forward + backward; each cell the fastest of "
                f"{run['sizes']['scaling_samples']} samples of {run['sizes']['scaling_batch']} x "
                f"{max(run['sizes']['scaling_lengths'])} tokens, the lengths taking turns."
            ),
            markdown_table(*scaling_rows(m)),
        ]
    if "serve_load" in m.results:
        parts += [
            "## Serving: `rnnlab serve` under load",
            (
                f"`benchmarks/load_test.py`: {sizes.serve_requests} requests of one IMDB test "
                f"review each from {sizes.serve_concurrency} keep-alive connections on loopback, "
                f"per server and round; the fastest of {sizes.serve_rounds} round(s) counts. "
                "Every answer is checked against the review predicted alone (1e-6)."
            ),
            markdown_table(*serving_rows(m)),
        ]
    parts += ["## Method", "\n".join(f"- {n}" for n in method_notes(sizes, run["rounds"]))]
    # The standalone scripts' figures (bench_distributed.py, bench_streaming.py) are recorded
    # by hand under STANDALONE, at the end: a new run keeps them.
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = old[old.find(STANDALONE) :] if STANDALONE in old else ""
    write_text_atomic(path, "\n\n".join([*parts, kept.rstrip()] if kept else parts) + "\n")


STANDALONE = "## Standalone benchmarks"
