"""The hybrid model kind: NBSVM's n-gram scores in torch, the blend chosen on validation, saving."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from joblib import Parallel
from sklearn.feature_extraction.text import TfidfTransformer

import rnnlab
from rnnlab.engine.inference import predict_logits
from rnnlab.errors import ConfigError
from rnnlab.experiments import hybrid_fit
from rnnlab.experiments.baselines import NBSVM, IdNgrams
from rnnlab.experiments.config import ExperimentConfig
from rnnlab.experiments.hybrid_fit import fit_hybrid, fit_nbsvm, row_tokens
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.models.hybrid import (
    ABSENT_CLASS_SCORE,
    HybridClassifier,
    NgramScorer,
    scorer_from_nbsvm,
    select_blend,
)
from rnnlab.pipeline import Pipeline


def _docs(rng, n, vocab, classes):
    """Documents whose class shows in which words (and word pairs) they hold."""
    y = rng.integers(0, classes, n)
    docs = []
    for label in y:
        length = int(rng.integers(1, 12))
        words = rng.integers(3, vocab, length)
        words[rng.random(length) < 0.4] = 3 + label  # the class's own word
        docs.append(words.tolist())
    return docs, y


def _padded(docs, maxlen, padding):
    x = np.zeros((len(docs), maxlen), np.int64)
    for i, d in enumerate(docs):
        d = d[:maxlen]
        if padding == "post":
            x[i, : len(d)] = d
        else:
            x[i, maxlen - len(d) :] = d
    return x


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("weighting", ["binary", "idf"])
def test_the_torch_scorer_gives_nbsvms_own_decision_values(classes, padding, order, weighting):
    rng = np.random.default_rng(classes)
    docs, y = _docs(rng, 300, 40, classes)
    test_docs, _ = _docs(rng, 80, 60, classes)  # ids 40-59 were never seen in training
    test_docs[0] = [5, 5, 5, 6, 5, 6]  # repeated uni-, bi- and trigrams count once
    test_docs[1] = [59]  # nothing known
    test_docs[2] = [5, 6]  # too short for a trigram
    ngrams = IdNgrams(order=order).fit(docs)
    assert max(len(name.split()) for name in ngrams.feature_names()) == order
    nbsvm = NBSVM(C=0.1, beta=0.5, weighting=weighting).fit(ngrams.transform(docs), y)
    scorer = scorer_from_nbsvm(ngrams, nbsvm, 0.5, classes)
    assert scorer.normalized == (weighting == "idf")
    expected = nbsvm.decision_function(ngrams.transform(test_docs), 0.5).reshape(80, -1)
    got = scorer(torch.as_tensor(_padded(test_docs, 15, padding))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.allclose(got[1], nbsvm.intercept_, atol=1e-6)


def test_idf_weighting_scores_scikit_learns_unit_length_idf_rows_scaled_by_the_ratios():
    rng = np.random.default_rng(7)
    docs, y = _docs(rng, 200, 30, 2)
    ngrams = IdNgrams().fit(docs)
    counts = ngrams.transform(docs)
    nbsvm = NBSVM(C=1.0, beta=1.0, weighting="idf").fit(counts, y)
    binary = (counts > 0).astype(np.float64)
    rows = TfidfTransformer().fit(binary).transform(binary)  # smoothed idf, l2, as documented
    expected = rows @ (nbsvm.ratios_ * nbsvm.weights_).T + nbsvm.intercept_
    np.testing.assert_allclose(nbsvm.decision_function(counts), expected[:, 0], rtol=1e-10)
    with pytest.raises(rnnlab.errors.InvalidValueError, match="weighting"):
        NBSVM(weighting="tfidf")


def test_a_saved_idf_weighted_hybrid_predicts_the_same_after_loading(tmp_path):
    rng = np.random.default_rng(8)
    docs, y = _docs(rng, 240, 50, 3)
    x = _padded(docs, 12, "post")
    lengths = np.array([min(len(d), 12) for d in docs])
    model, info = fit_hybrid(
        _trained_recurrent(50, 3),
        (x[:200], lengths[:200], y[:200]),
        (x[200:], lengths[200:], y[200:]),
        weightings=("idf",),
    )
    assert info["linear"]["weighting"] == "idf" and model.ngrams.normalized
    pipeline = Pipeline(
        model, ["a", "b", "c"], InputEncoder("ids", maxlen=12), architecture="HybridClassifier"
    )
    pipeline.save(tmp_path / "m")
    loaded = rnnlab.load(tmp_path / "m")
    assert loaded.module.ngrams.normalized
    np.testing.assert_array_equal(
        pipeline.predict_proba_encoded(x, lengths), loaded.predict_proba_encoded(x, lengths)
    )


def test_a_class_without_training_rows_scores_below_every_learned_margin():
    rng = np.random.default_rng(0)
    docs, y = _docs(rng, 200, 30, 3)  # classes 0-2 only, of 5
    ngrams = IdNgrams().fit(docs)
    nbsvm = NBSVM(C=0.1).fit(ngrams.transform(docs), y)
    scores = scorer_from_nbsvm(ngrams, nbsvm, 0.25, 5)(torch.as_tensor(_padded(docs, 12, "post")))
    assert scores.shape == (200, 5)
    assert torch.all(scores[:, 3:] == ABSENT_CLASS_SCORE)
    assert torch.all(scores[:, :3].max(1).values > ABSENT_CLASS_SCORE)


def test_the_blend_takes_the_share_validation_prefers_and_a_temperature_moves_no_prediction():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    truth = (2 * y - 1)[:, None].astype(float)
    good = truth * 2 + rng.normal(0, 1.0, (400, 1))
    noise = rng.normal(0, 1.0, (400, 1)) * 50  # another scale: the blend rescales both
    linear_only = select_blend(noise, good, y)
    assert linear_only["share"] == 1.0 and linear_only["recurrent_weight"] == 0.0
    deep_only = select_blend(good, noise, y)
    assert deep_only["share"] == 0.0 and deep_only["linear_weight"] == 0.0
    # Two views with independent noise: the mix beats either alone on these rows.
    a = truth + rng.normal(0, 1.2, (400, 1))
    b = truth + rng.normal(0, 1.2, (400, 1))
    mixed = select_blend(a, b, y)
    alone = max(float(((a[:, 0] > 0) == y).mean()), float(((b[:, 0] > 0) == y).mean()))
    assert 0 < mixed["share"] < 1 and mixed["accuracy"] > alone
    blended = mixed["recurrent_weight"] * a + mixed["linear_weight"] * b
    assert float(((blended[:, 0] > 0) == y).mean()) == mixed["accuracy"]


def test_a_tie_on_validation_goes_to_the_linear_part_not_to_a_mix():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 140)
    truth = (2 * y - 1)[:, None].astype(float)
    # Parts that agree on every row (one is the other, scaled): every share scores alike,
    # and the recurrent part, whose epoch these rows chose, earns no weight.
    views = truth + rng.normal(0, 1.0, (140, 1))
    tied = select_blend(views * 30, views, y)
    assert tied["share"] == 1.0 and tied["recurrent_weight"] == 0.0
    assert tied["accuracy"] == float(((views[:, 0] > 0) == y).mean())


def _trained_recurrent(vocab, classes, seed=0):
    torch.manual_seed(seed)
    return RecurrentClassifier(
        vocab_size=vocab, num_classes=classes, cell="gru", units=(8,), embedding_dim=8, mask=True
    ).eval()


def _hybrid(classes=3, padding="post"):
    rng = np.random.default_rng(2)
    docs, y = _docs(rng, 240, 50, classes)
    x = _padded(docs, 12, padding)
    lengths = np.array([min(len(d), 12) for d in docs])
    fit = (x[:200], lengths[:200], y[:200])
    val = (x[200:], lengths[200:], y[200:])
    model, info = fit_hybrid(_trained_recurrent(50, classes), fit, val, seed=0)
    return model, info, (x, lengths, y)


def test_fit_hybrid_blends_on_validation_and_is_no_worse_there_than_either_part():
    model, info, (x, lengths, y) = _hybrid()
    assert isinstance(model, HybridClassifier)
    # The grid holds both parts alone, so on validation the blend is at least as good.
    assert info["blend_validation_accuracy"] >= info["linear"]["validation_accuracy"] - 1e-12
    assert set(info["linear"]) == {
        "order",
        "weighting",
        "C",
        "beta",
        "validation_accuracy",
        "selection_accuracy",
        "selected_on",
        "features",
    }
    assert info["linear"]["order"] in (2, 3)
    assert info["linear"]["weighting"] in ("binary", "idf")
    with torch.no_grad():
        logits = model(torch.as_tensor(x), torch.as_tensor(lengths))
    assert logits.shape == (240, 3) and torch.isfinite(logits).all()
    # The n-gram part reads real ids only: batches are cut as the masked recurrent part cuts
    # them, and give the full-width logits.
    assert model.cuts_padding == model.recurrent.cuts_padding == "post"
    cut = predict_logits(model, (torch.as_tensor(x), torch.as_tensor(lengths)), batch_size=16)
    np.testing.assert_allclose(cut, logits.numpy(), rtol=0, atol=1e-5)


def test_the_linear_part_is_refitted_on_every_training_row_after_selection():
    model, info, (x, lengths, y) = _hybrid()
    docs = row_tokens(x[:240])
    chosen = info["linear"]
    ngrams = IdNgrams(order=chosen["order"]).fit(docs)
    nbsvm = NBSVM(C=chosen["C"], beta=chosen["beta"], weighting=chosen["weighting"])
    nbsvm.fit(ngrams.transform(docs), y)
    expected = nbsvm.decision_function(ngrams.transform(docs))
    with torch.no_grad():
        got = model.ngrams(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("classes, padding", [(2, "pre"), (3, "post")])
def test_a_saved_hybrid_loads_as_the_same_model_and_predicts_the_same(tmp_path, classes, padding):
    model, _, (x, lengths, _) = _hybrid(classes, padding)
    pipeline = Pipeline(
        model,
        [f"c{k}" for k in range(classes)],
        InputEncoder("ids", maxlen=12, padding=padding, truncating="pre"),
        architecture="HybridClassifier",
    )
    pipeline.save(tmp_path / "m")
    described = json.loads((tmp_path / "m" / "model.json").read_text())
    assert described["architecture"] == "HybridClassifier"
    loaded = rnnlab.load(tmp_path / "m")
    assert type(loaded.module) is HybridClassifier
    before = pipeline.predict_proba_encoded(x, lengths)
    after = loaded.predict_proba_encoded(x, lengths)
    np.testing.assert_array_equal(before, after)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.module.state_dict()[name]), name
    if classes == 2:
        return
    # A fresh process loads it with nothing imported first (the registry finds the module).
    code = (
        "import sys, rnnlab; p = rnnlab.load(sys.argv[1]); "
        "print(type(p.module).__name__, p.predict(['1 2 3'])[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "HybridClassifier"


def test_scorers_of_another_width_than_the_recurrent_part_are_refused():
    recurrent = _trained_recurrent(20, 3).config
    with pytest.raises(rnnlab.errors.InvalidValueError, match="same classes"):
        HybridClassifier(recurrent, {"num_ids": 20, "num_ngrams": 0, "num_outputs": 2})


def test_nbsvm_selection_breaks_accuracy_ties_by_margin_not_by_grid_order():
    rng = np.random.default_rng(3)
    docs, y = _docs(rng, 200, 30, 2)
    # Five validation rows that every C classifies alike: the tie goes to the surest.
    _, model, info = fit_nbsvm(
        docs[:195], y[:195], docs[195:], y[195:], seed=0, cross_validate_below=0
    )
    assert info["selected_on"] == "validation"
    assert info["validation_accuracy"] == 1.0
    assert info["C"] != 0.0003


def test_the_selection_grid_run_in_worker_processes_chooses_and_fits_as_in_one(monkeypatch):
    rng = np.random.default_rng(6)
    docs, y = _docs(rng, 300, 40, 3)
    serial = fit_nbsvm(docs[:240], y[:240], docs[240:], y[240:], seed=0, cross_validate_below=0)
    spawned = []
    monkeypatch.setattr(hybrid_fit, "PARALLEL_ABOVE", 0)  # these few rows run in processes too
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(
        hybrid_fit, "Parallel", lambda n_jobs: spawned.append(n_jobs) or Parallel(n_jobs=n_jobs)
    )
    parallel = fit_nbsvm(docs[:240], y[:240], docs[240:], y[240:], seed=0, cross_validate_below=0)
    assert spawned == [2]
    assert parallel[2] == serial[2]
    assert np.array_equal(parallel[1].weights_, serial[1].weights_)


def test_few_validation_rows_choose_the_ngram_part_by_cross_validation_over_every_row():
    rng = np.random.default_rng(4)
    docs, y = _docs(rng, 240, 30, 2)
    # The choice reads all 240 training rows, not which of them are validation: two
    # divisions of the same rows choose alike and score alike.
    chosen = []
    for cut in (200, 230):
        _, _, info = fit_nbsvm(docs[:cut], y[:cut], docs[cut:], y[cut:], seed=0)
        assert info["selected_on"] == "5-fold cross-validation over the training rows"
        chosen.append({k: info[k] for k in ("order", "C", "beta", "selection_accuracy")})
    assert chosen[0] == chosen[1]
    assert 0.5 < chosen[0]["selection_accuracy"] <= 1.0
    # On validation alone the two divisions see 40 and 10 rows, and choose on them.
    _, _, alone = fit_nbsvm(docs[:230], y[:230], docs[230:], y[230:], 0, cross_validate_below=10)
    assert alone["selected_on"] == "validation"


def test_cross_validation_needs_two_rows_of_a_second_class_per_fold_else_validation_decides():
    rng = np.random.default_rng(5)
    docs, y = _docs(rng, 60, 30, 2)
    y = np.r_[1, np.zeros(59, np.int64)]  # one row of class 1: folds would miss it
    _, _, info = fit_nbsvm(docs[:50], y[:50], docs[50:], y[50:], seed=0)
    assert info["selected_on"] == "validation"
    y = np.r_[1, 1, 1, np.zeros(57, np.int64)]  # three: three folds
    _, _, info = fit_nbsvm(docs[:50], y[:50], docs[50:], y[50:], seed=0)
    assert info["selected_on"] == "3-fold cross-validation over the training rows"


def test_a_hybrid_config_needs_a_validation_split():
    with pytest.raises(ConfigError, match="model_kind: hybrid.*validation_split"):
        ExperimentConfig.from_dict({"model_kind": "hybrid"})
    with pytest.raises(ConfigError, match="model_kind"):
        ExperimentConfig.from_dict({"model_kind": "wide"})
    cfg = ExperimentConfig.from_dict(
        {"model_kind": "hybrid", "train": {"validation_split": 0.1}, "linear": {"min_df": 1}}
    )
    assert cfg.linear.min_df == 1 and NgramScorer  # the section is read
