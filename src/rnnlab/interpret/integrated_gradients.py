"""Integrated gradients over a model's embedding vectors, written against torch directly.

For one input with embedding vectors ``e`` and a baseline ``b``, the attribution
of step t is ``sum_d (e - b)[t, d] * integral_0^1 dF/dz[t, d] (b + a (e - b)) da``,
where F is the explained score (a logit). The integral is a Gauss-Legendre rule
with `steps` nodes (the rule Captum uses by default; exact for polynomials of
degree 2 * steps - 1), or the trapezoid rule. The attributions then add up to
``F(e) - F(b)`` (completeness) up to the rule's error and float32 rounding.

The interpolated vectors replace the embedding layer's output through a forward
hook, so the rest of the model (its mask from the ids, the recurrent layers)
runs unchanged: the same forward as a prediction. The hook acts only in the
thread that explains, so a server may go on predicting with the same module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from rnnlab.errors import check_choice, check_int

Score = Callable[[torch.Tensor], torch.Tensor]
RULES = ("gauss_legendre", "trapezoid")


def quadrature(steps: int, rule: str = "gauss_legendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes in [0, 1] and weights summing to 1 of an integration rule.

    >>> nodes, weights = quadrature(3)
    >>> round(float((weights * nodes ** 5).sum()), 12)  # exact to degree 5: 1/6
    0.166666666667
    >>> quadrature(3, "trapezoid")[1].tolist()
    [0.25, 0.5, 0.25]
    """
    check_choice("rule", rule, RULES)
    if rule == "gauss_legendre":
        check_int("steps", steps, minimum=1)
        x, w = np.polynomial.legendre.leggauss(steps)
        return (x + 1) / 2, w / 2
    check_int("steps", steps, minimum=2)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2
    return np.linspace(0.0, 1.0, steps), weights


def integrated_gradients(
    module: nn.Module,
    embedding: nn.Module,
    inputs: Sequence[torch.Tensor],
    positions: Sequence[int],
    score: Score,
    steps: int = 64,
    rule: str = "gauss_legendre",
    batch_size: int = 64,
) -> tuple[np.ndarray, float, float]:
    """Attributions of the steps ``positions`` of one input, over ``embedding``'s output.

    Args:
        module: the model, called as ``module(*inputs)``.
        embedding: its embedding layer (a submodule whose output is (1, time, dim)).
        inputs: the model's tensors for one input (batch of 1).
        positions: the steps to attribute; their baseline is the zero vector.
            Every other step (start token, padding) keeps its vector in the
            baseline too, so it gets no attribution.
        score: logits (n, k) -> the explained score (n,).
        steps, rule: the integration rule (see `quadrature`).
        batch_size: interpolation points per forward pass.

    Returns:
        (attributions (time,) float64, F(input), F(baseline)).
    """
    check_int("batch_size", batch_size, minimum=1)
    inputs = tuple(inputs)
    nodes, weights = quadrature(steps, rule)
    was_training = module.training
    module.eval()
    replacement: list[torch.Tensor | None] = [None]
    captured: list[torch.Tensor] = []

    owner = threading.get_ident()

    def hook(_module: nn.Module, _args: object, output: torch.Tensor) -> torch.Tensor | None:
        if threading.get_ident() != owner:
            return None
        if replacement[0] is None:
            captured.append(output.detach())
            return None
        return replacement[0]

    handle = embedding.register_forward_hook(hook)
    try:
        with torch.no_grad():
            f_input = float(score(module(*inputs))[0])
        e = captured[0][:1]
        b = e.clone()
        b[0, list(positions)] = 0.0
        with torch.no_grad():
            replacement[0] = b
            f_baseline = float(score(module(*inputs))[0])
        delta = e - b
        total = torch.zeros_like(e[0], dtype=torch.float64)
        for lo in range(0, len(nodes), batch_size):
            a = torch.as_tensor(nodes[lo : lo + batch_size], dtype=e.dtype, device=e.device)
            w = torch.as_tensor(weights[lo : lo + batch_size], dtype=torch.float64, device=e.device)
            z = (b + a[:, None, None] * delta).requires_grad_(True)
            replacement[0] = z
            batch = tuple(t.expand(len(a), *t.shape[1:]) for t in inputs)
            (grad,) = torch.autograd.grad(score(module(*batch)).sum(), z)
            total += (w[:, None, None] * grad.double()).sum(0)
    finally:
        handle.remove()
        module.train(was_training)
    attributions = (delta[0].double() * total).sum(-1)
    return attributions.cpu().numpy(), f_input, f_baseline
