"""`python benchmarks/onnx_inference.py`: the ONNX inference benchmark runs on its own, in its format."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]


def test_the_standalone_command_prints_both_numbers_the_ratio_and_parity():
    command = [sys.executable, str(REPO / "benchmarks" / "onnx_inference.py"), "--rows", "64",
               "--rounds", "1", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("IMDB tutorial model (Embedding 20000x128 -> LSTM 128 -> Dense 1): "
                               "64 test reviews x 80 steps, batch 32, 1 thread(s)")
    onnx_s = float(re.fullmatch(r"onnxruntime \S+ \(opset 17, \d+\.\d MB\): (\S+) s .*",
                                lines[1]).group(1))
    ours_s = float(re.fullmatch(r"rnnlab \S+ Pipeline\.predict_proba_encoded \(torch \S+, "
                                r"fused path\): (\S+) s .*", lines[2]).group(1))
    ratio = float(re.fullmatch(r"ratio onnxruntime / rnnlab: (\S+)", lines[3]).group(1))
    assert ratio == pytest.approx(onnx_s / ours_s, abs=0.011)  # printed to 3 digits, 2 decimals
    diff = float(re.fullmatch(r"parity: max \|probability difference\| (\S+), labels equal: "
                              r"True", lines[4]).group(1))
    assert 0 <= diff < 1e-5
