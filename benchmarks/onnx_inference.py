"""ONNX inference speed: the exported IMDB tutorial model on onnxruntime vs rnnlab, one process.

The same job `benchmarks/run.py` runs (`workloads/onnx_jobs.py`), on its own:
the 25,000 IMDB test reviews, padded to 80 ids as the tutorial pads them, the
tutorial model exported by `rnnlab.export.export_onnx`; onnxruntime and
`Pipeline.predict_proba_encoded` take turns, same batches, same thread count,
fastest round of each kept, every probability compared. The machine is
noisy: only the same-run ratio means anything (the CPU share other processes
took is printed with it).

Run: python benchmarks/onnx_inference.py [--rows N] [--batch-size 32] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import torch
from cpu_share import OthersShare
from data_files import IMDB_CONFIG, write_inputs
from sizes import FULL

import rnnlab

WORKLOADS = Path(__file__).resolve().parent / "workloads"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rows",
        type=int,
        default=None,
        help="time the first N test reviews only (default: all 25,000)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=FULL.predict_batch_size,
        help="rows per call, both sides (default: %(default)s, as benchmarks/run.py)",
    )
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per side (default 3)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads of both (default: torch's, one per core)",
    )
    args = p.parse_args(argv)
    for name in ("rows", "batch_size", "rounds", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The job the driver runs, imported as its child process imports it.
    sys.path.insert(0, str(WORKLOADS))
    from rnnlab_side import onnx_predict_rows

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sizes = dataclasses.replace(FULL, imdb_train_rows=1, imdb_predict_rows=args.rows)
    with tempfile.TemporaryDirectory(prefix="rnnlab-onnx-bench-") as tmp:
        data = write_inputs(Path(tmp), sizes, {"imdb"})["imdb"]
        with OthersShare() as others:
            r = onnx_predict_rows(
                str(IMDB_CONFIG),
                data["path"],
                args.batch_size,
                warmup_rows=min(FULL.warmup_rows, data["test_rows"]),
                rounds=args.rounds,
            )
    import onnxruntime

    onnx_s, ours_s, rows = r["seconds"], r["rnnlab_seconds"], r["rows"]
    print(
        f"IMDB tutorial model (Embedding 20000x128 -> LSTM 128 -> Dense 1): {rows:,} test "
        f"reviews x {data['steps']} steps, batch {r['batch_size']}, {r['threads']} thread(s), "
        f"fastest of {args.rounds} round(s) each"
    )
    print(
        f"onnxruntime {onnxruntime.__version__} (opset {r['opset']}, "
        f"{r['onnx_bytes'] / 1e6:.1f} MB): {onnx_s:.3g} s ({rows / onnx_s:,.0f} reviews/s)"
    )
    print(
        f"rnnlab {rnnlab.__version__} Pipeline.predict_proba_encoded (torch "
        f"{torch.__version__}, {'/'.join(r['paths'])} path): {ours_s:.3g} s "
        f"({rows / ours_s:,.0f} reviews/s)"
    )
    print(f"ratio onnxruntime / rnnlab: {onnx_s / ours_s:.2f}")
    print(
        f"parity: max |probability difference| {r['max_abs_diff']:.1e}, labels equal: "
        f"{r['labels_equal']}"
    )
    if others.share is not None:
        print(f"other processes used {others.share:.0%} of the CPUs meanwhile")
    return 0 if r["labels_equal"] and r["max_abs_diff"] <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
