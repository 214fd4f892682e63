"""Pinned outputs on constant weights (numbers ported from Keras 3's own layer tests),
initialization, and constructor validation."""

import numpy as np
import pytest
import torch

from rnnlab.nn import GRU, LSTM, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell

CONST = {"kernel_initializer": 0.01, "recurrent_initializer": 0.02, "bias_initializer": 0.03}
PATHS = ["auto", "loop"]


def seq(*shape):
    return torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape)


def rows(*values):
    # Keras pins one value per row, repeated across units.
    return torch.tensor(values)


def assert_rows(out, values):
    expected = torch.tensor(values, dtype=out.dtype)
    expected = expected.reshape(expected.shape + (1,)).expand_as(out)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


# keras/src/layers/rnn/lstm_test.py::test_correctness
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0.6288687, 0.86899155, 0.9460773]),
        ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
        ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
        ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
    ],
)
def test_lstm_correctness(kwargs, expected, path):
    layer = LSTM(3, input_size=4, implementation=path, **CONST, **kwargs)
    assert_rows(layer(seq(3, 6, 4)), expected)


# keras/src/layers/rnn/gru_test.py::test_correctness
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0.5217289, 0.6371659, 0.39384964]),
        ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
        ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
        ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
    ],
)
def test_gru_correctness(kwargs, expected, path):
    layer = GRU(3, input_size=4, implementation=path, **CONST, **kwargs)
    assert_rows(layer(seq(3, 6, 4)), expected)


# keras/src/layers/rnn/simple_rnn_test.py::test_correctness
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kwargs, expected",
    [({}, [0.405432, 0.73605347]), ({"go_backwards": True}, [0.11144729, 0.5528889])],
)
def test_simple_rnn_correctness(kwargs, expected, path):
    layer = SimpleRNN(4, input_size=4, implementation=path, **CONST, **kwargs)
    assert_rows(layer(seq(2, 3, 4)), expected)


# keras/src/layers/rnn/lstm_test.py::test_pass_initial_state
@pytest.mark.parametrize("path", PATHS)
def test_lstm_initial_state(path):
    init = [seq(2, 2), seq(2, 2)]
    out = LSTM(2, input_size=3, implementation=path, **CONST)(seq(2, 4, 3), initial_state=init)
    torch.testing.assert_close(out, torch.tensor([[0.20574439, 0.3558822], [0.64930826, 0.66276]]))
    layer = LSTM(2, input_size=3, go_backwards=True, implementation=path, **CONST)
    out = layer(seq(2, 4, 3), initial_state=init)
    torch.testing.assert_close(out, torch.tensor([[0.13281618, 0.2790356], [0.5839337, 0.5992567]]))


# keras/src/layers/rnn/lstm_test.py::test_masking
@pytest.mark.parametrize("path", PATHS)
def test_lstm_masking(path):
    x = seq(2, 4, 3)
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    lengths = torch.tensor([3, 2])
    layer = LSTM(2, input_size=3, implementation=path, **CONST)
    assert_rows(layer(x, mask=mask), [0.11755939, 0.28556206])
    assert_rows(layer(x, lengths=lengths), [0.11755939, 0.28556206])

    layer = LSTM(2, input_size=3, return_sequences=True, implementation=path, **CONST)
    out = layer(x, mask=mask)
    assert_rows(out[0], [0.01588910, 0.05552048, 0.11755939, 0.11755939])
    assert_rows(out[1], [0.14185596, 0.28556206, 0.28556206, 0.28556206])

    layer.zero_output_for_mask = True
    out = layer(x, lengths=lengths)
    assert_rows(out[0], [0.01588910, 0.05552048, 0.11755939, 0.0])
    assert_rows(out[1], [0.14185596, 0.28556206, 0.0, 0.0])

    backwards_mask = torch.tensor([[False, True, True, True], [False, False, True, True]])
    layer = LSTM(2, input_size=3, go_backwards=True, implementation=path, **CONST)
    assert_rows(layer(x, mask=backwards_mask), [0.15341201, 0.3844719])
    assert_rows(layer(x, lengths=torch.tensor([3, 2]), padding="pre"), [0.15341201, 0.3844719])


