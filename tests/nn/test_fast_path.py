"""Torch's fused kernels (and the GRU kernel, which shares their masked gathering) and the
loop agree on outputs, states and gradients."""

import pytest
import torch

from rnnlab.nn import GRU, LSTM, Bidirectional, SimpleRNN

B, T, IN, UNITS = 5, 7, 3, 4
TOL = {"atol": 1e-5, "rtol": 1e-5}

LAYERS = {
    "simple_rnn_tanh": lambda **kw: SimpleRNN(UNITS, input_size=IN, **kw),
    "simple_rnn_relu": lambda **kw: SimpleRNN(UNITS, input_size=IN, activation="relu", **kw),
    "lstm": lambda **kw: LSTM(UNITS, input_size=IN, **kw),
    "lstm_no_bias": lambda **kw: LSTM(UNITS, input_size=IN, use_bias=False, **kw),
    "gru": lambda **kw: GRU(UNITS, input_size=IN, **kw),
    "gru_no_bias": lambda **kw: GRU(UNITS, input_size=IN, use_bias=False, **kw),
}
LENGTHS = torch.tensor([7, 4, 1, 0, 7])
# The paths compared with the loop: torch's fused kernel for every layer, and for the GRU
# also rnnlab's GRU kernel (the CPU default), which gathers masked rows as the fused path does.
# (The LSTM and SimpleRNN kernels are compared in test_lstm_kernel.py and test_rnn_kernel.py.)
FAST_PATHS = [(name, "fused") for name in LAYERS] + [
    (name, "kernel") for name in LAYERS if name.startswith("gru")
]


def inputs_for(case):
    pos = torch.arange(T)
    if case == "none":
        return {}
    if case == "post_lengths":
        return {"lengths": LENGTHS}
    if case == "pre_lengths":
        return {"lengths": LENGTHS, "padding": "pre"}
    if case == "pre_mask":
        return {"mask": pos >= T - LENGTHS[:, None]}
    if case == "middle_block":  # valid steps 2..4 of every row: contiguous, so fused
        return {"mask": (pos >= 2) & (pos < 5) & (LENGTHS[:, None] > 0)}
    raise AssertionError(case)


def grads_of(layer, x, kwargs, initial_state=None):
    x = x.clone().requires_grad_(True)
    outs = layer(x, initial_state=initial_state, **kwargs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    g = torch.Generator().manual_seed(0)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    params = list(layer.parameters())
    grads = torch.autograd.grad(loss, [x, *params])
    return outs, grads


@pytest.mark.parametrize("return_state", [True, False])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize(
    "case", ["none", "post_lengths", "pre_lengths", "pre_mask", "middle_block"]
)
@pytest.mark.parametrize(("name", "implementation"), FAST_PATHS)
def test_fast_path_matches_loop(
    name, implementation, case, go_backwards, zero_output, return_sequences, return_state
):
    """return_state=False covers the gathered (unpacked) masked path of every kernel;
    with it, a masked LSTM needs its final c and runs packed."""
    torch.manual_seed(0)
    fast = LAYERS[name](
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output,
        implementation=implementation,
    )
    loop = LAYERS[name](
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output,
        implementation="loop",
    )
    loop.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, IN)
    kwargs = inputs_for(case)
    init = [torch.randn(B, UNITS) for _ in range(fast.cell.n_states)]
    out_f, grads_f = grads_of(fast, x, kwargs, init)
    out_l, grads_l = grads_of(loop, x, kwargs, init)
    assert fast.last_path == implementation and loop.last_path == "loop"
    for a, b in zip(out_f, out_l):
        torch.testing.assert_close(a, b, **TOL)
    for a, b in zip(grads_f, grads_l):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("return_state", [True, False])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("layer_class", [LSTM, GRU])
@pytest.mark.parametrize("merge_mode", ["concat", "ave"])
def test_bidirectional_fast_matches_loop(merge_mode, layer_class, return_sequences, return_state):
    # What rnnlab's own LSTM kernel does not take: torch's fused LSTM, the GRU kernel.
    implementation = "fused" if layer_class is LSTM else "kernel"
    torch.manual_seed(0)
    kw = {
        "units": UNITS,
        "input_size": IN,
        "return_sequences": return_sequences,
        "return_state": return_state,
    }
    fast = Bidirectional(layer_class(**kw, implementation=implementation), merge_mode)
    loop = Bidirectional(layer_class(**kw, implementation="loop"), merge_mode)
    loop.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, IN)
    out_f, grads_f = grads_of(fast, x, {"lengths": LENGTHS})
    out_l, grads_l = grads_of(loop, x, {"lengths": LENGTHS})
    assert fast.forward_layer.last_path == fast.backward_layer.last_path == implementation
    assert loop.forward_layer.last_path == loop.backward_layer.last_path == "loop"
    for a, b in zip(out_f + grads_f, out_l + grads_l):
        torch.testing.assert_close(a, b, **TOL)


