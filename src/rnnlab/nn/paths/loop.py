"""The step-by-step time loop, for what the fused kernels cannot do.

It runs every cell, mask and dropout pattern: what neither torch's fused kernels
nor rnnlab's kernels compute (custom activations, a GRU with
`reset_after=False` or recurrent dropout, masks with gaps where rnnlab's LSTM /
SimpleRNN kernels do not run; `choose.py` decides), every forward with
`implementation='loop'`, and the reference in tests. It keeps the per-step work small:

* all time steps' input projections are one matmul before the loop (the input
  dropout masks are constant over time, so x * mask @ kernel can be hoisted);
* inside the loop only h @ recurrent_kernel and the gate arithmetic remain;
* for cells whose pre-activations are `xp_t + hm_t @ recurrent_kernel` (LSTM,
  SimpleRNN), the loop multiplies by a *detached* recurrent kernel, and the
  kernel's gradient is computed after the backward pass through time as one
  large matmul, sum_t hm_t^T dz_t, where dz_t is exactly the gradient of the
  projected input xp_t. That replaces one small matmul per step in the
  backward pass (the slowest part of an autograd time loop on CPU).

Masking follows Keras's `backend.rnn`: on a masked step the states are carried
over and the output is the previous step's output (zeros before any valid
step, or always zeros with `zero_output_for_mask`).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnlab.nn.dropout import DropoutMasks


class _RecurrentKernelGrad(torch.autograd.Function):
    """Identity on the projected inputs; its backward adds the recurrent kernel's gradient.

    forward(xp, rk, store) returns xp. After the loop, `store` receives the
    stacked masked states hm, laid out like xp: (time, batch, units), or
    gate-major (gates, time, batch, units). The gradient of xp is dz for every
    step, so grad(rk) = hm^T @ dz over all steps at once.
    """

    @staticmethod
    def forward(ctx, xp, rk, store):
        ctx.store = store
        ctx.per_gate = rk.dim() == 3
        return xp.view_as(xp)

    @staticmethod
    @once_differentiable
    def backward(ctx, dxp):
        hm = ctx.store[0]
        if ctx.per_gate:  # hm, dxp: (k, T, B, u); rk: (k, u, u)
            k = hm.shape[0]
            a = hm.reshape(k, -1, hm.shape[-1])
            b = dxp.reshape(k, -1, dxp.shape[-1])
            return dxp, torch.bmm(a.transpose(1, 2), b), None
        a = hm.reshape(-1, hm.shape[-1])  # (T * B, u)
        b = dxp.reshape(-1, dxp.shape[-1])  # (T * B, k * u)
        return dxp, a.t() @ b, None


def run_loop(
    cell,
    x: torch.Tensor,
    states: tuple[torch.Tensor, ...],
    masks: DropoutMasks,
    step_mask: torch.Tensor | None,
    *,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run `cell` over the time steps of `x`.

    Args:
        cell: a `RecurrentCell`.
        x: (batch, time, input_size).
        states: initial states, each (batch, units).
        masks: this batch's dropout masks.
        step_mask: (batch, time) bool, True on valid steps, or None.
        go_backwards, return_sequences, zero_output_for_mask: as the layer's.

    Returns:
        (output, final states): output (batch, time, units) in processing
        order, or the last step's (batch, units).
    """
    T = x.shape[1]
    pg = cell.per_gate(masks)
    xp = cell.project_inputs(x.transpose(0, 1), masks.inputs, pg)
    prep = cell.prepare(pg)
    rec = masks.recurrent
    hoist = cell.additive_recurrence and torch.is_grad_enabled() and prep[0].requires_grad
    if hoist:
        store: list[torch.Tensor] = []
        xp = _RecurrentKernelGrad.apply(xp, prep[0], store)
        prep = (prep[0].detach(), *prep[1:])
        prev_h = []
    xs = xp.unbind(1 if pg else 0)
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    outs = []
    if step_mask is None:
        for t in order:
            if hoist:
                prev_h.append(states[0])
            states = cell.step(xs[t], states, rec, prep, pg)
            if return_sequences:
                outs.append(states[0])
        last = states[0]
    else:
        ms = step_mask.t().unsqueeze(-1).unbind(0)  # time x (batch, 1)
        last = torch.zeros_like(states[0])
        for t in order:
            if hoist:
                prev_h.append(states[0])
            new = cell.step(xs[t], states, rec, prep, pg)
            m = ms[t]
            states = tuple(torch.where(m, n, s) for n, s in zip(new, states))
            last = torch.where(m, new[0], 0.0 if zero_output_for_mask else last)
            if return_sequences:
                outs.append(last)
    if hoist:
        if go_backwards:
            prev_h.reverse()  # index by time step, like xp
        hm = torch.stack(prev_h).detach()  # (T, B, u)
        if pg:  # gate-major, like xp
            hm = hm.unsqueeze(0)
            hm = hm * rec.unsqueeze(1) if rec is not None else hm.expand(cell.gates, -1, -1, -1)
        elif rec is not None:
            hm = hm * rec[0]
        store.append(hm)
    return (torch.stack(outs, 1) if return_sequences else last), states
