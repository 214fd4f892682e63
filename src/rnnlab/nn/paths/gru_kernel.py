"""rnnlab's GRU kernel: a time loop with a hand-written backward pass, for CPU.

torch has no oneDNN GRU kernel for the CPU: `torch._VF.gru` there is a loop of
small autograd operations, and its backward pass spends most of its time
accumulating per-step gradients (zero tensors filled and added at every step).
Here a GRU layer (Keras GRU, `reset_after=True`, sigmoid / tanh) is one
`torch.autograd.Function`:

* forward: the input projections of all steps in one matmul, then per step one
  addmm (h @ recurrent_kernel + recurrent bias) and five element-wise
  operations, written into preallocated (time, batch, ...) buffers;
* backward: the coefficients that do not depend on the incoming gradient are
  computed for all steps at once, leaving per step one multiply, one addcmul and
  one addmm (the gradient through h @ recurrent_kernel); the weight and input
  gradients are then single large matmuls over all steps.

Both passes run with subnormals flushed to zero (`denormals.py`): gradients
that vanish over hundreds of steps otherwise make even the large matmuls of
the backward pass several times slower.

Variable lengths: with rows sorted by length (longest first) and `batch_sizes`
(active rows per step, non-increasing), step t only computes rows
[:batch_sizes[t]], as a packed sequence does. Outputs at inactive positions are
zeros and receive no gradient; the caller reads each row at its own steps
(`run_gru_layer` gathers each row's valid block to step 0 as `fused.py` does,
so masks with holes and recurrent dropout are the loop's).

Equations (x_* are the projected inputs incl. the input bias, U = recurrent_kernel,
b' = recurrent bias):

    [r_z, r_r, r_h] = h_{t-1} @ U + b'
    z = σ(x_z + r_z)   r = σ(x_r + r_r)   hh = tanh(x_h + r * r_h)
    h_t = z * h_{t-1} + (1 - z) * hh

>>> torch.manual_seed(0) and None
>>> x, kernel, rk, h0 = torch.randn(5, 2, 3), torch.randn(3, 6), torch.randn(2, 6), torch.randn(2, 2)
>>> gru_sequence(x, kernel, None, rk, None, h0, batch_sizes=[2, 2, 1, 1, 0]).shape
torch.Size([5, 2, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.autograd.function import once_differentiable

from rnnlab.nn.paths.denormals import flush_denormals
from rnnlab.nn.paths.fused import Blocks, run_shifted


class _GRURecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, in_bias, rk, rec_bias, h0, batch_sizes):
        T, B, n_in = x.shape
        k = kernel.shape[1]
        u = k // 3
        x2 = x.reshape(T * B, n_in)
        xp = torch.addmm(in_bias, x2, kernel) if in_bias is not None else x2 @ kernel
        xp = xp.view(T, B, k)
        new = torch.zeros if batch_sizes is not None else torch.empty
        kw = {"dtype": xp.dtype, "device": xp.device}
        hs = new(T + 1, B, u, **kw)  # h_0 .. h_T: h_{t-1} for every step is hs[:-1]
        hs[0] = h0
        zr = new(T, B, 2 * u, **kw)  # z, r
        hh = new(T, B, u, **kw)  # candidate
        rec = new(T, B, k, **kw)  # h_{t-1} @ U + b'
        with flush_denormals(xp.device.type == "cpu"):
            for t in range(T):
                n = B if batch_sizes is None else batch_sizes[t]
                if n == 0:
                    break
                hp, rec_t, zr_t, hh_t = hs[t, :n], rec[t, :n], zr[t, :n], hh[t, :n]
                if rec_bias is None:
                    torch.mm(hp, rk, out=rec_t)
                else:
                    torch.addmm(rec_bias, hp, rk, out=rec_t)
                torch.add(xp[t, :n, : 2 * u], rec_t[:, : 2 * u], out=zr_t)
                zr_t.sigmoid_()
                torch.addcmul(xp[t, :n, 2 * u :], zr_t[:, u:], rec_t[:, 2 * u :], out=hh_t)
                hh_t.tanh_()
                torch.lerp(hh_t, hp, zr_t[:, :u], out=hs[t + 1, :n])  # hh + z * (h - hh)
        ctx.save_for_backward(x2, kernel, rk, hs, zr, hh, rec)
        ctx.batch_sizes = batch_sizes
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        with flush_denormals(dout.device.type == "cpu"):
            return _GRURecurrence._backward(ctx, dout)

    @staticmethod
    def _backward(ctx, dout):
        x2, kernel, rk, hs, zr, hh, rec = ctx.saved_tensors
        need = ctx.needs_input_grad
        batch_sizes = ctx.batch_sizes
        T, B, u = dout.shape
        hprev = hs[:-1]
        z, r = zr[..., :u], zr[..., u:]
        # dL/dh_t times coef = dL/d(x_z, x_r, r_h) at step t; a_h: d h_t / d x_h.
        coef = torch.empty_like(rec)
        c_z, c_r, a_h = coef[..., :u], coef[..., u : 2 * u], coef[..., 2 * u :]
        one_m_z = 1 - z
        torch.mul(hh, hh, out=a_h)
        a_h.neg_().add_(1).mul_(one_m_z)  # (1 - hh^2)(1 - z)
        torch.sub(hprev, hh, out=c_z).mul_(z).mul_(one_m_z)
        torch.mul(r, r, out=c_r)
        torch.sub(r, c_r, out=c_r).mul_(rec[..., 2 * u :]).mul_(a_h)  # r(1 - r) r_h a_h
        a_h = a_h.clone()  # coef's h block becomes a_h * r; dx_h needs a_h itself
        coef[..., 2 * u :].mul_(r)
        dh = dout.clone()  # becomes dL/dh_t as the loop goes back
        drec = torch.zeros_like(rec) if batch_sizes is not None else torch.empty_like(rec)
        dh0 = torch.zeros_like(hs[0])
        rk_t = rk.t()
        for t in range(T - 1, -1, -1):
            n = B if batch_sizes is None else batch_sizes[t]
            if n < B:
                dh[t, n:] = 0  # inactive positions are outputs of nothing
            if n == 0:
                continue
            d = dh[t, :n]
            dr = drec[t, :n]
            torch.mul(d.unsqueeze(1), coef[t, :n].view(n, 3, u), out=dr.view(n, 3, u))
            target = dh[t - 1, :n] if t > 0 else dh0[:n]
            target.addcmul_(d, z[t, :n])
            target.addmm_(dr, rk_t)
        drk = hprev.reshape(T * B, u).t() @ drec.view(T * B, 3 * u) if need[3] else None
        drec_bias = drec.sum((0, 1)) if need[4] else None
        # drec becomes dL/dxp: the z and r blocks are the same, the h block is dh * a_h.
        torch.mul(dh, a_h, out=drec[..., 2 * u :])
        dxp = drec.view(T * B, 3 * u)
        # Inside the flushed block too: vanishing gradients make these matmuls slow otherwise.
        dx = (dxp @ kernel.t()).view(T, B, -1) if need[0] else None
        dkernel = x2.t() @ dxp if need[1] else None
        din_bias = dxp.sum(0) if need[2] else None
        return dx, dkernel, din_bias, drk, drec_bias, dh0 if need[5] else None, None


def gru_sequence(
    x: torch.Tensor,
    kernel: torch.Tensor,
    input_bias: torch.Tensor | None,
    recurrent_kernel: torch.Tensor,
    recurrent_bias: torch.Tensor | None,
    h0: torch.Tensor,
    batch_sizes: Sequence[int] | None = None,
) -> torch.Tensor:
    """A GRU layer's outputs over time-major inputs; differentiable in every tensor argument.

    Args:
        x: (time, batch, input_size).
        kernel: (input_size, 3 * units), Keras layout (gates z, r, h).
        input_bias: (3 * units,) or None.
        recurrent_kernel: (units, 3 * units), Keras layout.
        recurrent_bias: (3 * units,) or None.
        h0: (batch, units) initial state.
        batch_sizes: active rows per step (non-increasing, rows sorted by
            length), or None when every row runs every step.

    Returns:
        (time, batch, units) h after each step (zeros where a row is inactive).
    """
    bs = None if batch_sizes is None else [int(n) for n in batch_sizes]
    return _GRURecurrence.apply(
        x, kernel, input_bias, recurrent_kernel, recurrent_bias, h0.contiguous(), bs
    )


def run_gru(cell, x: torch.Tensor, h0: torch.Tensor, batch_sizes=None) -> torch.Tensor:
    """A `GRUCell` (reset_after, sigmoid / tanh) over time-major inputs.

    Args:
        cell: the GRUCell holding the Keras-layout parameters.
        x: (time, batch, input_size), dropout already applied.
        h0: (batch, units).
        batch_sizes: as `gru_sequence`.

    Returns:
        (time, batch, units) outputs.
    """
    bias = cell.bias
    return gru_sequence(
        x,
        cell.kernel,
        None if bias is None else bias[0],
        cell.recurrent_kernel,
        None if bias is None else bias[1],
        h0,
        batch_sizes,
    )


def run_gru_layer(
    cell,
    x: torch.Tensor,
    states: tuple[torch.Tensor, ...],
    blocks: Blocks | None,
    *,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """A GRU layer's forward on this kernel: `fused.run_fused`'s arguments and results.

    Args:
        cell: the GRUCell (reset_after, sigmoid / tanh).
        x: (batch, time, input_size), input dropout already applied.
        states: (h0,), h0 (batch, units).
        blocks: None when every step is valid, else `fused.mask_blocks` of the
            mask in processing order.
        go_backwards, return_sequences, zero_output_for_mask: as the layer's.

    Returns:
        (output, (final h,)): output (batch, time, units) or (batch, units).
    """
    if blocks is None:
        if go_backwards:
            x = x.flip(1)
        out = run_gru(cell, x.transpose(0, 1), states[0])  # (T, B, u)
        return (out.transpose(0, 1) if return_sequences else out[-1]), (out[-1],)
    return run_shifted(
        lambda xs, h, batch_sizes: run_gru(cell, xs, h[0], batch_sizes),
        x,
        states,
        blocks,
        sort_rows=True,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        zero_output_for_mask=zero_output_for_mask,
    )
