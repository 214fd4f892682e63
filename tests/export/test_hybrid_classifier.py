"""The hybrid kind's ONNX graph: recurrent logits blended with distinct uni+bigram scores.

Hybrids are fitted with `fit_hybrid` on tiny synthetic documents (a second each); the
graph must give rnnlab's probabilities within 1e-5 and its labels on rows that mix
lengths, repeat words and word pairs, and hold ids the n-gram part never saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab.cli import main
from rnnlab.experiments import train_one
from rnnlab.experiments.hybrid_fit import fit_hybrid
from rnnlab.export import export_onnx
from rnnlab.export.hybrid_classifier import add_ngram_scores
from rnnlab.export.onnx_graph import GraphBuilder
from rnnlab.export.runtime import TOLERANCE, run, session
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.models.hybrid import NgramScorer
from rnnlab.models.ngram_keys import ngram_offsets
from rnnlab.pipeline import Pipeline

SEEN = 40  # the training documents use ids 3..39; the embedding has 60 rows
VOCAB = 60
MAXLEN = 12


def _pad(docs, time, padding):
    x = np.zeros((len(docs), time), np.int64)
    for i, d in enumerate(docs):
        d = d[-time:]
        if padding == "post":
            x[i, : len(d)] = d
        else:
            x[i, time - len(d) :] = d
    return x, np.array([min(len(d), time) for d in docs], np.int64)


def _hybrid(
    classes: int, padding: str, pooling: str = "last", order: int = 2, weighting: str = "binary"
) -> Pipeline:
    """A recurrent part (random weights) and an NBSVM fitted on documents whose class shows
    in which words they hold, blended on validation as `rnnlab train` does."""
    rng = np.random.default_rng(classes)
    y = rng.integers(0, classes, 240)
    docs = []
    for label in y:
        words = rng.integers(3, SEEN, int(rng.integers(1, MAXLEN + 1)))
        words[rng.random(len(words)) < 0.4] = 3 + label
        docs.append(words.tolist())
    x, lengths = _pad(docs, MAXLEN, padding)
    torch.manual_seed(classes)
    recurrent = RecurrentClassifier(
        vocab_size=VOCAB,
        num_classes=classes,
        cell="gru",
        units=(6,),
        embedding_dim=5,
        mask=True,
        padding=padding,
        pooling=pooling,
    ).eval()
    model, info = fit_hybrid(
        recurrent,
        (x[:200], lengths[:200], y[:200]),
        (x[200:], lengths[200:], y[200:]),
        orders=(order,),
        weightings=(weighting,),
    )
    assert info["linear"]["order"] == model.ngrams.order == order
    assert model.ngrams.normalized == (weighting == "idf")
    # Both parts must move the probabilities, whatever blend validation chose for these
    # random recurrent weights (whose logits are small).
    model.recurrent_weight = 3.0
    model.linear_weight = model.linear_weight or 0.6
    encoder = InputEncoder("ids", maxlen=MAXLEN, padding=padding, truncating="pre")
    return Pipeline(model.eval(), [f"c{k}" for k in range(classes)], encoder, "HybridClassifier")


def _rows(padding: str, time: int):
    """Rows of lengths 1 to ``time`` with repeated uni+bigrams and ids the n-grams never saw."""
    rng = np.random.default_rng(7)
    docs = [
        [3],  # length 1
        rng.integers(3, SEEN, time).tolist(),  # the maximum
        [5, 6, 5, 6, 5, 6, 5, 5],  # "5 6" three times, "6 5" twice, "5 5" once
        [4, 4, 4, 4],
        [SEEN + 3, 5, SEEN + 7, SEEN + 3],  # unseen ids: no unigram, no bigram with them
        [VOCAB - 1],
        *(rng.integers(3, VOCAB, int(n)).tolist() for n in rng.integers(1, time + 1, 10)),
        *(rng.integers(3, 9, int(n)).tolist() for n in rng.integers(min(2, time), time + 1, 6)),
    ]
    return _pad([d[:time] for d in docs], time, padding)


def _probabilities(pipeline: Pipeline, ids, lengths):
    graph = session(export_graph(pipeline), threads=1)
    return run(graph, ids, lengths), pipeline.predict_proba_encoded(ids, lengths)


def export_graph(pipeline: Pipeline, opset: int = 17) -> bytes:
    import onnx

    from rnnlab.export.registry import exporter_for

    graph = exporter_for(pipeline)(pipeline, opset)
    onnx.checker.check_model(graph, full_check=True)
    return graph.SerializeToString()


@pytest.mark.parametrize(
    "classes, padding, pooling, order",
    [
        (2, "pre", "last", 2),
        (2, "post", "max", 2),
        (4, "pre", "mean", 2),
        (4, "post", "last", 2),
        (2, "pre", "last", 3),
        (4, "post", "max", 3),
    ],
)
def test_probabilities_and_labels_match_rnnlab(classes, padding, pooling, order):
    pipeline = _hybrid(classes, padding, pooling, order)
    graph = session(export_graph(pipeline), threads=1)
    for time in (MAXLEN, 5, 1):  # the export's maxlen, a shorter axis, a single step
        ids, lengths = _rows(padding, time)
        assert lengths.min() == 1 and lengths.max() == time
        theirs = run(graph, ids, lengths)
        ours = pipeline.predict_proba_encoded(ids, lengths)
        assert theirs.shape == (len(ids), classes)
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(theirs.argmax(1), ours.argmax(1))
    # Both parts count: the graph's probabilities are far from either part's alone.
    ids, lengths = _rows(padding, MAXLEN)
    theirs = run(graph, ids, lengths)
    module = pipeline.module
    weights = module.recurrent_weight, module.linear_weight
    for alone in ((weights[0], 0.0), (0.0, weights[1])):
        module.recurrent_weight, module.linear_weight = alone
        assert np.abs(pipeline.predict_proba_encoded(ids, lengths) - theirs).max() > 1e-3
    module.recurrent_weight, module.linear_weight = weights


@pytest.mark.parametrize("order, weighting", [(2, "binary"), (3, "binary"), (3, "idf")])
def test_the_ngram_scores_equal_the_torch_scorers_on_odd_ids(order, weighting):
    """Padding, negative ids and ids >= num_ids add nothing; each distinct n-gram adds once."""
    pipeline = _hybrid(3, "post", order=order, weighting=weighting)
    scorer = pipeline.module.ngrams
    assert scorer.ngram_keys.numel() > 10
    assert (scorer.ngram_keys >= ngram_offsets(scorer.num_ids, 3)[-1]).any() == (order == 3)
    g = GraphBuilder(17)
    ids = g.input("ids", np.int64, ["batch", "time"])
    g.output(add_ngram_scores(g, scorer, ids), "scores", np.float32, ["batch", 3])
    graph = session(g.model("ngrams").SerializeToString(), threads=1)
    x = np.array(
        [
            [5, 6, 5, 6, 0, 5, 6],  # "6 0" and "0 5" are no bigrams
            [-4, 5, -4, 5, 6, SEEN, 6],
            [SEEN + 2, SEEN + 2, 7, 7, 7, 0, 0],
            [0, 0, 0, 0, 0, 0, 0],
            [3, 4, 5, 6, 7, 8, 9],
        ],
        np.int64,
    )
    for rows in (x, x[:, :1], x[:, :2], x[:, :3]):
        want = scorer(torch.as_tensor(rows)).numpy()
        got = graph.run(None, {"ids": rows})[0]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got[3], scorer.bias.numpy(), atol=1e-7)  # nothing counted


def test_an_idf_weighted_hybrid_gives_rnnlabs_probabilities():
    pipeline = _hybrid(4, "pre", "max", order=3, weighting="idf")
    for time in (MAXLEN, 1):
        ids, lengths = _rows("pre", time)
        theirs, ours = _probabilities(pipeline, ids, lengths)
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(theirs.argmax(1), ours.argmax(1))


def test_a_scorer_without_bigrams_and_a_blend_without_the_linear_part():
    scorer = NgramScorer(num_ids=10, num_ngrams=0, num_outputs=2)
    with torch.no_grad():
        scorer.unigram_weights.uniform_(-1, 1)
        scorer.bias.uniform_(-1, 1)
    g = GraphBuilder(18)
    ids = g.input("ids", np.int64, ["batch", "time"])
    g.output(add_ngram_scores(g, scorer, ids), "scores", np.float32, ["batch", 2])
    model = g.model("ngrams")
    assert "LabelEncoder" not in {n.op_type for n in model.graph.node}
    rows = np.array([[1, 2, 2, 12, 0], [9, 9, 9, 9, 9]], np.int64)
    got = session(model.SerializeToString(), threads=1).run(None, {"ids": rows})[0]
    np.testing.assert_allclose(got, scorer(torch.as_tensor(rows)).numpy(), atol=1e-6)

    pipeline = _hybrid(2, "post")
    pipeline.module.linear_weight = 0.0  # the module skips its n-gram part: so does the graph
    graph = export_graph(pipeline)
    assert b"LabelEncoder" not in graph
    ids, lengths = _rows("post", MAXLEN)
    theirs, ours = _probabilities(pipeline, ids, lengths)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=TOLERANCE)


def test_export_onnx_writes_the_graph_and_its_sidecar(tmp_path):
    import onnx

    pipeline = _hybrid(4, "pre")
    pipeline.save(tmp_path / "model")
    result = export_onnx(tmp_path / "model", tmp_path / "hybrid.onnx", opset=18)
    assert result.max_abs_diff is not None and result.max_abs_diff <= TOLERANCE
    model = onnx.load(tmp_path / "hybrid.onnx")
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 18), ("ai.onnx.ml", 3)}
    sidecar = json.loads((tmp_path / "hybrid.json").read_text(encoding="utf-8"))
    assert sidecar["model"]["architecture"] == "HybridClassifier"
    assert sidecar["labels"] == ["c0", "c1", "c2", "c3"]
    assert sidecar["encoding"]["padding"] == "pre" and sidecar["encoding"]["maxlen"] == MAXLEN
    assert [i["name"] for i in sidecar["inputs"]] == ["ids", "lengths"]


def test_a_trained_reuters_hybrid_exports_through_the_cli(tmp_path, capsys, sidecar_encode):
    if not (Path(os.environ.get("RNNLAB_DATA", "")) / "reuters.npz").is_file():
        pytest.skip("the Reuters arrays are not here (set RNNLAB_DATA)")
    train_one("reuters/hybrid", quick=True, out_dir=tmp_path / "run", verbose=0)
    model_dir = tmp_path / "run" / "model"
    assert main(["export", str(model_dir), str(tmp_path / "reuters.onnx")]) == 0
    assert "matches rnnlab on the probe batches" in capsys.readouterr().out
    pipeline = rnnlab.load(model_dir)
    assert pipeline.architecture == "HybridClassifier"
    sidecar = json.loads((tmp_path / "reuters.json").read_text(encoding="utf-8"))

    # Texts of the vocabulary's words: frequent ones (repeated uni+bigrams), rare ones the
    # n-gram part never saw, words it does not know, 1 word to more than maxlen.
    words = list(sidecar["vocabulary"]["ids"])
    num_ids = pipeline.module.ngrams.num_ids
    rare = [w for w in words if sidecar["vocabulary"]["ids"][w] >= num_ids][:20]
    assert rare
    rng = np.random.default_rng(0)
    texts = ["oil", " ".join(["oil prices rose"] * 30), "zzqx qqzx " + " ".join(rare)]
    texts += [" ".join(rng.choice(words[:300], n)) for n in rng.integers(1, 70, 40)]
    ids, lengths = sidecar_encode(sidecar, texts)
    want_ids, want_lengths = pipeline.encode(texts)
    np.testing.assert_array_equal(ids, want_ids.numpy())
    np.testing.assert_array_equal(lengths, want_lengths.numpy())
    # The start id and one word is the shortest row this model reads.
    assert lengths.min() == 2 and lengths.max() == sidecar["encoding"]["maxlen"]
    probabilities = run(session(tmp_path / "reuters.onnx"), ids, lengths)
    expected = pipeline.predict_proba(texts)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=TOLERANCE)
    assert [sidecar["labels"][k] for k in probabilities.argmax(1)] == pipeline.predict(texts)
