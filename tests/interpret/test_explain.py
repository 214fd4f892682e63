"""`rnnlab.explain`: integrated gradients that add up, occlusion that is what it says, tokens in place.

The models are real, if small: a TextClassifier trained on a toy sentiment set
(where the evidence words are known) and a raw-input SequenceClassifier of the
Reuters kind (ids fed as numbers, no embedding).

Completeness tolerance: at 64 Gauss-Legendre nodes the rule's own error on
these smooth (tanh / sigmoid) integrands is far below float32 rounding, so
what is left is the float32 forward and backward passes: ~1e-7 of the logit
measured, pinned at 1e-4 relative (with a floor of 1e-4 absolute). The
trapezoid rule's error (O(1/steps^2), ~2e-4 at 64 steps here) shows the check
is sharp enough to see a cruder rule.
"""

import json

import numpy as np
import pytest

from rnnlab.errors import InvalidValueError
from rnnlab.interpret import explain
from tests.interpret.conftest import NEG, POS, TEXTS


@pytest.mark.parametrize("text", TEXTS)
def test_integrated_gradients_add_up_to_the_change_in_logit(sentiment, text):
    result = explain(sentiment, text)
    c = result["completeness"]
    assert result["method"] == "integrated_gradients" and result["space"] == "logit"
    assert c["sum"] == pytest.approx(sum(t["attribution"] for t in result["tokens"]))
    assert c["difference"] == pytest.approx(result["score"] - c["baseline_score"])
    assert abs(c["difference"]) > 0.3  # the words matter: the check is not 0 = 0
    assert abs(c["error"]) <= 1e-4 * max(1.0, abs(c["difference"]))


def test_the_trapezoid_rule_errs_visibly_and_converges_quadratically(sentiment):
    text = TEXTS[0]
    errors = {
        n: abs(explain(sentiment, text, steps=n, rule="trapezoid")["completeness"]["error"])
        for n in (4, 16, 64)
    }
    assert errors[4] > 1e-3
    assert 8 < errors[16] / errors[64] < 32  # O(1 / steps^2): 16x for 4x the steps
    gauss = abs(explain(sentiment, text, steps=16)["completeness"]["error"])
    assert gauss < errors[64] / 10


def test_the_evidence_words_carry_the_prediction(sentiment):
    result = explain(sentiment, TEXTS[0])
    assert result["label"] == result["target"] == "pos"
    top = max(result["tokens"], key=lambda t: t["attribution"])
    assert top["token"] in POS
    negative = explain(sentiment, TEXTS[1])
    assert negative["label"] == "neg"
    assert max(negative["tokens"], key=lambda t: t["attribution"])["token"] in NEG


def test_explaining_the_other_class_of_a_one_logit_model_flips_every_sign(sentiment):
    pos = explain(sentiment, TEXTS[2], target="pos")
    neg = explain(sentiment, TEXTS[2], target="neg")
    a = np.array([t["attribution"] for t in pos["tokens"]])
    b = np.array([t["attribution"] for t in neg["tokens"]])
    np.testing.assert_allclose(a, -b, rtol=1e-6, atol=1e-9)
    assert neg["score"] == pytest.approx(-pos["score"])
    assert explain(sentiment, TEXTS[2], target=0)["target"] == "neg"


def test_tokens_are_the_tokenizers_words_placed_where_the_model_reads_them(sentiment):
    maxlen = sentiment.inputs.maxlen
    words = [f"w{i}" for i in range(maxlen + 3)]  # unknown words: the oov id
    words[-1] = "great"
    result = explain(sentiment, " ".join(words).upper())
    tokens = result["tokens"]
    assert [t["token"] for t in tokens] == [w.lower() for w in words]
    # Truncating 'pre' keeps the last maxlen ids; the start token is cut first.
    assert [t["position"] for t in tokens[:3]] == [None] * 3
    assert [t["position"] for t in tokens[3:]] == list(range(maxlen))
    assert all(t["attribution"] is None for t in tokens[:3])
    vocab = sentiment.vocabulary
    assert tokens[-1]["id"] == vocab.token_id("great") and tokens[0]["id"] == vocab.oov_id
    short = explain(sentiment, "lovely film")["tokens"]
    # Pre padding: the start token at maxlen - 3, then the two words.
    assert [t["position"] for t in short] == [maxlen - 2, maxlen - 1]


