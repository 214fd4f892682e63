"""Embedding: Keras init, mask_zero, torch-style padding_idx, validation."""

import numpy as np
import pytest
import torch

from rnnlab.nn import LSTM, Embedding


def test_keras_uniform_init():
    torch.manual_seed(0)
    w = Embedding(20000, 128).weight.detach()
    assert w.abs().max() <= 0.05
    assert abs(w.std().item() - 0.05 / 3**0.5) < 1e-3  # U(-a, a) has std a / sqrt(3)


def test_lookup_and_mask():
    emb = Embedding(5, 2, embeddings_initializer=torch.nn.init.eye_, mask_zero=True)
    ids = torch.tensor([[1, 0], [0, 0]])
    torch.testing.assert_close(emb(ids), torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0]] * 2]))
    assert emb.compute_mask(ids).tolist() == [[True, False], [False, False]]
    assert Embedding(5, 2).compute_mask(ids) is None


def test_padding_idx_is_zero_and_frozen():
    emb = Embedding(6, 3, padding_idx=0)
    assert torch.equal(emb.weight[0].detach(), torch.zeros(3))
    emb(torch.tensor([[0, 1, 2]])).sum().backward()
    assert torch.equal(emb.weight.grad[0], torch.zeros(3))
    assert emb.weight.grad[1].abs().sum() > 0


def test_mask_zero_row_still_trains_like_keras():
    emb = Embedding(6, 3, mask_zero=True)
    assert emb.weight[0].abs().sum() > 0
    emb(torch.tensor([[0, 1]])).sum().backward()
    assert emb.weight.grad[0].abs().sum() > 0


def test_masked_lstm_ignores_padding_tokens():
    torch.manual_seed(0)
    emb = Embedding(50, 4, mask_zero=True)
    lstm = LSTM(3, input_size=4)
    a = torch.tensor([[0, 0, 7, 8, 9]])
    b = torch.tensor([[7, 8, 9]])
    torch.testing.assert_close(lstm(emb(a), mask=emb.compute_mask(a)), lstm(emb(b)))


def test_keras_weights_round_trip_and_errors():
    emb = Embedding(7, 2)
    table = np.arange(14, dtype=np.float32).reshape(7, 2)
    emb.set_keras_weights([table])
    assert np.array_equal(emb.get_keras_weights()[0], table)
    with pytest.raises(ValueError, match=r"weight 0 \(embeddings\) must have shape \(7, 2\)"):
        emb.set_keras_weights([table.T])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Embedding(0, 3), ValueError, "`input_dim` must be a positive integer, got 0"),
        (lambda: Embedding(10, "3"), TypeError, "`output_dim` must be an integer >= 1"),
        (lambda: Embedding(10, 3, padding_idx=10), ValueError, "`padding_idx` must be < input_dim"),
        (
            lambda: Embedding(10, 3, embeddings_initializer="uniformm"),
            ValueError,
            "did you mean `uniform`?",
        ),
        (lambda: Embedding(10, 3, mask_zero=1), TypeError, "`mask_zero` must be bool"),
    ],
)
def test_constructor_errors(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


def test_id_errors():
    emb = Embedding(10, 3)
    with pytest.raises(
        ValueError, match=r"`ids` must be in \[0, 9\] \(input_dim=10\), got values from 0 to 10"
    ):
        emb(torch.tensor([[0, 10]]))
    with pytest.raises(TypeError, match="`ids` must be integer token ids, got dtype torch.float32"):
        emb(torch.tensor([[1.0]]))