def test_fast_path_equals_torch_modules():
    """The fused path gives what torch's own nn.LSTM gives on a packed batch."""
    torch.manual_seed(0)
    layer = LSTM(
        UNITS, input_size=IN, return_sequences=True, return_state=True, implementation="fused"
    )
    module = layer.to_torch()
    x = torch.randn(B, T, IN)
    lengths = torch.tensor([7, 4, 1, 2, 7])
    out, h, c = layer(x, lengths=lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    p_out, (th, tc) = module(packed)
    t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(p_out, batch_first=True, total_length=T)
    valid = (torch.arange(T) < lengths[:, None])[..., None]
    torch.testing.assert_close(out * valid, t_out, **TOL)
    torch.testing.assert_close(h, th[0], **TOL)
    torch.testing.assert_close(c, tc[0], **TOL)


def test_when_the_fast_path_is_used():
    torch.manual_seed(0)
    x = torch.randn(B, T, IN)
    holes = torch.ones(B, T, dtype=torch.bool)
    holes[0, 3] = False
    layer = LSTM(UNITS, input_size=IN, recurrent_dropout=0.2)
    layer(x)
    assert layer.last_path == "kernel"  # training with recurrent dropout: not fused
    layer.eval()
    with torch.no_grad():  # inference ('auto' trains float32 LSTMs on rnnlab's kernel)
        layer(x)
        assert layer.last_path == "fused"
        layer(x, mask=holes)
        assert layer.last_path == "loop"
    layer.implementation = "fused"
    with pytest.raises(ValueError, match="the mask has gaps inside a row"):
        layer(x, mask=holes)
    layer.train()
    with pytest.raises(ValueError, match="recurrent dropout is active"):
        layer(x)
    with pytest.raises(ValueError, match="reset_after=False has no torch fused equivalent"):
        GRU(UNITS, input_size=IN, reset_after=False, implementation="fused")(x)
    with pytest.raises(ValueError, match="recurrent_activation='sigmoid'"):
        LSTM(UNITS, input_size=IN, recurrent_activation="hard_sigmoid", implementation="fused")(x)
    custom = LSTM(UNITS, input_size=IN, activation="relu")
    custom(x)
    assert custom.last_path == "loop"


def test_fast_path_calls_the_fused_kernel(monkeypatch):
    calls = []
    real = torch._VF.lstm

    def spy(*args):
        calls.append(len(args))
        return real(*args)

    monkeypatch.setattr(torch._VF, "lstm", spy, raising=False)
    layer = LSTM(UNITS, input_size=IN, implementation="fused")
    layer(torch.randn(B, T, IN))
    layer(torch.randn(B, T, IN), lengths=LENGTHS)
    assert calls == [9, 9]  # the padded and the packed signature of torch._VF.lstm


def test_gradients_reach_keras_layout_parameters():
    torch.manual_seed(0)
    layer = GRU(UNITS, input_size=IN)
    layer(torch.randn(B, T, IN), lengths=LENGTHS).sum().backward()
    assert layer.last_path == "kernel"  # a GRU on CPU: rnnlab's GRU kernel
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("path", ["fused", "loop"])
def test_inference_without_grad(path):
    torch.manual_seed(0)
    layer = LSTM(UNITS, input_size=IN, recurrent_dropout=0.3, implementation=path)
    x = torch.randn(B, T, IN)
    expected = layer.eval()(x, lengths=LENGTHS)
    with torch.no_grad():
        out = layer(x, lengths=LENGTHS)
    assert not out.requires_grad
    torch.testing.assert_close(out, expected)
    layer.train()
    layer.implementation = "loop"
    with torch.no_grad():  # training mode without autograd: loop, nothing hoisted
        assert layer(x).shape == (B, UNITS)
    assert layer.last_path == "loop"