# keras/src/layers/rnn/gru_test.py::test_masking (a mask with holes: loop path)
def test_gru_masking_with_holes():
    x = seq(2, 4, 3)
    mask = torch.tensor([[True, True, False, True], [True, False, False, True]])
    layer = GRU(2, input_size=3, return_sequences=True, **CONST)
    out = layer(x, mask=mask)
    assert layer.last_path == "loop"
    assert_rows(out[0], [0.03606692, 0.09497581, 0.09497581, 0.19393763])
    assert_rows(out[1], [0.16051409, 0.16051409, 0.16051409, 0.30818558])
    layer.zero_output_for_mask = True
    out = layer(x, mask=mask)
    assert_rows(out[0], [0.03606692, 0.09497581, 0.0, 0.19393763])
    assert_rows(out[1], [0.16051409, 0.0, 0.0, 0.30818558])
    layer = GRU(2, input_size=3, go_backwards=True, **CONST)
    assert_rows(layer(x, mask=mask), [0.11669192, 0.28380975])


# keras/src/layers/rnn/bidirectional_test.py::test_correctness
def test_bidirectional_correctness():
    x = seq(2, 3, 4)
    fw = SimpleRNN(2, input_size=4, **CONST)
    out = Bidirectional(fw)(x)
    expected = torch.tensor(
        [
            [0.39687276, 0.39687276, 0.10004295, 0.10004295],
            [0.7237238, 0.7237238, 0.53391594, 0.53391594],
        ]
    )
    torch.testing.assert_close(out, expected)
    assert_rows(Bidirectional(fw, merge_mode="ave")(x), [0.24845785, 0.6288199])
    y, y_rev = Bidirectional(fw, merge_mode=None)(x)
    assert_rows(y, [0.39687276, 0.7237238])
    assert_rows(y_rev, [0.10004295, 0.53391594])
    bw = SimpleRNN(
        2,
        input_size=4,
        go_backwards=True,
        kernel_initializer=0.03,
        recurrent_initializer=0.02,
        bias_initializer=0.01,
    )
    assert_rows(Bidirectional(fw, "mul", backward_layer=bw)(x), [0.08374989, 0.6740834])
    gru = GRU(2, input_size=4, return_sequences=True, **CONST)
    out = Bidirectional(gru, merge_mode="sum")(x)
    assert_rows(out[0], [0.20937867, 0.34462988, 0.40290534])
    assert_rows(out[1], [0.59829646, 0.6734641, 0.6479671])


# -- initialization ----------------------------------------------------------------


def test_lstm_default_init_matches_keras():
    torch.manual_seed(0)
    cell = LSTMCell(units=16, input_size=5)
    limit = (6 / (5 + 64)) ** 0.5  # glorot_uniform on (in, 4 * units)
    assert cell.kernel.abs().max() <= limit
    assert cell.kernel.abs().max() > 0.9 * limit
    rk = cell.recurrent_kernel.detach()  # orthogonal: orthonormal rows
    torch.testing.assert_close(rk @ rk.T, torch.eye(16), atol=1e-5, rtol=0)
    expected = torch.cat([torch.zeros(16), torch.ones(16), torch.zeros(32)])
    assert torch.equal(cell.bias.detach(), expected)  # unit_forget_bias


def test_gru_and_rnn_bias_shapes_and_init():
    assert GRUCell(units=3, input_size=2).bias.shape == (2, 9)
    assert GRUCell(units=3, input_size=2, reset_after=False).bias.shape == (9,)
    assert SimpleRNNCell(units=3, input_size=2, use_bias=False).bias is None
    assert torch.equal(GRUCell(units=3, input_size=2).bias.detach(), torch.zeros(2, 9))


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "zeros",
        "ones",
        "he_normal",
        "glorot_normal",
        "lecun_uniform",
        "normal",
        "truncated_normal",
    ],
)
def test_named_initializers(name):
    cell = LSTMCell(
        units=4,
        input_size=3,
        kernel_initializer=name,
        unit_forget_bias=False,
        bias_initializer=name,
    )
    assert torch.isfinite(cell.kernel).all()
    if name == "uniform":
        assert cell.kernel.abs().max() <= 0.05


def test_callable_initializer():
    cell = SimpleRNNCell(units=3, input_size=3, kernel_initializer=torch.nn.init.eye_)
    assert torch.equal(cell.kernel.detach(), torch.eye(3))


