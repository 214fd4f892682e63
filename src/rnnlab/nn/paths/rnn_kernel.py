"""A SimpleRNN (tanh) time loop in C with a hand-written backward pass (CPU, float32).

The LSTM kernel's little sibling (`lstm_kernel.py` explains the design): the
input projection of all steps is one matmul, the recurrence runs in C
(`_native_loops.c`: per step one GEMM and one element-wise pass, batch rows
spread over torch's threads), and the gradients of the kernels and the inputs
are one matmul each over all steps. It replaces torch's CPU `rnn_tanh`, which
records a few autograd operations per step, in every float32 training forward,
and the generic loop under recurrent dropout (`choose.py` decides). Without the
C loops it cannot run (the fused kernel and the generic loop compute the same
numbers).

    z_t = x_t * m_in @ W + b + (h_{t-1} * m_rec) @ U        h_t = tanh(z_t)
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnlab.nn.dropout import DropoutMasks
from rnnlab.nn.paths import native
from rnnlab.nn.paths.lstm_kernel import output_weights


class _SimpleRNNRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, bias, rk, in_mask, rm, h0, step_mask):
        # x: (T, B, n) in processing order; kernel: (n, u); bias: (u,) or None; rk: (u, u);
        # in_mask: (B, n) or None; rm: (B, u) or None; step_mask: (T, B) bool or None.
        T, B, n = x.shape
        u = rk.shape[0]
        loops = native.loops()
        if in_mask is None:
            xm = x.contiguous()
        else:  # (T, B, n) contiguous, whatever x's strides
            xm = torch.mul(x, in_mask, out=torch.empty(T, B, n, dtype=x.dtype))
        act = (
            torch.addmm(bias, xm.view(T * B, n), kernel)
            if bias is not None
            else xm.view(T * B, n) @ kernel
        )
        act = act.view(T, B, u)  # pre-activations, then (in place) h_t before masking
        hs = torch.empty(T + 1, B, u, dtype=x.dtype)
        hs[0] = h0
        rk = rk.contiguous()
        rm = None if rm is None else rm.contiguous()
        hm = hs[:-1] if rm is None else torch.empty(T, B, u, dtype=x.dtype)
        masked_states = None if rm is None else hm
        loops.rnn_forward(T, B, u, *native.pointers(act, rk, rm, hs, masked_states, step_mask))
        ctx.save_for_backward(xm, kernel, in_mask, rk, rm, hm, act, step_mask)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs):
        xm, kernel, in_mask, rk, rm, hm, act, step_mask = ctx.saved_tensors
        need = ctx.needs_input_grad
        T, B, u = act.shape
        n = xm.shape[-1]
        dh = dhs.contiguous().clone()  # becomes dL/dh_t as the loop goes back
        dz = torch.empty(T, B, u, dtype=act.dtype)
        dhm = torch.empty(B, u, dtype=act.dtype)  # scratch
        dh0 = torch.empty(B, u, dtype=act.dtype)
        native.loops().rnn_backward(
            T, B, u, *native.pointers(act, rk, rm, step_mask, dh, dz, dhm, dh0)
        )
        dz2 = dz.view(T * B, u)
        dx = dkernel = dbias = drk = None
        if need[0]:
            dx = (dz2 @ kernel.t()).view(T, B, n)
            if in_mask is not None:
                dx.mul_(in_mask)
        if need[1]:
            dkernel = xm.reshape(T * B, n).t() @ dz2
        if need[2]:
            dbias = dz2.sum(0)
        if need[3]:
            drk = hm.reshape(T * B, u).t() @ dz2
        h0g = dh0 if need[6] else None
        return dx, dkernel, dbias, drk, None, None, h0g, None


def run_simple_rnn(
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
    """`run_loop` for a tanh SimpleRNNCell (same arguments and results)."""
    if go_backwards:
        x = x.flip(1)
        step_mask = None if step_mask is None else step_mask.flip(1)
    x = x.transpose(0, 1)  # (T, B, n)
    sm = None if step_mask is None else step_mask.t().contiguous()
    in_mask = None if masks.inputs is None else masks.inputs[0]
    rec_mask = None if masks.recurrent is None else masks.recurrent[0]
    hs = _SimpleRNNRecurrence.apply(
        x,
        cell.kernel,
        cell.bias,
        cell.recurrent_kernel,
        in_mask,
        rec_mask,
        states[0].contiguous(),
        sm,
    )
    hT = hs[-1]
    if sm is None:
        out = hs.transpose(0, 1) if return_sequences else hT
    else:
        w = output_weights(sm, zero_output_for_mask).to(hs.dtype)
        out = (hs * w).transpose(0, 1) if return_sequences else hT * w[-1]
    return out, (hT,)
