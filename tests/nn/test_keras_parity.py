"""Parity with Keras 3 itself (torch backend): outputs, final states, input and weight
gradients, for every layer type, direction, return setting and masking pattern.

Both sides are torch autograd graphs, so the same loss is backpropagated through
the Keras layer and the rnnlab layer. Weights go Keras -> rnnlab through
`set_keras_weights`. float64 on both sides; tolerance 1e-5 (the differences
are ~1e-15 in practice).
"""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

from rnnlab import nn as rnn

# Keras's numpy conversions warn under numpy 2; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOL = {"atol": 1e-5, "rtol": 1e-5}
B, T, IN, UNITS = 4, 6, 3, 5

KINDS = {
    "simple_rnn": (keras.layers.SimpleRNN, rnn.SimpleRNN, {}),
    "lstm": (keras.layers.LSTM, rnn.LSTM, {}),
    "gru": (keras.layers.GRU, rnn.GRU, {}),
    "gru_reset_before": (keras.layers.GRU, rnn.GRU, {"reset_after": False}),
}
LENGTHS = [T, 3, 1, 0]  # a zero-length row included


def masking(case):
    """(keras mask, rnnlab forward kwargs) for a masking case."""
    if case == "none":
        return None, {}
    lengths = torch.tensor(LENGTHS)
    pos = torch.arange(T)
    if case == "post_lengths":
        return pos < lengths[:, None], {"lengths": lengths}
    if case == "pre_lengths":
        return pos >= T - lengths[:, None], {"lengths": lengths, "padding": "pre"}
    if case == "post_mask":
        m = pos < lengths[:, None]
        return m, {"mask": m}
    if case == "holes":
        m = torch.tensor(
            [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]],
            dtype=torch.bool,
        )
        return m, {"mask": m}
    raise AssertionError(case)


def make_pair(kind, seed=0, **kwargs):
    kcls, rcls, extra = KINDS[kind]
    kwargs = {**extra, **kwargs}
    path = kwargs.pop("implementation", "auto")
    klayer = kcls(UNITS, dtype="float64", **kwargs)
    klayer.build((None, T, IN))
    rng = np.random.default_rng(seed)
    klayer.set_weights([rng.normal(0, 0.5, w.shape) for w in klayer.get_weights()])
    rlayer = rcls(units=UNITS, input_size=IN, implementation=path, **kwargs).double().eval()
    rlayer.set_keras_weights(klayer.get_weights())
    for a, b in zip(rlayer.get_keras_weights(), klayer.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    return klayer, rlayer


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def run_both(klayer, rlayer, kmask, rkwargs, initial_state=None, seed=1):
    rng = np.random.default_rng(seed)
    x_np = rng.normal(size=(B, T, IN))
    xk = torch.tensor(x_np, requires_grad=True)
    xr = torch.tensor(x_np, requires_grad=True)
    kw = {} if initial_state is None else {"initial_state": [s.clone() for s in initial_state]}
    yk = as_list(klayer(xk, mask=kmask, **kw))
    yr = as_list(rlayer(xr, initial_state=initial_state, **rkwargs))
    assert len(yk) == len(yr)
    for a, b in zip(yk, yr):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, **TOL)
    weights = [torch.tensor(rng.normal(size=tuple(y.shape))) for y in yk]
    sum((y * w).sum() for y, w in zip(yk, weights)).backward()
    sum((y * w).sum() for y, w in zip(yr, weights)).backward()
    torch.testing.assert_close(xr.grad, xk.grad, **TOL)
    kgrads = [v.value.grad for v in klayer.trainable_weights]
    rgrads = [p.grad for p in rlayer.parameters()]
    assert len(kgrads) == len(rgrads)
    assert all(g is not None for g in kgrads + rgrads)
    for gk, gr in zip(kgrads, rgrads):
        torch.testing.assert_close(gr, gk, **TOL)
    return yr


