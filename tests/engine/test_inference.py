"""The one inference path: masked models run length-sorted batches cut to their longest row."""

import numpy as np
import pytest
import torch

from rnnlab.engine.inference import predict_logits
from rnnlab.models import RecurrentClassifier


def _inputs(padding, n=300, width=120, seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.lognormal(3.0, 0.9, n).astype(np.int64), width)
    lengths[:3] = [0, 1, width]  # an empty row, a one-token row, a full one
    ids = np.zeros((n, width), np.int64)
    for row, k in enumerate(lengths):
        tokens = rng.integers(1, 50, k)
        if padding == "post":
            ids[row, :k] = tokens
        elif k:
            ids[row, width - k :] = tokens
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def _model(mask, padding):
    torch.manual_seed(0)
    return RecurrentClassifier(
        vocab_size=50, num_classes=3, padding=padding, input="embedding", embedding_dim=8,
        cell="gru", units=[6], mask=mask, bidirectional=True, pooling="max",
    )  # fmt: skip


class _FullWidth(torch.nn.Module):
    """The same module without `cuts_padding`: every batch at the inputs' full width."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *inputs):
        return self.module(*inputs)


def _widths_seen(model, inputs):
    widths = []
    hook = model.register_forward_pre_hook(lambda _, args: widths.append(args[0].shape[1]))
    try:
        logits = predict_logits(model, inputs, batch_size=32)
    finally:
        hook.remove()
    return logits, widths


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_a_masked_model_predicts_on_cut_batches_with_the_full_width_outputs(padding):
    inputs = _inputs(padding)
    model = _model(mask=True, padding=padding)
    assert model.cuts_padding == padding
    logits, widths = _widths_seen(model, inputs)
    lengths = inputs[1].numpy()
    # Sorted by length, so the batches grow; each is its longest row, far under 120 on average.
    assert widths == sorted(widths) and widths[-1] == 120
    ordered = np.sort(lengths)
    expected = [max(1, int(ordered[lo : lo + 32].max())) for lo in range(0, len(ordered), 32)]
    assert widths == expected
    assert np.mean(widths) < 0.5 * 120
    full = predict_logits(_FullWidth(model), inputs, batch_size=32)
    np.testing.assert_allclose(logits, full, rtol=0, atol=1e-5)
    # Still a canonical order: the same rows shuffled give the same logits, bit for bit.
    perm = np.random.default_rng(1).permutation(len(lengths))
    shuffled = predict_logits(model, tuple(t[perm] for t in inputs), batch_size=32)
    assert np.array_equal(shuffled, logits[perm])


def test_an_unmasked_model_reads_every_batch_at_full_width():
    inputs = _inputs("pre")
    model = _model(mask=False, padding="pre")
    assert model.cuts_padding is None
    _, widths = _widths_seen(model, inputs)
    assert set(widths) == {120}
