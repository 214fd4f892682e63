"""rnnlab's LSTM kernel for recurrent dropout (`lstm_kernel.py`) against the generic loop."""

import itertools

import pytest
import torch

from rnnlab.nn import LSTM, recurrent
from rnnlab.nn.dropout import draw_masks
from rnnlab.nn.paths import lstm_kernel

TOL = {"atol": 1e-12, "rtol": 1e-10}
F32_TOL = {"atol": 1e-5, "rtol": 1e-5}
B, T, N, U = 5, 7, 4, 3


@pytest.fixture
def count_kernel_calls(monkeypatch):
    calls = []
    real = lstm_kernel.run_lstm

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(recurrent, "run_lstm", spy)
    return calls


def run(layer, x, kwargs, implementation):
    """Outputs and gradients (x, initial states, parameters) of one training forward.

    'auto' must take the kernel here (every case trains in float32 or under recurrent
    dropout); any other implementation must take the path it names.
    """
    layer.implementation = implementation
    layer.generator = torch.Generator().manual_seed(3)  # the same masks on both paths
    layer.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    kwargs = dict(kwargs)
    leaves = [x, *layer.parameters()]
    if "initial_state" in kwargs:
        init = [s.detach().clone().requires_grad_(True) for s in kwargs["initial_state"]]
        kwargs["initial_state"] = init
        leaves += init
    out = layer(x, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(11)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    grads = torch.autograd.grad(loss, leaves)
    assert layer.last_path == ("kernel" if implementation == "auto" else implementation)
    return [o.detach() for o in outs], list(grads)


CASES = list(
    itertools.product(
        [False, True],  # go_backwards
        [False, True],  # return_sequences
        [False, True],  # return_state
        ["none", "post", "pre", "gaps"],
    )
)


@pytest.mark.parametrize(("go_backwards", "return_sequences", "return_state", "masking"), CASES)
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["python", "native"])
def test_kernel_equals_generic_loop(
    go_backwards, return_sequences, return_state, masking, zero_output_for_mask, dtype
):
    """float64 runs the kernel's Python loops, float32 its C loops (`_native_loops.c`)."""
    torch.manual_seed(0)
    layer = LSTM(
        U,
        input_size=N,
        dropout=0.3,
        recurrent_dropout=0.4,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        return_state=return_state,
        zero_output_for_mask=zero_output_for_mask,
    ).to(dtype)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(B, T, N, dtype=dtype)
    kwargs = {"initial_state": [torch.randn(B, U, dtype=dtype) for _ in range(2)]}
    if masking in ("post", "pre"):
        kwargs.update(lengths=torch.tensor([7, 3, 0, 5, 1]), padding=masking)
    elif masking == "gaps":
        kwargs["mask"] = torch.rand(B, T, generator=torch.Generator().manual_seed(5)) > 0.4
    ref_out, ref_grads = run(layer, x, kwargs, "loop")
    out, grads = run(layer, x, kwargs, "auto")
    assert len(out) == len(ref_out) and len(grads) == len(ref_grads)
    tol = TOL if dtype == torch.float64 else F32_TOL
    for a, b in zip(out + grads, ref_out + ref_grads):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_kernel_equals_loop_without_bias_initial_state_or_input_dropout(shared, dropout):
    torch.manual_seed(1)
    layer = LSTM(
        U,
        input_size=N,
        use_bias=False,
        dropout=dropout,
        recurrent_dropout=0.5,
        shared_dropout_masks=shared,
        return_sequences=True,
    ).double()
    x = torch.randn(B, T, N, dtype=torch.float64)
    ref_out, ref_grads = run(layer, x, {}, "loop")
    out, grads = run(layer, x, {}, "auto")
    for a, b in zip(out + grads, ref_out + ref_grads):
        torch.testing.assert_close(a, b, **TOL)


