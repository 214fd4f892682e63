"""`benchmarks/run.py --smoke`: every workload runs and every target line is printed, exactly.

The smoke profile runs the real workload code at tiny sizes, with Keras on its
torch backend in this venv (no TensorFlow). Speed is not asserted: only the
format, that every ratio is a real number, and the parity of the LSTM kernel.
"""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"(\S+) ratio=(\S+) target=(\S+) (PASS|FAIL)")
TARGETS = [
    "imdb_train_epoch_recurrent_dropout_vs_keras_tf",
    "imdb_train_epoch_recurrent_dropout_vs_torch_lstm",
    "imdb_train_epoch_no_recurrent_dropout_vs_torch_lstm",
    "imdb_inference_vs_keras_tf",
    "reuters_stacked_simple_rnn_epoch_vs_keras_tf",
    "reuters_lstm_epoch_vs_keras_tf",
    "reuters_stacked_lstm_epoch_vs_keras_tf",
    "cold_start_first_batch_vs_keras_tf",
    "peak_memory_train_epoch_vs_keras_tf",
    "scaling_linear_in_length",
    "serve_batched_vs_one_pass_per_request",
    "streamed_epoch_vs_in_memory",
    "fast_path_vs_reference_loop_max_abs_diff",
]


def check_target_lines(stdout: str) -> None:
    """Every target line comes last, in the exact format, with a real ratio and verdict."""
    last = stdout.strip().splitlines()[-len(TARGETS) :]
    matches = [LINE.fullmatch(line) for line in last]
    assert all(matches), last
    assert [m.group(1) for m in matches] == TARGETS
    for m in matches:
        ratio, bound = float(m.group(2)), float(m.group(3))
        assert math.isfinite(ratio) and ratio > 0, m.group(0)
        assert m.group(4) == ("PASS" if ratio <= bound else "FAIL"), m.group(0)


def check_jobs(run: dict) -> None:
    """Every job ran, on the LSTM path it claims to measure; the kernel matches the loop."""
    assert all(job["error"] is None and job["result"] for job in run["jobs"])
    result = {job["key"]: job["result"] for job in run["jobs"]}
    assert result["imdb_train_rd#0"]["paths"] == ["kernel"]
    assert result["imdb_train_nord#0"]["paths"] == ["kernel"]
    assert result["imdb_predict_rnnlab"]["paths"] == ["fused"]
    served = result["serve_load"]  # both servers answered every request, and correctly
    for name in ("batched", "one_pass_per_request"):
        assert served[name]["errors"] == 0 and served[name]["requests"] == 48
        assert served[name]["max_abs_diff"] <= 1e-6
    assert served["one_pass_per_request"]["largest_batch"] == 1
    dp = result["distributed_data_parallel"]
    assert len(dp["rounds"]["2x1"]) == len(dp["rounds"]["1x2"]) == 1
    assert dp["seconds_2x1"] > 0 and dp["seconds_1x2"] > 0
    streamed = result["streamed_epoch"]
    assert set(streamed["median_seconds"]) == {"in_memory", "store_fixed_width", "store_bucketed"}
    assert 0 < streamed["training_rows"] <= 2000
    parity = result["lstm_parity"]
    assert 0 <= parity["max_abs_diff"] < 1e-5
    assert set(parity["diffs"]) >= {"output", "grad_input", "grad_cell.kernel"}


def test_smoke_run_prints_every_target_and_writes_its_files(tmp_path):
    # One test, not several sharing a fixture: under pytest -n 2 each worker would rerun it.
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "run.py"),
        "--smoke",
        "--rounds",
        "1",
        "--json",
        str(tmp_path / "run.json"),
        "--write-results",
        "--results",
        str(tmp_path / "RESULTS.md"),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, timeout=300, check=False
    )
    # 0: all targets pass, 1: some fail (tiny sizes say nothing about speed), 2: a crash.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    check_target_lines(done.stdout)
    run = json.loads((tmp_path / "run.json").read_text())
    check_jobs(run)
    results = (tmp_path / "RESULTS.md").read_text()
    assert all(f"`{name}`" in results for name in TARGETS)
    assert run["machine"] in results and "--smoke" in results and "## Scaling" in results
    assert "## Serving" in results
    assert "`data_parallel_2x1_vs_1x2`" in results and "`imdb_onnx_inference_vs_rnnlab`" in results
    assert "data_parallel_2x1_vs_1x2 ratio=" in done.stdout
