"""RecurrentClassifier: shapes, Keras Dense init, masking and pooling over real steps only."""

import pytest
import torch

from rnnlab.models import RecurrentClassifier


def _model(**kw):
    torch.manual_seed(0)
    base = dict(vocab_size=50, num_classes=3, embedding_dim=4, units=(5,), mask=True)
    return RecurrentClassifier(**{**base, **kw}).eval()


@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padding_does_not_leak_into_the_output(pooling, padding):
    model = _model(pooling=pooling, padding=padding, cell="gru")
    ids = torch.randint(1, 50, (3, 7))
    lengths = torch.tensor([7, 3, 0])
    pad = (
        torch.arange(7) >= lengths[:, None]
        if padding == "post"
        else torch.arange(7) < (7 - lengths)[:, None]
    )
    a = model(ids.masked_fill(pad, 0), lengths)
    b = model(ids.masked_fill(pad, 9), lengths)  # different junk in the padded steps
    torch.testing.assert_close(a, b)


def test_max_and_mean_pool_the_last_layer_outputs():
    model = _model(pooling="max")
    ids = torch.randint(1, 50, (2, 6))
    lengths = torch.tensor([6, 2])
    seq = model.recurrent[0](model.embedding(ids), lengths=lengths)  # (2, 6, 5)
    out = model(ids, lengths)
    expected = torch.stack([seq[0].amax(0), seq[1, :2].amax(0)])
    torch.testing.assert_close(out, model.head(expected))
    model.pooling = "mean"
    torch.testing.assert_close(
        model(ids, lengths), model.head(torch.stack([seq[0].mean(0), seq[1, :2].mean(0)]))
    )


def test_binary_has_one_logit_and_keras_dense_init():
    model = _model(num_classes=2)
    assert model.head.out_features == 1 and torch.all(model.head.bias == 0)
    limit = (6 / (5 + 1)) ** 0.5  # glorot_uniform
    assert model.head.weight.abs().max() <= limit


@pytest.mark.parametrize(
    "kw, text",
    [
        ({"pooling": "sum"}, "`pooling` must be one of"),
        ({"units": ()}, "at least one layer"),
        ({"num_classes": 1}, "`num_classes` must be an integer >= 2"),
    ],
)
def test_bad_arguments(kw, text):
    with pytest.raises(ValueError, match=text):
        _model(**kw)
