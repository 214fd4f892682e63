"""The C time loops of the LSTM kernel (`_native_loops.c`, loaded by `native.py`).

The kernel's Python loops are the reference: both fill the same buffers, so
every output and gradient is compared within 1e-5 (float32), over batch sizes
that do and do not divide into the thread blocks, odd unit counts, masks with
holes, and saturating pre-activations.
"""

import pytest
import torch

from rnnlab.nn import LSTM, lstm_kernel, native
from rnnlab.nn.lstm_kernel import _LSTMRecurrence


def test_the_c_loops_are_built_and_in_use():
    # CI installs the package the way the README does: a silent build failure
    # would leave the Python loops in place and lose the speed.
    assert native.loops() is not None, native.unavailable_reason()
    assert native.unavailable_reason() is None


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def recurrence(shape, *, masked, input_dropout, scale=1.0, seed=0):
    """Arguments of `_LSTMRecurrence` for (T, B, n, u), float32 leaves."""
    T, B, n, u = shape
    g = torch.Generator().manual_seed(seed)

    def leaf(*s, k=1.0):
        return (torch.randn(*s, generator=g) * k).requires_grad_(True)

    keep = 0.75
    in_mask = (torch.rand(4, B, n, generator=g) < keep).float() / keep if input_dropout else None
    rm = (torch.rand(4, B, u, generator=g) < keep).float() / keep
    sm = (torch.rand(T, B, 1, generator=g) > 0.3) if masked else None
    return (
        leaf(T, B, n, k=scale),
        leaf(n, 4 * u, k=0.3),
        leaf(4 * u),
        leaf(u, 4 * u, k=0.3),
        in_mask,
        rm,
        leaf(B, u),
        leaf(B, u),
        sm,
    )


def outputs_and_grads(args):
    hs, cT = _LSTMRecurrence.apply(*args)
    g = torch.Generator().manual_seed(1)
    loss = (hs * torch.randn(hs.shape, generator=g)).sum() + (
        cT * torch.randn(cT.shape, generator=g)
    ).sum()
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    return [hs.detach(), cT.detach(), *torch.autograd.grad(loss, leaves)]


def python_loops(monkeypatch):
    monkeypatch.setattr(lstm_kernel, "_native_loops", lambda like: None)


@pytest.mark.parametrize("shape", [(80, 32, 16, 16), (5, 3, 4, 5), (1, 1, 2, 17), (9, 7, 3, 33)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("input_dropout", [False, True])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_c_loops_equal_python_loops(
    shape, masked, input_dropout, num_threads, threads, monkeypatch
):
    threads(num_threads)
    args = recurrence(shape, masked=masked, input_dropout=input_dropout)
    fast = outputs_and_grads(args)
    python_loops(monkeypatch)
    reference = outputs_and_grads(args)
    for a, b in zip(fast, reference, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_saturated_gates_stay_exact(monkeypatch):
    # Pre-activations in the hundreds drive exp to its clamps and tanh to +-1.
    args = recurrence((6, 4, 3, 8), masked=True, input_dropout=False, scale=300.0)
    fast = outputs_and_grads(args)
    assert fast[0].abs().max() > 0.9
    python_loops(monkeypatch)
    for a, b in zip(fast, outputs_and_grads(args), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_gate_activations_match_torch_over_their_range():
    # With h0 = 0 the recurrent product vanishes: one step turns the buffer of
    # pre-activations into sigmoid (o, i, f) and tanh (c) in place. One value a row.
    z = torch.linspace(-120, 120, 4001)
    z = torch.cat([z, torch.logspace(-8, 1, 200), -torch.logspace(-8, 1, 200)])
    B = z.numel()
    act = z.repeat(4, 1).view(4, 1, B, 1).clone()
    buffers = [act, torch.zeros(4, 1, 1), torch.ones(4, B, 1), torch.zeros(2, B, 1)]
    buffers += [torch.zeros(2, B, 1), torch.empty(4, 1, B, 1), torch.empty(1, B, 1)]
    native.loops().lstm_forward(1, B, 1, *(t.data_ptr() for t in buffers), 0)
    sig, tanh = torch.sigmoid(z.double()), torch.tanh(z.double())
    for gate in range(3):
        torch.testing.assert_close(act[gate].flatten().double(), sig, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(act[3].flatten().double(), tanh, atol=1e-7, rtol=1e-6)


def test_layer_trains_the_same_with_either_loops(monkeypatch):
    """A few Adam steps of the IMDB-shaped layer give the same weights both ways."""

    def train():
        torch.manual_seed(0)
        layer = LSTM(12, input_size=6, dropout=0.2, recurrent_dropout=0.2, return_sequences=True)
        opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
        x = torch.randn(8, 20, 6, generator=torch.Generator().manual_seed(1))
        for _ in range(5):
            opt.zero_grad()
            layer(x).square().mean().backward()
            opt.step()
        assert layer.last_path == "kernel"
        return [p.detach().clone() for p in layer.parameters()]

    fast = train()
    python_loops(monkeypatch)
    for a, b in zip(fast, train(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_unavailable_loops_say_why(monkeypatch):
    monkeypatch.setenv("RNNLAB_NATIVE", "0")
    native.loops.cache_clear()
    try:
        assert native.loops() is None
        assert "RNNLAB_NATIVE=0" in native.unavailable_reason()
    finally:
        monkeypatch.delenv("RNNLAB_NATIVE")
        native.loops.cache_clear()
    assert native.loops() is not None
