"""The layers' `implementation` argument: each value runs the path it names, and the
paths agree; anything but the four strings is refused."""

import pytest
import torch

from rnnlab.nn import GRU, LSTM, Bidirectional, SimpleRNN, recurrent

B, T, IN, UNITS = 4, 6, 3, 5
TOL = {"atol": 1e-5, "rtol": 1e-5}
LENGTHS = torch.tensor([6, 3, 0, 2])
HOLES = torch.tensor([[1, 0, 1, 1, 0, 1]] * B, dtype=torch.bool)
LAYERS = {
    "simple_rnn": lambda **kw: SimpleRNN(UNITS, input_size=IN, **kw),
    "lstm": lambda **kw: LSTM(UNITS, input_size=IN, **kw),
    "gru": lambda **kw: GRU(UNITS, input_size=IN, **kw),
}


def forward_and_grads(layer, x, **kwargs):
    """Outputs and the gradients of x and the parameters of one forward (same masks each time)."""
    if layer.generator is not None:
        layer.generator.manual_seed(3)
    x = x.detach().clone().requires_grad_(True)
    out = layer(x, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    return [o.detach() for o in outs] + list(torch.autograd.grad(loss, [x, *layer.parameters()]))


@pytest.mark.parametrize("masking", ["none", "lengths"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_each_value_runs_its_path_and_the_paths_agree(kind, masking):
    torch.manual_seed(0)
    kwargs = {"lengths": LENGTHS} if masking == "lengths" else {}
    reference = LAYERS[kind](return_sequences=True, return_state=True, dropout=0.3, seed=5)
    x = torch.randn(B, T, IN)
    results = {}
    for implementation in ("loop", "fused", "kernel", "auto"):
        layer = LAYERS[kind](
            return_sequences=True,
            return_state=True,
            dropout=0.3,
            seed=5,
            implementation=implementation,
        )
        layer.load_state_dict(reference.state_dict())
        results[implementation] = forward_and_grads(layer, x, **kwargs)
        # 'auto' trains float32 layers on rnnlab's kernels on CPU.
        assert layer.last_path == ("kernel" if implementation == "auto" else implementation)
        assert layer.last_path_reason
    for implementation in ("fused", "kernel", "auto"):
        for a, b in zip(results[implementation], results["loop"], strict=True):
            torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_loop_runs_the_loop_under_recurrent_dropout(kind, monkeypatch):
    calls = []
    real = recurrent.run_loop

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(recurrent, "run_loop", spy)
    torch.manual_seed(0)
    kw = {"dropout": 0.2, "recurrent_dropout": 0.3, "seed": 7, "return_sequences": True}
    loop = LAYERS[kind](**kw, implementation="loop")
    auto = LAYERS[kind](**kw)
    auto.load_state_dict(loop.state_dict())
    x = torch.randn(B, T, IN)
    got = forward_and_grads(loop, x, mask=HOLES)
    assert loop.last_path == "loop" and calls == [1]
    want = forward_and_grads(auto, x, mask=HOLES)
    # 'auto': rnnlab's kernel for the LSTM and the SimpleRNN, the loop for the GRU.
    assert auto.last_path == ("loop" if kind == "gru" else "kernel")
    assert calls == ([1, 1] if kind == "gru" else [1])
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: LSTM(UNITS, input_size=IN, recurrent_dropout=0.2, implementation="fused"),
            "recurrent dropout is active",
        ),
        (
            lambda: GRU(UNITS, input_size=IN, reset_after=False, implementation="fused"),
            "reset_after=False has no torch fused equivalent",
        ),
        (
            lambda: SimpleRNN(UNITS, input_size=IN, activation="relu", implementation="kernel"),
            "rnnlab's SimpleRNN kernel needs activation='tanh', got 'relu'",
        ),
        (lambda: SimpleRNN(UNITS, input_size=IN, implementation="kernel").double(), "float32 only"),
        (
            lambda: GRU(UNITS, input_size=IN, recurrent_dropout=0.2, implementation="kernel"),
            "rnnlab's GRU kernel has no recurrent dropout",
        ),
        (
            lambda: LSTM(UNITS, input_size=IN, activation="relu", implementation="kernel"),
            "rnnlab's LSTM kernel needs activation='tanh'",
        ),
    ],
)
def test_a_path_that_cannot_run_says_why(make, message):
    layer = make()
    x = torch.randn(B, T, IN, dtype=layer.kernel.dtype)
    with pytest.raises(ValueError) as info:
        layer(x)
    assert f"implementation='{layer.implementation}' cannot run this forward" in str(info.value)
    assert message in str(info.value)


def test_fused_refuses_a_mask_with_holes_that_the_kernel_runs():
    layer = LSTM(UNITS, input_size=IN, implementation="fused")
    with pytest.raises(ValueError, match="the mask has gaps inside a row"):
        layer(torch.randn(B, T, IN), mask=HOLES)
    layer.implementation = "kernel"
    layer(torch.randn(B, T, IN), mask=HOLES)
    assert layer.last_path == "kernel"


ALLOWED = "`implementation` must be one of 'auto', 'fused', 'kernel', 'loop', got "


@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (0, TypeError, "int 0"),
        (1, TypeError, "int 1"),
        (False, TypeError, "bool False"),
        (True, TypeError, "bool True"),
        (None, TypeError, "NoneType None"),
        (2.0, TypeError, "float 2.0"),
        ("fast", ValueError, "'fast'"),
        ("Loop", ValueError, "'Loop'"),
        ("", ValueError, "''"),
    ],
)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_invalid_values_are_refused(kind, value, error, shown):
    with pytest.raises(error) as info:
        LAYERS[kind](implementation=value)
    assert str(info.value).startswith(ALLOWED + shown)
    layer = LAYERS[kind]()
    with pytest.raises(error) as info:
        layer.implementation = value
    assert str(info.value).startswith(ALLOWED + shown)
    assert layer.implementation == "auto"


def test_use_fast_path_is_gone_with_a_pointer_to_implementation():
    with pytest.raises(TypeError, match="`use_fast_path`, which was replaced by `implementation`"):
        LSTM(UNITS, input_size=IN, use_fast_path=False)
    layer = GRU(UNITS, input_size=IN)
    with pytest.raises(AttributeError, match="replaced by `implementation`"):
        layer.use_fast_path = False
    with pytest.raises(TypeError, match="did you mean `implementation`"):
        SimpleRNN(UNITS, input_size=IN, implmentation="loop")


def test_bidirectional_passes_it_to_both_directions():
    bi = Bidirectional(LSTM(UNITS, input_size=IN, implementation="loop", return_sequences=True))
    bi(torch.randn(B, T, IN), lengths=LENGTHS)
    assert bi.forward_layer.last_path == bi.backward_layer.last_path == "loop"
    module = torch.nn.GRU(IN, UNITS, batch_first=True, bidirectional=True)
    bi = Bidirectional.from_torch(module, implementation="fused")
    bi(torch.randn(B, T, IN))
    assert bi.forward_layer.last_path == bi.backward_layer.last_path == "fused"


def test_repr_names_a_requested_implementation():
    assert "implementation='loop'" in repr(LSTM(UNITS, input_size=IN, implementation="loop"))
    assert "implementation" not in repr(LSTM(UNITS, input_size=IN))