def test_the_result_is_json_and_explain_prints_and_writes_nothing(
    sentiment, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = explain(sentiment, TEXTS[0])
    assert json.loads(json.dumps(result)) == result
    assert capsys.readouterr() == ("", "")
    assert list(tmp_path.iterdir()) == []
    assert set(result) >= {"label", "probabilities", "target", "tokens", "completeness"}
    assert sum(result["probabilities"].values()) == pytest.approx(1)


def test_agrees_with_captum(sentiment):
    captum = pytest.importorskip("captum.attr")
    import torch

    module = sentiment.module
    result = explain(sentiment, TEXTS[0], steps=64)
    ids, lengths = sentiment.encode([TEXTS[0]])
    positions = [t["position"] for t in result["tokens"]]
    e = module.embedding(ids).detach()
    b = e.clone()
    b[0, positions] = 0
    replacement = {}
    handle = module.embedding.register_forward_hook(lambda m, i, out: replacement["z"])

    def forward(z, ids, lengths):
        replacement["z"] = z
        return module(ids, lengths)[:, 0]

    try:
        ig = captum.IntegratedGradients(forward)
        theirs = ig.attribute(
            e,
            baselines=b,
            additional_forward_args=(ids, lengths),
            n_steps=64,
            method="gausslegendre",
        )
    finally:
        handle.remove()
    theirs = theirs.sum(-1)[0, positions].double().numpy()
    mine = np.array([t["attribution"] for t in result["tokens"]])
    np.testing.assert_allclose(mine, theirs, atol=1e-5)
    assert torch.is_tensor(e) and np.abs(mine).max() > 0.1


def test_occlusion_on_a_raw_input_model_is_the_logit_drop_without_each_token(raw_ids):
    text = "3 40 7 2"
    result = explain(raw_ids, text)
    assert result["method"] == "occlusion" and result["occlusion"] == "drop"
    assert result["label"] == "1"
    ids = [3, 40, 7, 2]

    def logit(seq):
        p = raw_ids.predict_proba([seq])[0, 1]
        return float(np.log(p) - np.log1p(-p))

    assert result["score"] == pytest.approx(logit(ids), abs=1e-5)
    for j, token in enumerate(result["tokens"]):
        dropped = ids[:j] + ids[j + 1 :]
        assert token["token"] == str(ids[j])
        assert token["attribution"] == pytest.approx(logit(ids) - logit(dropped), abs=1e-4)
    top = max(result["tokens"], key=lambda t: t["attribution"])
    assert top["token"] == "40" and top["attribution"] > 1
    padded = explain(raw_ids, text, occlusion_mode="pad")
    replaced = logit(ids) - logit([3, 0, 7, 2])
    assert padded["tokens"][1]["attribution"] == pytest.approx(replaced, abs=1e-4)


def test_what_cannot_be_explained_says_why(raw_ids, sentiment):
    with pytest.raises(
        InvalidValueError,
        match=r"integrated gradients need .* an embedding layer .* reads ids as numbers",
    ):
        explain(raw_ids, "3 40", method="integrated_gradients")
    with pytest.raises(
        InvalidValueError,
        match="`target` 'Pos' is not a class of this model "
        r"\(did you mean `pos`\?\); classes: neg, pos",
    ):
        explain(sentiment, "great", target="Pos")
    with pytest.raises(InvalidValueError, match="needs a vocabulary with an oov id"):
        explain(raw_ids, "3 40", occlusion_mode="oov")
    occluded = explain(sentiment, "great film", method="occlusion", occlusion_mode="oov")
    assert occluded["tokens"][0]["attribution"] > 0


def test_predictions_in_another_thread_are_untouched_while_explaining(sentiment):
    import threading

    expected = sentiment.predict_proba(TEXTS)
    done, seen = threading.Event(), []

    def predict():
        while not done.is_set():
            seen.append(np.abs(sentiment.predict_proba(TEXTS) - expected).max())

    worker = threading.Thread(target=predict)
    worker.start()
    try:
        for _ in range(5):
            explain(sentiment, TEXTS[0], steps=256)
    finally:
        done.set()
        worker.join()
    assert len(seen) > 5 and max(seen) == 0.0
