"""Weight conversion: Keras lists in and out, torch nn.LSTM / nn.GRU / nn.RNN both ways."""

import numpy as np
import pytest
import torch

from rnnlab.nn import GRU, LSTM, Bidirectional, SimpleRNN, keras_to_torch, torch_to_keras

B, T, IN, UNITS = 3, 5, 4, 6


def torch_run(module, x, lengths):
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    out, hidden = module(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, hidden


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(UNITS, input_size=IN, return_sequences=True, return_state=True),
        lambda: GRU(UNITS, input_size=IN, return_sequences=True, return_state=True),
        lambda: SimpleRNN(UNITS, input_size=IN, return_sequences=True, return_state=True),
        lambda: SimpleRNN(
            UNITS, input_size=IN, activation="relu", return_sequences=True, return_state=True
        ),
        lambda: LSTM(
            UNITS, input_size=IN, use_bias=False, return_sequences=True, return_state=True
        ),
    ],
)
def test_to_torch_and_back(make):
    torch.manual_seed(0)
    layer = make()
    with torch.no_grad():  # non-trivial biases
        if layer.bias is not None:
            layer.bias.normal_()
    module = layer.to_torch()
    x = torch.randn(B, T, IN)
    lengths = torch.tensor([5, 2, 3])
    out, *states = layer(x, lengths=lengths)
    t_out, t_hidden = torch_run(module, x, lengths)
    t_states = t_hidden if isinstance(t_hidden, tuple) else (t_hidden,)
    valid = (torch.arange(T) < lengths[:, None])[..., None]
    torch.testing.assert_close(out * valid, t_out, atol=1e-6, rtol=1e-5)
    for s, ts in zip(states, t_states):
        torch.testing.assert_close(s, ts[0], atol=1e-6, rtol=1e-5)

    back = type(layer).from_torch(module, return_sequences=True)
    for a, b in zip(back.get_keras_weights(), layer.get_keras_weights()):
        np.testing.assert_allclose(a, b, atol=1e-7)
    if isinstance(layer, SimpleRNN):
        assert back.cell.activation is layer.cell.activation


def test_from_torch_sums_the_two_lstm_biases():
    torch.manual_seed(0)
    module = torch.nn.LSTM(IN, UNITS, batch_first=True)  # torch init: both biases non-zero
    layer = LSTM.from_torch(module)
    _kernel, _rk, bias = layer.get_keras_weights()
    np.testing.assert_allclose(bias, (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy())
    x = torch.randn(B, T, IN)
    torch.testing.assert_close(layer(x), module(x)[1][0][0], atol=1e-6, rtol=1e-5)


def test_gru_gate_reordering():
    torch.manual_seed(0)
    module = torch.nn.GRU(IN, UNITS, batch_first=True)
    layer = GRU.from_torch(module, return_sequences=True)
    x = torch.randn(B, T, IN)
    torch.testing.assert_close(layer(x), module(x)[0], atol=1e-6, rtol=1e-5)
    kernel = layer.get_keras_weights()[0]
    w_ih = module.weight_ih_l0.detach().numpy()  # torch r, z, n; Keras z, r, h
    np.testing.assert_array_equal(kernel[:, :UNITS], w_ih[UNITS : 2 * UNITS].T)
    np.testing.assert_array_equal(kernel[:, UNITS : 2 * UNITS], w_ih[:UNITS].T)


def test_bidirectional_to_and_from_torch():
    torch.manual_seed(0)
    bi = Bidirectional(LSTM(UNITS, input_size=IN, return_sequences=True))
    module = bi.to_torch()
    assert module.bidirectional
    x = torch.randn(B, T, IN)
    lengths = torch.tensor([5, 2, 3])
    t_out, _ = torch_run(module, x, lengths)
    valid = (torch.arange(T) < lengths[:, None])[..., None]
    torch.testing.assert_close(bi(x, lengths=lengths) * valid, t_out, atol=1e-6, rtol=1e-5)
    back = Bidirectional.from_torch(module, return_sequences=True)
    for a, b in zip(back.get_keras_weights(), bi.get_keras_weights()):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_function_round_trip():
    k, rk, b = torch.randn(IN, 3 * UNITS), torch.randn(UNITS, 3 * UNITS), torch.randn(2, 3 * UNITS)
    back = torch_to_keras("gru", *keras_to_torch("gru", k, rk, b))
    for x, y in zip(back, (k, rk, b)):
        assert torch.equal(x, y)


def test_conversion_errors():
    with pytest.raises(ValueError, match="reset_after=False has no torch"):
        GRU(UNITS, input_size=IN, reset_after=False).to_torch()
    with pytest.raises(ValueError, match="num_layers=1"):
        LSTM.from_torch(torch.nn.LSTM(IN, UNITS, num_layers=2))
    with pytest.raises(TypeError, match="of kind 'lstm', got GRU"):
        LSTM.from_torch(torch.nn.GRU(IN, UNITS))
    with pytest.raises(ValueError, match="Bidirectional.from_torch"):
        GRU.from_torch(torch.nn.GRU(IN, UNITS, bidirectional=True))
    with pytest.raises(ValueError, match="`kind` must be one of"):
        keras_to_torch("rnn", torch.zeros(1, 1), torch.zeros(1, 1), None)


def test_set_keras_weights_validation():
    layer = LSTM(UNITS, input_size=IN)
    good = layer.get_keras_weights()
    with pytest.raises(
        ValueError,
        match=r"LSTM expects 3 weight arrays with shapes "
        r"\[\(4, 24\), \(6, 24\), \(24,\)\], got 2",
    ):
        layer.set_keras_weights(good[:2])
    with pytest.raises(
        ValueError,
        match=r"weight 1 \(recurrent_kernel\) must have shape \(6, 24\), "
        r"got \(24, 6\)",
    ):
        layer.set_keras_weights([good[0], good[1].T, good[2]])
    with pytest.raises(TypeError, match="`weights` must be a list of arrays"):
        layer.set_keras_weights(good[0])
    bi = Bidirectional(GRU(UNITS, input_size=IN))
    with pytest.raises(ValueError, match="Bidirectional expects 6 weight arrays"):
        bi.set_keras_weights(bi.get_keras_weights()[:3])
    # a failed load leaves the weights untouched
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_keras_weights(), good))


def test_set_keras_weights_keeps_dtype_and_accepts_tensors():
    layer = GRU(UNITS, input_size=IN).double()
    weights = [torch.ones(s, dtype=torch.float32) for s in layer.cell.keras_weight_shapes()]
    layer.set_keras_weights(weights)
    assert (
        layer.kernel.dtype == torch.float64 and float(layer.kernel.detach().sum()) == IN * 3 * UNITS
    )