@pytest.mark.parametrize("path", ["auto", "loop"])
@pytest.mark.parametrize("mask_case", ["none", "post_lengths", "pre_lengths", "post_mask", "holes"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_parity(kind, go_backwards, return_sequences, mask_case, path):
    klayer, rlayer = make_pair(
        kind,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        return_state=True,
        implementation=path,
    )
    kmask, rkwargs = masking(mask_case)
    run_both(klayer, rlayer, kmask, rkwargs)
    fused = kind != "gru_reset_before" and mask_case != "holes" and path == "auto"
    # float64: torch's fused kernels, but on CPU a GRU runs rnnlab's GRU kernel.
    expected = ("kernel" if kind == "gru" else "fused") if fused else "loop"
    assert rlayer.last_path == expected


@pytest.mark.parametrize("path", ["auto", "loop"])
@pytest.mark.parametrize("mask_case", ["post_lengths", "pre_lengths", "holes"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_zero_output_for_mask_parity(kind, mask_case, path):
    for return_sequences in (True, False):
        klayer, rlayer = make_pair(
            kind, return_sequences=return_sequences, zero_output_for_mask=True, implementation=path
        )
        run_both(klayer, rlayer, *masking(mask_case))


@pytest.mark.parametrize("path", ["auto", "loop"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_initial_state_parity(kind, path):
    klayer, rlayer = make_pair(kind, return_state=True, go_backwards=True, implementation=path)
    n = 2 if kind == "lstm" else 1
    g = torch.Generator().manual_seed(3)
    init = [torch.randn(B, UNITS, generator=g, dtype=torch.float64) for _ in range(n)]
    run_both(klayer, rlayer, *masking("post_lengths"), initial_state=init)


def test_return_state_false_returns_a_tensor():
    klayer, rlayer = make_pair("lstm")
    y = run_both(klayer, rlayer, None, {})
    assert len(y) == 1 and y[0].shape == (B, UNITS)


def test_float32_parity():
    """float32 on both sides also agrees within 1e-5 at this size."""
    kl = keras.layers.LSTM(UNITS, return_sequences=True)
    kl.build((None, T, IN))
    rl = rnn.LSTM(units=UNITS, input_size=IN, return_sequences=True).eval()
    rl.set_keras_weights(kl.get_weights())
    x = torch.randn(B, T, IN)
    torch.testing.assert_close(rl(x), kl(x), **TOL)


# -- dropout: Keras run with rnnlab's masks ---------------------------------------------


def _keras_masks(masks, per_gate):
    def conv(m):
        if m is None:
            return None
        return [g for g in m] if per_gate else m[0]

    return conv(masks.inputs), conv(masks.recurrent)


@pytest.mark.parametrize("path", ["auto", "loop"])
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
@pytest.mark.parametrize("kind", list(KINDS))
def test_dropout_parity_with_keras(kind, rates, path):
    """With the same masks, Keras (training=True) and rnnlab agree: same mask count per
    gate, same use of each mask, same scaling."""
    dropout, recurrent_dropout = rates
    klayer, rlayer = make_pair(
        kind,
        return_sequences=True,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        implementation=path,
    )
    rlayer.train()
    rlayer.generator = torch.Generator().manual_seed(7)
    masks = rlayer.cell.draw_dropout_masks(B, generator=torch.Generator().manual_seed(7))
    per_gate = recurrent_dropout > 0 and kind != "simple_rnn"
    expected_count = rlayer.cell.gates if per_gate else 1
    for m in masks:
        assert m is None or m.shape[0] == expected_count
    kin, krec = _keras_masks(masks, per_gate)
    klayer.cell._dropout_mask = kin
    klayer.cell._recurrent_dropout_mask = krec
    x = torch.randn(B, T, IN, dtype=torch.float64)
    yk = klayer(x, training=True)
    yr = rlayer(x)
    torch.testing.assert_close(yr, yk, **TOL)
    fused = kind != "gru_reset_before" and recurrent_dropout == 0 and path == "auto"
    expected = ("kernel" if kind == "gru" else "fused") if fused else "loop"
    if kind == "lstm" and recurrent_dropout > 0 and path == "auto":
        expected = "kernel"  # rnnlab's LSTM kernel (lstm_kernel.py)
    assert rlayer.last_path == expected


# -- Bidirectional ------------------------------------------------------------------------


def make_bidirectional(kind, merge_mode, **kwargs):
    kcls, rcls, extra = KINDS[kind]
    kwargs = {**extra, **kwargs}
    klayer = kcls(UNITS, dtype="float64", **kwargs)
    kbi = keras.layers.Bidirectional(klayer, merge_mode=merge_mode, dtype="float64")
    kbi.build((None, T, IN))
    rng = np.random.default_rng(5)
    kbi.set_weights([rng.normal(0, 0.5, w.shape) for w in kbi.get_weights()])
    rbi = rnn.Bidirectional(rcls(units=UNITS, input_size=IN, **kwargs), merge_mode=merge_mode)
    rbi = rbi.double().eval()
    rbi.set_keras_weights(kbi.get_weights())
    for a, b in zip(rbi.get_keras_weights(), kbi.get_weights()):
        assert np.array_equal(a, b)
    return kbi, rbi


@pytest.mark.parametrize("mask_case", ["none", "post_lengths", "pre_lengths", "holes"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_bidirectional_parity(kind, merge_mode, return_sequences, mask_case):
    kbi, rbi = make_bidirectional(
        kind, merge_mode, return_sequences=return_sequences, return_state=True
    )
    run_both(kbi, rbi, *masking(mask_case))


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_without_state_and_reset_before(merge_mode):
    kbi, rbi = make_bidirectional("gru_reset_before", merge_mode, return_sequences=True)
    out = run_both(kbi, rbi, *masking("post_mask"))
    assert len(out) == (2 if merge_mode is None else 1)


# -- Embedding ------------------------------------------------------------------------


def test_embedding_parity():
    kemb = keras.layers.Embedding(50, 4, mask_zero=True)
    kemb.build((None, 7))
    remb = rnn.Embedding(50, 4, mask_zero=True)
    remb.set_keras_weights(kemb.get_weights())
    assert np.array_equal(remb.get_keras_weights()[0], kemb.get_weights()[0])
    ids = torch.randint(0, 50, (3, 7))
    ids[:, -2:] = 0
    torch.testing.assert_close(remb(ids), kemb(ids), atol=0, rtol=0)
    assert torch.equal(remb.compute_mask(ids), kemb.compute_mask(ids))
    # Keras's default init: uniform(-0.05, 0.05), like rnnlab's
    kw = kemb.get_weights()[0]
    assert np.abs(kw).max() <= 0.05 and np.abs(remb.weight.detach().numpy()).max() <= 0.05


def test_embedding_into_lstm_with_mask_zero():
    """Embedding(mask_zero) -> LSTM: the mask flows like Keras's implicit mask."""
    kemb = keras.layers.Embedding(30, IN, mask_zero=True, dtype="float64")
    klstm = keras.layers.LSTM(UNITS, dtype="float64")
    ids = torch.tensor([[3, 4, 5, 0, 0, 0], [0, 0, 7, 8, 9, 1]])
    yk = klstm(kemb(ids), mask=kemb.compute_mask(ids))
    remb = rnn.Embedding(30, IN, mask_zero=True).double()
    rlstm = rnn.LSTM(units=UNITS, input_size=IN).double()
    remb.set_keras_weights(kemb.get_weights())
    rlstm.set_keras_weights(klstm.get_weights())
    yr = rlstm(remb(ids), mask=remb.compute_mask(ids))
    torch.testing.assert_close(yr, yk, **TOL)
    assert rlstm.last_path == "fused"  # each row's tokens are contiguous


# -- the seed's stacked models ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm"])
def test_stacked_seed_model_parity(kind):
    """Seed Reuters recipe: post-padded raw ids as one float feature, no mask, two stacked
    layers (return_sequences=True feeding the second), then Dense(46) + softmax."""
    kcls, rcls, _ = KINDS[kind]
    k1 = kcls(50, return_sequences=True, dtype="float64")
    k2 = kcls(50, dtype="float64")
    dense = keras.layers.Dense(46, activation="softmax", dtype="float64")
    kmodel = keras.Sequential([keras.Input((49, 1)), k1, k2, dense])
    r1 = rcls(units=50, input_size=1, return_sequences=True).double().eval()
    r2 = rcls(units=50, input_size=50).double().eval()
    r1.set_keras_weights(k1.get_weights())
    r2.set_keras_weights(k2.get_weights())
    w, b = (torch.tensor(a) for a in dense.get_weights())

    rng = np.random.default_rng(0)
    ids = np.zeros((3, 49, 1))
    for row, n in enumerate((49, 20, 5)):  # post padding, as the seed pads
        ids[row, :n, 0] = rng.integers(1, 30000, n)
    xk = torch.tensor(ids, requires_grad=True)
    xr = torch.tensor(ids, requires_grad=True)
    yk = kmodel(xk)
    yr = torch.softmax(r2(r1(xr)) @ w + b, -1)
    torch.testing.assert_close(yr, yk, **TOL)
    yk[:, 3].sum().backward()
    yr[:, 3].sum().backward()
    torch.testing.assert_close(xr.grad, xk.grad, **TOL)
