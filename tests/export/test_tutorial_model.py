"""A real trained model: the IMDB tutorial LSTM (quick run), exported and served from raw reviews.

One test, not several sharing a fixture: under pytest -n 2 each worker would train it again.
"""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.cli import main
from rnnlab.data.sequence import pad_with_lengths
from rnnlab.experiments import train_one
from rnnlab.export.runtime import run, session


def test_reviews_through_the_sidecar_and_onnx_match_rnnlab(tmp_path, capsys, sidecar_encode):
    reviews_csv = Path(os.environ.get("RNNLAB_DATA", "")) / "imdb_reviews.csv"
    if not reviews_csv.is_file():
        pytest.skip(f"{reviews_csv} is not here")
    train_one("imdb/lstm", quick=True, out_dir=tmp_path / "run", verbose=0)
    model_dir = tmp_path / "run" / "model"
    assert main(["export", str(model_dir), str(tmp_path / "imdb.onnx")]) == 0
    assert "matches rnnlab on the probe batches" in capsys.readouterr().out
    pipeline = rnnlab.load(model_dir)
    sidecar = json.loads((tmp_path / "imdb.json").read_text(encoding="utf-8"))

    with open(reviews_csv, encoding="utf-8", newline="") as fh:
        reviews = [row["review"] for row in csv.DictReader(fh) if row["split"] == "test"][:300]
    texts = reviews + ["Great movie!", "", "awful, AWFUL acting.", "I loved it. " * 30]
    ids, lengths = sidecar_encode(sidecar, texts)
    want_ids, want_lengths = pipeline.encode(texts)
    np.testing.assert_array_equal(ids, want_ids.numpy())
    np.testing.assert_array_equal(lengths, want_lengths.numpy())
    assert lengths.min() == 1 and lengths.max() == 80 and len(set(lengths.tolist())) > 10

    onnx_session = session(tmp_path / "imdb.onnx")
    probabilities = run(onnx_session, ids, lengths)
    expected = pipeline.predict_proba(texts)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
    assert [sidecar["labels"][k] for k in probabilities.argmax(1)] == pipeline.predict(texts)
    assert expected[:, 1].std() > 1e-3  # the trained model tells the reviews apart

    # docs/export.md's worked example.
    example = "This movie wasn't GREAT; the plot was poked full of holes. TERRIBLE!"
    ids, lengths = sidecar_encode(sidecar, [example])
    assert ids.tolist() == [[0] * 67 + [1, 14, 20, 286, 87, 4, 114, 16, 2, 368, 7, 1512, 394]]
    assert lengths.tolist() == [13] and "poked" not in sidecar["vocabulary"]["ids"]
    assert pipeline.vocabulary.word_index["poked"] == 20007

    # A time axis other than the export's maxlen: the last 120 tokens of each review.
    x, n = pad_with_lengths(pipeline.vocabulary.encode(texts), 120, "pre", "pre")
    np.testing.assert_allclose(
        run(onnx_session, x, n), pipeline.predict_proba_encoded(x, n), rtol=0, atol=1e-5
    )
