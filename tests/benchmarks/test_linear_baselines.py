"""`benchmarks/linear_baselines.py`: its corpora are the ones results.json names; --quick runs."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "linear_baselines.py"


def test_the_corpora_carry_the_names_the_report_gives_them():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import linear_baselines
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from rnnlab.experiments.prepare import corpus_name

    assert {name: corpus_name(cfg) for name, cfg in linear_baselines.CORPORA.items()} == {
        name: name for name in linear_baselines.CORPORA
    }


def test_quick_prints_the_line_selected_on_validation_and_writes_json(tmp_path):
    out = tmp_path / "linear.json"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--corpus",
            "reuters-tutorial-split",
            "--quick",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (result,) = json.loads(out.read_text())
    assert (result["corpus"], result["train"], result["test"]) == (
        "reuters-tutorial-split",
        256,
        128,
    )
    assert "reuters-tutorial-split: 256 train / 128 test, 46 classes" in done.stdout
    assert f"  selected on validation: {result['model']} C=" in done.stdout
    for name in ("svm", "logreg", "nbsvm"):
        assert f"    {name} " in done.stdout
