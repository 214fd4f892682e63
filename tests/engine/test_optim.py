"""make_optimizer: Keras defaults, torch defaults, the kernel choice, errors."""

import pytest
import torch

from rnnlab.engine import make_optimizer


def params():
    return [torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "fused": True}),
        ("adamw", {"lr": 1e-3, "eps": 1e-7, "weight_decay": 0.004, "fused": True}),
        ("sgd", {"lr": 0.01, "momentum": 0.0, "fused": True}),
        ("rmsprop", {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7, "foreach": True}),
        ("adagrad", {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7, "fused": True}),
    ],
)
def test_keras_defaults_and_fastest_kernel(name, expected):
    group = make_optimizer(name, params()).param_groups[0]
    assert {k: group[k] for k in expected} == expected


def test_torch_defaults_explicit_values_and_kernels():
    assert make_optimizer("adam", params(), defaults="torch").param_groups[0]["eps"] == 1e-8
    group = make_optimizer(
        "Adam", params(), lr=0.01, betas=(0.8, 0.9), implementation="foreach"
    ).param_groups[0]
    assert (group["lr"], group["betas"], group["foreach"], group["fused"]) == (
        0.01,
        (0.8, 0.9),
        True,
        None,
    )
    assert (
        make_optimizer("sgd", params(), implementation="single").param_groups[0]["foreach"] is False
    )


def test_fused_and_foreach_adam_agree_closely():
    def final(impl):
        p = torch.nn.Parameter(torch.linspace(-1, 1, 50))
        opt = make_optimizer("adam", [p], lr=0.01, implementation=impl)
        for _ in range(20):
            opt.zero_grad()
            (p**2).sum().backward()
            opt.step()
        return p.detach()

    torch.testing.assert_close(final("fused"), final("foreach"), rtol=1e-5, atol=1e-7)


def test_errors_name_the_argument_and_the_choices():
    with pytest.raises(ValueError, match="did you mean `adam`"):
        make_optimizer("adma", params())
    with pytest.raises(ValueError, match="`defaults` must be one of 'keras', 'torch'"):
        make_optimizer("adam", params(), defaults="tf")
    with pytest.raises(ValueError, match="no fused 'rmsprop'"):
        make_optimizer("rmsprop", params(), implementation="fused")
    with pytest.raises(TypeError, match="implementation="):
        make_optimizer("adam", params(), fused=True)
    with pytest.raises(ValueError, match="`lr` must be non-negative"):
        make_optimizer("adam", params(), lr=-1.0)
