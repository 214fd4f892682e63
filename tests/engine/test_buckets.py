"""Length-bucketed batches: fewer recurrent steps per epoch, the same outputs when masked."""

import numpy as np
import pytest
import torch

from rnnlab.engine import Trainer
from rnnlab.engine.buckets import WINDOW_BATCHES, BucketedData, bucketed_order, cut_to_longest
from rnnlab.models import RecurrentClassifier


def _padded(lengths, width, padding, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), width), np.int64)
    for row, n in enumerate(lengths):
        tokens = rng.integers(1, 50, n)
        if n:
            if padding == "post":
                ids[row, :n] = tokens
            else:
                ids[row, width - n :] = tokens
    return torch.from_numpy(ids), torch.as_tensor(lengths, dtype=torch.int64)


def test_a_bucketed_epoch_is_a_permutation_whose_batches_cost_far_fewer_steps():
    rng = np.random.default_rng(0)
    lengths = np.minimum(rng.lognormal(5.4, 0.7, 4000).astype(int) + 1, 800)
    size = 64
    order = bucketed_order(lengths, torch.Generator().manual_seed(1), size).numpy()
    assert sorted(order.tolist()) == list(range(len(lengths)))
    random = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(1)).numpy()

    def steps(o):  # what a recurrent layer runs: each batch's longest row
        return sum(int(lengths[o[i : i + size]].max()) for i in range(0, len(o), size))

    assert steps(order) < 0.6 * steps(random)
    # Random where it costs nothing: another seed gives another order, and batches from
    # different windows come in a shuffled order, not sorted by length.
    other = bucketed_order(lengths, torch.Generator().manual_seed(2), size).numpy()
    assert not np.array_equal(order, other)
    longest = [int(lengths[order[i : i + size]].max()) for i in range(0, len(order), size)]
    assert longest != sorted(longest)
    window = order[: size * WINDOW_BATCHES]
    assert len(set(window.tolist())) == size * WINDOW_BATCHES
    # An unshuffled pass (no generator) keeps the rows' own order.
    assert bucketed_order(lengths, None, size).tolist() == list(range(len(lengths)))


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_a_batch_is_cut_to_its_longest_row_on_the_padding_side(padding):
    ids, lengths = _padded([3, 7, 0, 5], 10, padding)
    data = BucketedData(ids, lengths, torch.tensor([0, 1, 0, 1]), padding)
    (cut, lens), y = data.take(torch.tensor([0, 3, 2]))
    assert cut.shape == (3, 5) and lens.tolist() == [3, 5, 0] and y.tolist() == [0, 1, 0]
    full = ids[[0, 3, 2]]
    kept = full[:, :5] if padding == "post" else full[:, 5:]
    assert torch.equal(cut, kept)
    assert int((full != 0).sum()) == int((cut != 0).sum())  # no real token is lost
    (empty, _), _ = data.take(torch.tensor([2]))
    assert empty.shape == (1, 1)  # a batch of empty rows keeps one step
    # Lengths that understate the tokens cut zeros only: every id stays.
    short = cut_to_longest(ids, torch.tensor([1, 2, 0, 1]), padding)
    assert short.shape == (4, 7) and int((short != 0).sum()) == int((ids != 0).sum())


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("cell, pooling", [("gru", "max"), ("lstm", "last"), ("gru", "mean")])
def test_a_masked_model_gives_the_same_outputs_on_the_cut_batch(padding, cell, pooling):
    torch.manual_seed(0)
    model = RecurrentClassifier(
        vocab_size=50,
        num_classes=3,
        cell=cell,
        units=[6],
        embedding_dim=4,
        bidirectional=True,
        mask=True,
        padding=padding,
        pooling=pooling,
    ).eval()
    ids, lengths = _padded([2, 9, 4, 6], 12, padding)
    data = BucketedData(ids, lengths, None, padding)
    (cut, lens), _ = data.take(torch.arange(4))
    assert cut.shape[1] == 9
    with torch.no_grad():
        torch.testing.assert_close(model(cut, lens), model(ids, lengths))


def test_training_on_bucketed_batches_is_seeded_and_holds_out_keras_last_fraction():
    ids, lengths = _padded(list(np.random.default_rng(3).integers(1, 30, 200)), 30, "post")
    y = torch.from_numpy(np.random.default_rng(4).integers(0, 2, 200))

    def fit(seed):
        torch.manual_seed(0)
        model = RecurrentClassifier(
            vocab_size=50, num_classes=2, cell="gru", units=[4], embedding_dim=3, mask=True
        )
        trainer = Trainer(model, loss="binary_crossentropy", metrics=["accuracy"], seed=seed)
        data = BucketedData(ids, lengths, y, "post")
        history = trainer.fit(data, epochs=2, batch_size=16, validation_split=0.25)
        return history.history

    first, again, other = fit(0), fit(0), fit(1)
    assert first == again and first["loss"] != other["loss"]
    assert len(first["val_loss"]) == 2  # the last 50 rows validated, as with arrays
