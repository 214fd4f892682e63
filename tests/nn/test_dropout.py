"""Variational dropout: one mask per sequence reused at every step, per-gate masks,
keep rate, eval mode, reproducibility."""

import pytest
import torch

from rnnlab.nn import GRU, LSTM, LockedDropout, SimpleRNN, draw_masks, variational_mask


def probe(units=40, **kwargs):
    """A linear SimpleRNN whose outputs expose its dropout masks.

    kernel = I and recurrent_kernel = 0: output_t = x_t * input_mask, so with
    x = 1 the output at every step *is* the input mask.
    """
    return SimpleRNN(
        units,
        input_size=units,
        activation="linear",
        use_bias=False,
        kernel_initializer=torch.nn.init.eye_,
        recurrent_initializer=0.0,
        return_sequences=True,
        **kwargs,
    )


def test_input_mask_is_the_same_at_every_step_and_differs_across_sequences():
    torch.manual_seed(0)
    out = probe(dropout=0.5)(torch.ones(64, 7, 40))
    assert set(out.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert torch.equal(out, out[:, :1].expand_as(out))  # same units dropped at every step
    assert len({tuple(row.tolist()) for row in out[:, 0]}) == 64  # one mask per sequence


def test_recurrent_mask_is_the_same_at_every_step():
    torch.manual_seed(0)
    rnn = SimpleRNN(
        30,
        input_size=1,
        activation="linear",
        use_bias=False,
        kernel_initializer=0.0,
        recurrent_initializer=torch.nn.init.eye_,
        recurrent_dropout=0.5,
        return_sequences=True,
    )
    out = rnn(torch.ones(16, 5, 1), initial_state=torch.ones(16, 30))
    # h_t = h_{t-1} * m  ->  m ** t: the zero pattern never changes over time
    zeros = out == 0
    assert torch.equal(zeros, zeros[:, :1].expand_as(zeros))
    assert 0 < zeros[:, 0].float().mean() < 1


def test_keep_rate_matches_p():
    torch.manual_seed(0)
    for p in (0.2, 0.5, 0.8):
        m = variational_mask((4, 500, 50), p)
        kept = (m > 0).float().mean().item()  # 100,000 draws: std 0.0016
        assert abs(kept - (1 - p)) < 0.01
        assert torch.allclose(m[m > 0], torch.tensor(1 / (1 - p)))


def test_nothing_dropped_in_eval_mode():
    torch.manual_seed(0)
    layer = LSTM(
        8,
        input_size=4,
        dropout=0.5,
        recurrent_dropout=0.5,
        return_sequences=True,
        implementation="fused",
    )
    x = torch.randn(3, 5, 4)
    layer.eval()
    a = layer(x)
    assert layer.last_path == "fused"  # recurrent dropout is off in eval: fused kernel runs
    layer.implementation = "loop"
    b = layer(x)
    plain = LSTM(8, input_size=4, return_sequences=True).eval()
    plain.set_keras_weights(layer.get_keras_weights())
    torch.testing.assert_close(a, plain(x))
    torch.testing.assert_close(b, a)
    assert torch.equal(probe(dropout=0.9).eval()(torch.ones(2, 3, 40)), torch.ones(2, 3, 40))


@pytest.mark.parametrize("gates, name", [(4, "LSTM i,f,c,o"), (3, "GRU z,r,h")])
def test_per_gate_masks_with_recurrent_dropout(gates, name):
    g = torch.Generator().manual_seed(0)
    m = draw_masks(8, 20, 20, gates=gates, dropout=0.5, recurrent_dropout=0.5, generator=g)
    assert m.inputs.shape == (gates, 8, 20) and m.recurrent.shape == (gates, 8, 20)
    for masks in (m.inputs, m.recurrent):
        for i in range(gates):
            for j in range(i + 1, gates):
                assert not torch.equal(masks[i], masks[j]), (
                    f"{name}: gates {i} and {j} share a mask"
                )
    assert not torch.equal(m.inputs[:, :, :20], m.recurrent)


def test_one_shared_input_mask_without_recurrent_dropout():
    m = draw_masks(8, 20, 10, gates=4, dropout=0.5, recurrent_dropout=0.0)
    assert m.inputs.shape == (1, 8, 20) and m.recurrent is None
    m = draw_masks(8, 20, 10, gates=1, dropout=0.5, recurrent_dropout=0.5)  # SimpleRNN
    assert m.inputs.shape == (1, 8, 20) and m.recurrent.shape == (1, 8, 10)
    m = draw_masks(8, 20, 10, gates=4, dropout=0.5, recurrent_dropout=0.5, shared=True)
    assert m.inputs.shape == (1, 8, 20) and m.recurrent.shape == (1, 8, 10)


def test_layer_uses_per_gate_masks():
    """Per-gate masks change the result: compare with the shared-mask option."""
    x = torch.randn(4, 6, 5)
    outs = []
    for shared in (False, True):
        torch.manual_seed(1)
        layer = GRU(
            6, input_size=5, dropout=0.4, recurrent_dropout=0.4, seed=3, shared_dropout_masks=shared
        )
        outs.append(layer(x))
    assert not torch.allclose(outs[0], outs[1])


def test_reproducible_under_manual_seed():
    torch.manual_seed(0)
    layer = LSTM(8, input_size=4, dropout=0.3, recurrent_dropout=0.3)
    x = torch.randn(5, 6, 4)
    torch.manual_seed(42)
    a = layer(x)
    b = layer(x)  # a new forward call draws new masks
    torch.manual_seed(42)
    c = layer(x)
    assert torch.equal(a, c)
    assert not torch.equal(a, b)


def test_reproducible_with_seed_argument():
    x = torch.randn(5, 6, 4)
    layers = []
    for _ in range(2):
        torch.manual_seed(0)
        layers.append(GRU(8, input_size=4, dropout=0.3, recurrent_dropout=0.3, seed=11))
    torch.manual_seed(1)
    a = layers[0](x)
    torch.manual_seed(2)  # the global RNG does not matter with `seed`
    b = layers[1](x)
    assert torch.equal(a, b)


def test_fast_path_and_loop_draw_the_same_input_mask():
    """With only `dropout`, both paths use one shared mask from the same draw."""
    x = torch.randn(4, 7, 3, requires_grad=True)
    outs = []
    for path in ("fused", "loop"):
        torch.manual_seed(0)
        layer = LSTM(
            5, input_size=3, dropout=0.5, seed=9, implementation=path, return_sequences=True
        )
        outs.append(layer(x, lengths=torch.tensor([7, 3, 1, 0])))
        assert layer.last_path == path
    torch.testing.assert_close(outs[0], outs[1], atol=1e-6, rtol=1e-5)


def test_locked_dropout():
    torch.manual_seed(0)
    y = LockedDropout(0.5)(torch.ones(8, 5, 16))
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    with pytest.raises(ValueError, match=r"`rate` must be in \[0, 1\), got 1.5"):
        LockedDropout(1.5)