def test_float32_matches_loop_within_1e5():
    torch.manual_seed(2)
    layer = LSTM(16, input_size=8, dropout=0.2, recurrent_dropout=0.2, return_sequences=True)
    x = torch.randn(6, 30, 8)
    kwargs = {"lengths": torch.tensor([30, 12, 1, 29, 30, 7]), "padding": "pre"}
    ref_out, ref_grads = run(layer, x, kwargs, "loop")
    out, grads = run(layer, x, kwargs, "auto")
    for a, b in zip(out + grads, ref_out + ref_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("input_dropout", [False, True])
def test_lstm_recurrence_gradcheck(masked, input_dropout):
    g = torch.Generator().manual_seed(4)
    Tn, Bn, n, u = 3, 2, 2, 2

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)

    args = (rand(Tn, Bn, n), rand(n, 4 * u), rand(4 * u), rand(u, 4 * u), rand(Bn, u), rand(Bn, u))
    masks = draw_masks(
        Bn,
        n,
        u,
        gates=4,
        dropout=0.5 if input_dropout else 0.0,
        recurrent_dropout=0.5,
        dtype=torch.float64,
        generator=g,
    )
    sm = (
        torch.tensor([[True, False], [False, True], [True, True]]).unsqueeze(-1) if masked else None
    )

    def f(x, kernel, bias, rk, h0, c0):
        return lstm_kernel._LSTMRecurrence.apply(
            x, kernel, bias, rk, masks.inputs, masks.recurrent, h0, c0, sm
        )

    assert torch.autograd.gradcheck(f, args)


def test_imdb_shaped_case_takes_the_kernel(count_kernel_calls):
    layer = LSTM(128, input_size=128, dropout=0.2, recurrent_dropout=0.2).train()
    out = layer(torch.randn(32, 80, 128))
    out.sum().backward()
    assert count_kernel_calls == [1]
    assert layer.last_path == "kernel"


def test_when_the_kernel_is_used(count_kernel_calls):
    x = torch.randn(2, 4, 3)
    # Not: custom activations, forwards without gradients, float64 when no recurrent
    # dropout is in effect, and another implementation asked for (implementation='loop'
    # even under recurrent dropout).
    LSTM(2, input_size=3, recurrent_dropout=0.2, activation="relu").train()(x)
    LSTM(2, input_size=3, recurrent_dropout=0.2, recurrent_activation="hard_sigmoid").train()(x)
    with torch.no_grad():
        LSTM(2, input_size=3, recurrent_dropout=0.2).train()(x)  # no_grad: masks still drawn
        assert count_kernel_calls == [1]
        LSTM(2, input_size=3, recurrent_dropout=0.2).eval()(x)
        LSTM(2, input_size=3, dropout=0.2).train()(x)
    LSTM(2, input_size=3, dropout=0.2, implementation="loop").train()(x)
    LSTM(2, input_size=3, recurrent_dropout=0.2, implementation="loop").train()(x)
    LSTM(2, input_size=3, implementation="fused").train()(x)
    LSTM(2, input_size=3).double().train()(x.double())
    assert count_kernel_calls == [1]
    # 'auto': recurrent dropout always; without it, every float32 forward that will be
    # backpropagated.
    LSTM(2, input_size=3, recurrent_dropout=0.2).train()(x)
    LSTM(2, input_size=3).eval()(x)
    LSTM(2, input_size=3, dropout=0.2).train()(x)
    LSTM(2, input_size=3).eval()(x.requires_grad_(True))
    assert count_kernel_calls == [1] * 5
    # implementation='kernel': also where 'auto' would not take it.
    LSTM(2, input_size=3, implementation="kernel").double().train()(x.double())
    with torch.no_grad():
        LSTM(2, input_size=3, implementation="kernel").eval()(x)
    assert count_kernel_calls == [1] * 7


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masking", ["none", "post", "pre", "gaps"])
@pytest.mark.parametrize("return_state", [False, True])
def test_kernel_without_recurrent_dropout_equals_torch_fused_kernel(
    go_backwards, masking, return_state
):
    """Float32 training without recurrent dropout: the kernel's C loops vs torch's fused LSTM."""
    torch.manual_seed(0)
    layer = LSTM(
        U,
        input_size=N,
        dropout=0.3,
        return_sequences=True,
        return_state=return_state,
        go_backwards=go_backwards,
    )
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(B, T, N)
    kwargs = {"initial_state": [torch.randn(B, U) for _ in range(2)]}
    if masking in ("post", "pre"):
        kwargs.update(lengths=torch.tensor([7, 3, 0, 5, 1]), padding=masking)
    elif masking == "gaps":
        kwargs["mask"] = torch.rand(B, T, generator=torch.Generator().manual_seed(5)) > 0.4
    out, grads = run(layer, x, kwargs, "auto")
    ref_out, ref_grads = run(layer, x, kwargs, "loop" if masking == "gaps" else "fused")
    for a, b in zip(out + grads, ref_out + ref_grads, strict=True):
        torch.testing.assert_close(a, b, **F32_TOL)
