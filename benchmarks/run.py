"""rnnlab's benchmark suite in one command: every speed, memory and parity target.

    python benchmarks/run.py                  # the real run (~10 min on 2 cores)
    python benchmarks/run.py --quick          # a few batches per workload, extrapolated
    python benchmarks/run.py --only scaling_linear_in_length --rounds 1
    python benchmarks/run.py --write-results  # also rewrite benchmarks/RESULTS.md

Compares rnnlab with Keras 3 on TensorFlow (in a venv of its own, created on
first use; see keras_env.py) and with plain torch, on the two tutorials' models
and data. Each workload runs in a fresh process; the driver prints a table of
raw measurements, the scaling table, the comparisons without a bound (the
exported ONNX model on onnxruntime vs rnnlab), then one line per target:
`<name> ratio=<rnnlab / reference> target=<bound> PASS|FAIL`.
Exit status: 0 all targets pass, 1 a target fails, 2 a workload crashed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import keras_env
from data_files import write_inputs
from plan import datasets_for, make_jobs
from report import print_report, write_json, write_results_md
from sizes import FULL, PROFILES, QUICK
from spawn import run_jobs
from targets import COMPARISON_NAMES, COMPARISONS, TARGET_NAMES, TARGETS, Measurements

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="time a few batches per workload and extrapolate (a sanity run)",
    )
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, Keras on its torch backend in this venv (the test suite)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=TARGET_NAMES + COMPARISON_NAMES,
        help=f"run only these targets or comparisons: {', '.join(TARGET_NAMES + COMPARISON_NAMES)}",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds of the rnnlab / torch epochs; the fastest counts",
    )
    p.add_argument(
        "--keras-venv",
        type=Path,
        default=keras_env.DEFAULT_VENV,
        help="the Keras + TensorFlow venv, created when missing (default: %(default)s)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=HERE / "last_run.json",
        help="where to write every raw measurement (default: %(default)s)",
    )
    p.add_argument(
        "--write-results", action="store_true", help="(re)write the results file from this run"
    )
    p.add_argument(
        "--results",
        type=Path,
        default=HERE / "RESULTS.md",
        help="the results file for --write-results (default: %(default)s)",
    )
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_line(pythons: dict[str, str], backend: str) -> tuple[str, dict[str, object]]:
    torch = keras_env.package_versions(pythons["rnnlab"], ("torch",))["torch"]
    env = keras_env.keras_subprocess_env() if backend == keras_env.BACKEND else None
    keras = keras_env.package_versions(pythons["keras"], ("keras", "tensorflow-cpu"), env)
    info = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch,
        "tensorflow": keras["tensorflow-cpu"],
        "keras": keras["keras"],
        "keras_backend": backend,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
    }
    tf = f"tensorflow-cpu {info['tensorflow']}" if info["tensorflow"] else "no TensorFlow"
    line = (
        f"{info['cores']} CPU cores, Python {info['python']}, torch {info['torch']}, {tf}, "
        f"keras {info['keras']} (backend {backend}), {info['date']}"
    )
    return line, info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = PROFILES["smoke"] if args.smoke else QUICK if args.quick else FULL
    selected = [t for t in TARGETS if args.only is None or t.name in args.only]
    compared = [c for c in COMPARISONS if args.only is None or c.name in args.only]
    groups = {g for t in selected + compared for g in t.groups}
    pythons = {"rnnlab": sys.executable, "keras": sys.executable}
    if sizes.keras_backend == "tensorflow" and any(g.endswith("_keras") for g in groups):
        pythons["keras"] = str(keras_env.ensure_keras_venv(args.keras_venv, log))
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as tmp:
        data = write_inputs(Path(tmp), sizes, datasets_for(groups))
        jobs = make_jobs(sizes, args.rounds, data, groups)
        log(f"{len(jobs)} jobs, profile {sizes.profile}")
        results, errors = run_jobs(jobs, pythons, sizes, log)
    m = Measurements(jobs, results)
    targets = [t.evaluate(m) for t in selected]
    comparisons = [c.evaluate(m) for c in compared]
    machine, machine_info = machine_line(pythons, sizes.keras_backend)
    print_report(jobs, m, errors, targets, machine, comparisons)
    run = {
        "command": shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "machine": machine,
        "machine_info": machine_info,
        "profile": sizes.profile,
        "rounds": args.rounds,
        "sizes": vars(sizes),
        "data": data,
        "targets": targets,
        "comparisons": comparisons,
        "jobs": [
            {
                "key": j.key,
                "group": j.group,
                "side": j.side,
                "fn": j.fn,
                "params": j.params,
                "scale": j.scale,
                "timed": j.timed,
                "result": results.get(j.key),
                "error": errors.get(j.key),
            }
            for j in jobs
        ],
    }
    write_json(args.json, run)
    if args.write_results:
        write_results_md(args.results, run, jobs, m, errors, sizes)
    return 2 if errors else 0 if all(t["passed"] for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
