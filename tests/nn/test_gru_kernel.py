"""rnnlab's GRU kernel (`gru_kernel.py`), the shifted masked fused path and `flush_denormals`."""

import pytest
import torch

from rnnlab.nn import GRU, LSTM
from rnnlab.nn.paths.denormals import flush_denormals
from rnnlab.nn.paths.gru_kernel import gru_sequence

TOL = {"atol": 1e-10, "rtol": 1e-10}


def reference_gru(x, kernel, in_bias, rk, rec_bias, h0, batch_sizes):
    """Plain autograd, row b active at step t when b < batch_sizes[t]; zeros elsewhere."""
    T, B, _ = x.shape
    u = rk.shape[0]
    xp = x @ kernel + (0 if in_bias is None else in_bias)
    h, outs = h0, []
    for t in range(T):
        rec = h @ rk + (0 if rec_bias is None else rec_bias)
        z = torch.sigmoid(xp[t, :, :u] + rec[:, :u])
        r = torch.sigmoid(xp[t, :, u : 2 * u] + rec[:, u : 2 * u])
        hh = torch.tanh(xp[t, :, 2 * u :] + r * rec[:, 2 * u :])
        new = z * h + (1 - z) * hh
        active = (torch.arange(B) < (B if batch_sizes is None else batch_sizes[t]))[:, None]
        outs.append(torch.where(active, new, 0.0))
        h = torch.where(active, new, h)
    return torch.stack(outs)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("batch_sizes", [None, [4, 4, 3, 1, 1, 0]])
def test_gru_sequence_matches_autograd(batch_sizes, use_bias):
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)

    x, kernel, rk, h0 = rand(6, 4, 5), rand(5, 9), rand(3, 9), rand(4, 3)
    in_bias, rec_bias = (rand(9), rand(9)) if use_bias else (None, None)
    inputs = [t for t in (x, kernel, in_bias, rk, rec_bias, h0) if t is not None]
    weights = torch.randn(6, 4, 3, generator=g, dtype=torch.float64)
    out = gru_sequence(x, kernel, in_bias, rk, rec_bias, h0, batch_sizes)
    ref = reference_gru(x, kernel, in_bias, rk, rec_bias, h0, batch_sizes)
    torch.testing.assert_close(out, ref, **TOL)
    for a, b in zip(
        torch.autograd.grad((out * weights).sum(), inputs),
        torch.autograd.grad((ref * weights).sum(), inputs),
    ):
        torch.testing.assert_close(a, b, **TOL)


def test_gru_sequence_gradcheck():
    g = torch.Generator().manual_seed(1)
    args = [
        torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True)
        for s in ((3, 2, 2), (2, 6), (6,), (2, 6), (6,), (2, 2))
    ]
    assert torch.autograd.gradcheck(lambda *a: gru_sequence(*a, [2, 1, 1]), args)


def test_cpu_gru_does_not_call_torch_gru(monkeypatch):
    def fail(*args):
        raise AssertionError("torch._VF.gru called")

    monkeypatch.setattr(torch._VF, "gru", fail, raising=False)
    layer = GRU(4, input_size=3, return_sequences=True)
    x = torch.randn(5, 7, 3)
    assert layer(x).shape == (5, 7, 4)
    assert layer(x, lengths=torch.tensor([7, 4, 1, 0, 7])).shape == (5, 7, 4)
    assert layer.last_path == "kernel"


@pytest.mark.parametrize("return_state", [False, True])
def test_masked_lstm_runs_unpacked_unless_c_is_needed(monkeypatch, return_state):
    """The masked fused path runs the padded (oneDNN) kernel; only the final c needs packing."""
    seen = []
    real = torch._VF.lstm

    def spy(*args):
        seen.append(args[0].dim())  # 3: padded (time, batch, features); 2: packed data
        return real(*args)

    monkeypatch.setattr(torch._VF, "lstm", spy, raising=False)
    layer = LSTM(4, input_size=3, return_state=return_state, implementation="fused")
    layer(torch.randn(5, 7, 3), lengths=torch.tensor([7, 4, 1, 0, 7]))
    assert seen == [2 if return_state else 3]


def test_all_rows_empty():
    torch.manual_seed(0)
    for cls in (GRU, LSTM):
        layer = cls(4, input_size=3, return_sequences=True, return_state=False)
        out = layer(torch.randn(2, 5, 3), lengths=torch.tensor([0, 0]))
        assert torch.equal(out, torch.zeros(2, 5, 4))


def test_flush_denormals_restores_the_mode():
    def flushed():
        return float(torch.tensor(1e-39) * 1.0) == 0.0

    before = flushed()
    with flush_denormals():
        if torch.set_flush_denormal(True):  # supported on this CPU
            assert flushed()
    assert flushed() == before
    with flush_denormals(enabled=False):
        assert flushed() == before
