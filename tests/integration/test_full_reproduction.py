"""The full tutorial reproductions (slow: about 10 minutes on 2 CPU cores; `pytest -m slow`).

The default suite runs every config in --quick mode instead (tests/test_experiment.py).
"""

import json

import pytest

from rnnlab.experiments import reproduce


@pytest.mark.slow
def test_imdb_tutorial_within_0015_of_published(tmp_path):
    reproduce(["imdb/lstm"], seeds=[0, 1, 2], out_dir=tmp_path)
    runs = json.loads((tmp_path / "results.json").read_text())[0]["runs"]
    mean = sum(r["test"]["accuracy"] for r in runs) / len(runs)
    assert abs(mean - 0.833) <= 0.015, mean


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, published",
    [
        ("reuters/stacked_simple_rnn", 0.746),
        ("reuters/lstm", 0.845),
        ("reuters/stacked_lstm", 0.858),
    ],
)
def test_reuters_tutorial_within_003_of_published(tmp_path, name, published):
    reproduce([name], seeds=[0, 1, 2], out_dir=tmp_path)
    runs = json.loads((tmp_path / "results.json").read_text())[0]["runs"]
    mean = sum(r["test"]["accuracy"] for r in runs) / len(runs)
    assert abs(mean - published) <= 0.03, mean
