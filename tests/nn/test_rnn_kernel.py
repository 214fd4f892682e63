"""rnnlab's SimpleRNN kernel (`rnn_kernel.py`, C loops) against the generic loop and torch's kernel."""

import itertools

import pytest
import torch

from rnnlab.nn import SimpleRNN

B, T, N, U = 5, 7, 4, 6
F32_TOL = {"atol": 1e-5, "rtol": 1e-5}


def run(layer, x, kwargs, implementation):
    """Outputs and gradients (x, initial state, parameters) of one forward, and its path."""
    layer.implementation = implementation
    layer.generator = torch.Generator().manual_seed(3)  # the same masks on both paths
    layer.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    kwargs = dict(kwargs)
    init = [torch.randn(B, U, generator=torch.Generator().manual_seed(4)).requires_grad_(True)]
    out = layer(x, initial_state=init, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(11)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    grads = torch.autograd.grad(loss, [x, *init, *layer.parameters()])
    return [o.detach() for o in outs] + list(grads), layer.last_path


MASKS = {
    "none": {},
    "post": {"lengths": torch.tensor([7, 3, 0, 5, 1])},
    "pre": {"lengths": torch.tensor([7, 3, 0, 5, 1]), "padding": "pre"},
    "gaps": {"mask": torch.rand(B, T, generator=torch.Generator().manual_seed(5)) > 0.4},
}


@pytest.mark.parametrize(
    ("go_backwards", "return_sequences", "masking", "rates"),
    list(
        itertools.product([False, True], [False, True], list(MASKS), [(0, 0), (0.3, 0), (0.3, 0.4)])
    ),
)
def test_kernel_equals_the_other_paths(go_backwards, return_sequences, masking, rates):
    torch.manual_seed(0)
    dropout, recurrent_dropout = rates
    layer = SimpleRNN(
        U,
        input_size=N,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        return_state=True,
    )
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(B, T, N)
    got, path = run(layer, x, MASKS[masking], "auto")
    reference = "loop" if recurrent_dropout or masking == "gaps" else "fused"
    want, ref_path = run(layer, x, MASKS[masking], reference)
    assert path == "kernel"
    assert ref_path == reference
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, **F32_TOL)


def test_stacked_tutorial_shape_trains_the_same():
    """A few Adam steps of the Reuters stacked SimpleRNN shape give the same weights both ways."""

    def train(implementation):
        torch.manual_seed(0)
        kw = {"implementation": implementation}
        layers = torch.nn.Sequential(
            SimpleRNN(50, input_size=1, return_sequences=True, **kw),
            SimpleRNN(50, input_size=50, **kw),
        )
        opt = torch.optim.Adam(layers.parameters(), lr=1e-3)
        x = torch.randn(50, 49, 1, generator=torch.Generator().manual_seed(1))
        for _ in range(5):
            opt.zero_grad()
            layers(x).square().mean().backward()
            opt.step()
        assert layers[0].last_path == ("kernel" if implementation == "auto" else "fused")
        return [p.detach().clone() for p in layers.parameters()]

    # Adam divides by the gradient's own scale, so rounding-level differences in a
    # near-zero gradient become differences of up to lr per step: 1e-4 after 5 steps.
    for a, b in zip(train("auto"), train("fused"), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_not_used_for_relu_float64_or_inference():
    x = torch.randn(2, 4, 3)
    layer = SimpleRNN(2, input_size=3, activation="relu")
    layer(x)
    assert layer.last_path == "fused"
    layer = SimpleRNN(2, input_size=3, recurrent_dropout=0.2).double()
    layer(x.double())
    assert layer.last_path == "loop"
    layer = SimpleRNN(2, input_size=3).eval()
    with torch.no_grad():
        layer(x)
    assert layer.last_path == "fused"
    layer(x)  # gradients wanted: the kernel
    assert layer.last_path == "kernel"