def test_cell_step_matches_layer():
    torch.manual_seed(0)
    layer = LSTM(4, input_size=3, return_sequences=True)
    x = torch.randn(2, 5, 3)
    state = (torch.zeros(2, 4), torch.zeros(2, 4))
    outs = []
    for t in range(5):
        out, state = layer.cell(x[:, t], state)
        outs.append(out)
    torch.testing.assert_close(torch.stack(outs, 1), layer(x))


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: LSTM(0, input_size=3), ValueError, "`units` must be a positive integer, got 0"),
        (
            lambda: LSTM(2.5, input_size=3),
            TypeError,
            "`units` must be an integer >= 1, got float 2.5",
        ),
        (
            lambda: GRU(4, input_size=-1),
            ValueError,
            "`input_size` must be a positive integer, got -1",
        ),
        (
            lambda: LSTM(4, input_size=3, dropout=1.0),
            ValueError,
            "`dropout` must be in [0, 1), got 1.0",
        ),
        (
            lambda: LSTM(4, input_size=3, recurrent_dropout=-0.1),
            ValueError,
            "`recurrent_dropout` must be in [0, 1), got -0.1",
        ),
        (lambda: LSTM(4, input_size=3, activation="tanhh"), ValueError, "(did you mean `tanh`?)"),
        (
            lambda: GRU(4, input_size=3, kernel_initializer="glorot"),
            ValueError,
            "`kernel_initializer` must be one of",
        ),
        (
            lambda: LSTM(4, input_size=3, implementation="yes"),
            ValueError,
            "`implementation` must be one of 'auto', 'fused', 'kernel', 'loop', got 'yes'",
        ),
        (
            lambda: LSTM(4, input_size=3, return_sequences=1),
            TypeError,
            "`return_sequences` must be bool, got int 1",
        ),
        (
            lambda: LSTM(4, input_size=3, retrun_sequences=True),
            TypeError,
            "did you mean `return_sequences`?",
        ),
        (lambda: GRU(4, input_size=3, reset_after="no"), TypeError, "`reset_after` must be bool"),
        (
            lambda: Bidirectional(LSTM(4, input_size=3), merge_mode="max"),
            ValueError,
            "`merge_mode` must be one of 'concat', 'sum', 'mul', 'ave', None, got 'max'",
        ),
        (lambda: Bidirectional(torch.nn.LSTM(3, 4)), TypeError, "`layer` must be a SimpleRNN"),
        (
            lambda: Bidirectional(LSTM(4, input_size=3, go_backwards=True)),
            ValueError,
            "go_backwards=False",
        ),
    ],
)
def test_constructor_errors(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


def test_forward_errors():
    layer = LSTM(4, input_size=3)
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, time >= 1, 3\)"):
        layer(torch.zeros(2, 5, 4))
    with pytest.raises(ValueError, match="not both"):
        layer(torch.zeros(2, 5, 3), lengths=[5, 5], mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"`lengths` must be in \[0, 5\]"):
        layer(torch.zeros(2, 5, 3), lengths=[6, 1])
    with pytest.raises(ValueError, match="`mask` must have shape"):
        layer(torch.zeros(2, 5, 3), mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="`initial_state` must hold 2"):
        layer(torch.zeros(2, 5, 3), initial_state=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="`padding` must be one of"):
        layer(torch.zeros(2, 5, 3), lengths=[1, 1], padding="left")


def test_raw_ids_as_float_feature_seed_recipe():
    """The seed Reuters recipe: post-padded ids as one float feature, no mask."""
    x = torch.tensor([[[5], [9], [0]], [[7], [0], [0]]], dtype=torch.int64)
    torch.manual_seed(0)
    layer = LSTM(50, input_size=1, return_sequences=True)
    out = layer(x)
    assert out.shape == (2, 3, 50)
    # padded steps are processed like any other step (Keras without a mask)
    assert not torch.equal(out[1, 1], out[1, 0])


def test_cell_step_with_per_gate_masks_matches_layer():
    """Stepping a cell by hand with the layer's masks reproduces the layer's loop."""
    x = torch.randn(3, 4, 5)
    for layer in (
        LSTM(6, input_size=5, dropout=0.3, recurrent_dropout=0.3, seed=4, return_sequences=True),
        GRU(
            6,
            input_size=5,
            dropout=0.3,
            recurrent_dropout=0.3,
            seed=4,
            return_sequences=True,
            reset_after=False,
        ),
    ):
        expected = layer(x)
        masks = layer.cell.draw_dropout_masks(3, generator=torch.Generator().manual_seed(4))
        assert masks.inputs.shape[0] == layer.cell.gates
        state = layer.cell.initial_state(3, x.dtype, x.device)
        outs = []
        for t in range(4):
            out, state = layer.cell(x[:, t], state, masks)
            outs.append(out)
        torch.testing.assert_close(torch.stack(outs, 1), expected)
