"""rnnlab's LSTM kernel: C time loops and a hand-written backward pass for CPU training.

With `recurrent_dropout > 0` Keras (implementation=1) draws four recurrent
masks, one per gate i, f, c, o: gate g's recurrent pre-activation is
(h_{t-1} * rm_g) @ U_g. torch's fused LSTM cannot do that, and the generic
autograd loop (`loop.py`) records ~15 small operations per step whose backward
dominates the training time. (Without recurrent dropout the kernel still takes
every float32 training forward: its C loops are at least as fast as torch's
oneDNN LSTM; `choose.py` decides.) Here the whole recurrence is one
`torch.autograd.Function`:

* forward: per chunk of steps, the input projections (each gate's own input
  mask) as one batched matmul, then the time loop (`_native_loops.c`; the
  Python loops below are the reference and the fallback): per step one
  product per gate (h * rm_g) @ U_g, the activations in place and the cell
  update, all in preallocated buffers (gates kept internally in order o, i, f, c);
* backward: per chunk, last chunk first, the time loop gives the
  pre-activation gradients dz of the chunk's steps, and the gradients of the
  kernels, the bias and the inputs are then one batched matmul each over the
  chunk, while dz is still in cache.

A tutorial-sized sequence is one chunk. Long ones are walked in chunks that stay
in cache, and recompute the masked inputs and states in the backward pass
instead of storing them: a 1280-step pass then costs per token what an 80-step
one does.

Masks by step (`step_mask`) follow Keras's `backend.rnn`: on a masked step the
states are carried over. The Function returns h_1..h_T and c_T (h_T alone for a
layer that outputs only its last state, so no gradient of size T is built); the
layer's outputs are h_t times a 0/1 weight (see `output_weights`).

Both passes run with subnormals flushed to zero in every thread (`denormals.py`).

Equations (xp_* the projected inputs incl. bias, rm_* the recurrent masks):

    z_g = xp_g + (h_{t-1} * rm_g) @ U_g       for g in i, f, c, o
    i, f, o = σ(z_i), σ(z_f), σ(z_o)          g = tanh(z_c)
    c_t = f * c_{t-1} + i * g                 h_t = o * tanh(c_t)
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnlab.nn.dropout import DropoutMasks
from rnnlab.nn.paths import native
from rnnlab.nn.paths.denormals import flush_denormals

# Internal gate order o, i, f, c (Keras: i, f, c, o): the three sigmoid gates are
# contiguous in the forward pass, and so are the three gates whose gradient comes
# from dL/dc in the backward pass.
_PERM = [3, 0, 1, 2]  # internal position -> Keras gate
_INV = [1, 2, 3, 0]  # Keras gate -> internal position


def _gates(w: torch.Tensor, u: int) -> torch.Tensor:
    """(rows, 4u) Keras layout -> (4, rows, u) contiguous, internal gate order."""
    return w.view(w.shape[0], 4, u).transpose(0, 1)[_PERM].contiguous()


def _keras(g: torch.Tensor) -> torch.Tensor:
    """(4, rows, u) internal gate order -> (rows, 4u) Keras layout."""
    return g[_INV].transpose(0, 1).reshape(g.shape[1], -1)


def _per_gate(m: torch.Tensor, gates: int = 4) -> torch.Tensor:
    """(k, B, f) masks, k in (1, 4), as (4, B, f) in internal gate order."""
    return m[_PERM] if m.shape[0] == gates else m.expand(gates, -1, -1)


# Long sequences are walked in chunks of steps whose 4-gate buffers (about
# CHUNK_BYTES each) stay in cache between the large products and the time loop.
# Unchunked, a 1280-step pass streamed every buffer through main memory several
# times and cost 1.4-1.9x per token what an 80-step pass costs (4 MB measured
# best of 2, 4 and 8 MB on this machine's 2 MB L2 per core).
CHUNK_BYTES = 4 << 20


def chunk_steps(T: int, B: int, n: int, u: int) -> int:
    """Steps per chunk. A sequence up to twice the budget stays whole: splitting it
    would cost more in recomputation and per-chunk calls than the cache saves."""
    step_bytes = 16 * B * max(n, u)  # one step of a float32 4-gate buffer
    if T * step_bytes <= 2 * CHUNK_BYTES:
        return T
    return max(1, CHUNK_BYTES // step_bytes)


def _chunks(T: int, size: int) -> list[tuple[int, int]]:
    return [(t0, min(T, t0 + size)) for t0 in range(0, T, size)]


class _MaskedOperand:
    """A per-gate product's left operand over a chunk of steps: x * im_g, the masked
    inputs (x (T, B, n)) or the masked states (x = h_0..h_{T-1}, im the recurrent
    masks).

    Keras draws either one mask for all gates (or none) or one per gate. A sequence
    of several chunks recomputes the masked operand per chunk in the backward pass,
    in cache, instead of storing it; a one-chunk sequence keeps the forward pass's
    copy (`saved`, (k, T*B, n)).
    """

    def __init__(self, x, im, chunk, saved=None):
        _, B, n = x.shape
        self.x, self.im, self.saved = x, im, saved  # im: None, (1, B, n) or (4, 1, B, n)
        self.shared = im is None or im.dim() == 3
        if im is None or saved is not None:
            self.buf = None
        else:
            self.buf = x.new_empty(1 if self.shared else 4, chunk, B, n)

    def masked(self, t0, t1):
        """(k, L*B, n), k = 1 (shared by the gates) or 4."""
        if self.saved is not None:
            return self.saved  # one chunk: t0, t1 = 0, T
        x = self.x[t0:t1]
        L, B, n = x.shape
        if self.im is None:
            return x.reshape(1, L * B, n)
        out = self.buf[:, :L]
        torch.mul(x.unsqueeze(0) if self.shared else x, self.im, out=out)
        return out.view(out.shape[0], L * B, n)

    def gates(self, xm):
        """(k, rows, n) as the (4, rows, n) left operand of a per-gate product."""
        return xm.expand(4, -1, -1)

    def grad(self, dz, kg, out):
        """dL/dx of a chunk, into `out` (L, B, n), from dz (4, L*B, u): through the
        kernels, then the masks."""
        if self.shared:
            torch.addbmm(
                out.view(dz.shape[1], -1),
                dz,
                kg.transpose(1, 2),
                beta=0,
                out=out.view(dz.shape[1], -1),
            )
            if self.im is not None:
                out.mul_(self.im)
            return
        dxm = torch.bmm(dz, kg.transpose(1, 2)).view(4, *out.shape)
        torch.sum(dxm.mul_(self.im), 0, out=out)


class _LSTMRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, bias, rk, in_mask, rm, h0, c0, step_mask, sequences=True):
        # x: (T, B, n) in processing order; kernel: (n, 4u); bias: (4u,) or None;
        # rk: (u, 4u); in_mask: (k, B, n) or None; rm: (k, B, u), k in (1, 4);
        # step_mask: (T, B, 1) bool in processing order, or None.
        # Returns (h_1..h_T, c_T), or (h_T, c_T) when not `sequences`: then no
        # gradient of size T has to be materialised for the outputs.
        T, B, n = x.shape
        u = rk.shape[0]
        kw = {"dtype": x.dtype, "device": x.device}
        kg, rkg = _gates(kernel, u), _gates(rk, u)  # (4, n, u), (4, u, u)
        loops = _native_loops(x)
        if rm is not None:
            rm = _per_gate(rm).contiguous()
        elif loops is None:  # the Python loops always multiply by a mask
            rm = torch.ones(4, B, u, **kw)
        im = (
            None
            if in_mask is None
            else (in_mask if in_mask.shape[0] == 1 else _per_gate(in_mask).unsqueeze(1))
        )
        chunk = chunk_steps(T, B, n, u)
        whole = chunk == T  # one chunk: keep the masked inputs and states for backward
        inputs = _MaskedOperand(x, im, chunk)
        b4 = None if bias is None else bias.view(4, 1, u)[_PERM]
        # act: per chunk the input projections, then (in place, by the time loop) the
        # gates o, i, f, g after their activations; kept for the backward pass.
        act = torch.empty(4, T, B, u, **kw)
        hs = torch.empty(T + 1, B, u, **kw)
        cs = torch.empty(T + 1, B, u, **kw)
        hs[0], cs[0] = h0, c0
        # hm: the masked states h_{t-1} * rm_g, the recurrent products' left operands:
        # all steps' when one chunk (kept for backward), else one step's for the C loop.
        hm = None
        if loops is None or (rm is not None and whole):
            hm = torch.empty(4, chunk, B, u, **kw)
        elif rm is not None:
            hm = torch.empty(4, B, u, **kw)
        hm_strides = (B * u, 0) if hm is None or hm.dim() == 3 else (T * B * u, B * u)
        hm_saved = hm.view(4, T * B, u) if whole and hm is not None and hm.dim() == 4 else None
        if loops is None:
            tc = torch.empty(chunk, B, u, **kw)
        xm_saved = None
        with flush_denormals(x.device.type == "cpu"):
            for t0, t1 in _chunks(T, chunk):
                L = t1 - t0
                a = act[:, t0:t1].view(4, L * B, u)
                xm = inputs.masked(t0, t1)
                if whole and im is not None:
                    xm_saved = xm
                xm = inputs.gates(xm)
                if b4 is None:
                    torch.bmm(xm, kg, out=a)
                else:
                    torch.baddbmm(b4, xm, kg, out=a)
                sm = None if step_mask is None else step_mask[t0:t1]
                if loops is not None:
                    loops.lstm_forward(
                        L,
                        B,
                        u,
                        T * B * u,
                        *hm_strides,
                        *native.pointers(act[0, t0], rkg, rm, hs[t0], cs[t0], hm, sm),
                    )
                else:
                    _forward_loop(
                        act[:, t0:t1],
                        rkg,
                        rm,
                        hs[t0 : t1 + 1],
                        cs[t0 : t1 + 1],
                        hm[:, :L],
                        tc[:L],
                        sm,
                    )
        ctx.save_for_backward(x, kg, im, rkg, rm, hs, cs, act, step_mask, xm_saved, hm_saved)
        ctx.chunk, ctx.sequences = chunk, sequences
        return hs[1:] if sequences else hs[T], cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, dcT):
        with flush_denormals(dout.device.type == "cpu"):
            return _LSTMRecurrence._backward(ctx, dout, dcT)

    @staticmethod
    def _backward(ctx, dout, dcT):
        x, kg, im, rkg, rm, hs, cs, act, step_mask, xm_saved, hm_saved = ctx.saved_tensors
        need = ctx.needs_input_grad
        _, T, B, u = act.shape
        n = kg.shape[1]
        chunk = ctx.chunk
        kw = {"dtype": act.dtype, "device": act.device}
        inputs = _MaskedOperand(x, im, chunk, xm_saved)
        # dL/dh_t = (gradient from the outputs, dhs) + (from step t+1, carried back).
        if ctx.sequences:
            dhs, carry = dout.contiguous(), torch.zeros(B, u, **kw)
        else:
            dhs, carry = None, dout.contiguous().clone()
        dc = dcT.contiguous().clone()  # becomes dL/dc_0
        dz_buf = torch.empty(4, chunk, B, u, **kw)  # one chunk's dL/dxp
        dx = torch.empty(T, B, n, **kw) if need[0] else None
        dkg = torch.zeros(4, n, u, **kw) if need[1] else None
        dbias = torch.zeros(4, u, **kw) if need[2] else None
        drkg = torch.zeros(4, u, u, **kw) if need[3] else None
        if drkg is not None:
            rm4 = None if rm is None else rm.unsqueeze(1)  # (4, 1, B, u)
            states = _MaskedOperand(hs[:-1], rm4, chunk, hm_saved)  # h_{t-1} * rm_g
        loops = _native_loops(act)
        dhm = torch.empty(4, B, u, **kw)  # scratch: one step's dL/d(h * rm_g)
        dcur = torch.empty(B, u, **kw)  # scratch: one step's dL/dh_t
        for t0, t1 in reversed(_chunks(T, chunk)):
            L = t1 - t0
            dz4 = dz_buf[:, :L]
            sm = None if step_mask is None else step_mask[t0:t1]
            if loops is not None:
                loops.lstm_backward(
                    L,
                    B,
                    u,
                    T * B * u,
                    chunk * B * u,
                    *native.pointers(
                        act[0, t0],
                        cs[t0],
                        rkg,
                        rm,
                        sm,
                        None if dhs is None else dhs[t0],
                        carry,
                        dc,
                        dz_buf,
                        dhm,
                        dcur,
                    ),
                )
            else:
                dh = torch.zeros(L, B, u, **kw) if dhs is None else dhs[t0:t1].clone()
                dh[-1].add_(carry)
                tc = torch.tanh(cs[t0 + 1 : t1 + 1])
                _backward_loop(act[:, t0:t1], tc, cs[t0 : t1 + 1], rkg, rm, sm, dh, dc, dz4, carry)
            # Weight and input gradients of the chunk, while dz is in cache.
            dz = dz4.reshape(4, L * B, u)
            if drkg is not None:
                drkg.baddbmm_(states.gates(states.masked(t0, t1)).transpose(1, 2), dz)
            if dkg is not None:
                dkg.baddbmm_(inputs.gates(inputs.masked(t0, t1)).transpose(1, 2), dz)
            if dbias is not None:
                dbias.add_(dz.sum(1))
            if dx is not None:
                inputs.grad(dz, kg, dx[t0:t1])
        # The dropout masks are constants: no gradient.
        return (
            dx,
            None if dkg is None else _keras(dkg),
            None if dbias is None else dbias[_INV].reshape(-1),
            None if drkg is None else _keras(drkg),
            None,
            None,
            carry if need[6] else None,
            dc if need[7] else None,
            None,
            None,
        )


def _native_loops(like: torch.Tensor):
    """The C time loops when they apply (float32 on CPU and built here), else None."""
    if like.dtype != torch.float32 or like.device.type != "cpu":
        return None
    return native.loops()


def _forward_loop(act, rkg, rm, hs, cs, hm, tc, step_mask) -> None:
    """The forward time loop in torch operations (reference; same buffers as the C loop)."""
    T, B, u = tc.shape
    # Views made once: indexing inside the loop costs more than some of its operations.
    hs_l, cs_l, tc_l = hs.unbind(0), cs.unbind(0), tc.unbind(0)
    hm_l, act_l = hm.unbind(1), act.unbind(1)
    sig_l, g_l = act[:3].unbind(1), act[3].unbind(0)
    o_l, i_l, f_l = act[0].unbind(0), act[1].unbind(0), act[2].unbind(0)
    if step_mask is not None:
        h_new = torch.empty(B, u, dtype=act.dtype, device=act.device)
        c_new = torch.empty_like(h_new)
        sm_l = step_mask.unbind(0)
    for t in range(T):
        hm_t = hm_l[t]
        torch.mul(hs_l[t], rm, out=hm_t)
        act_l[t].baddbmm_(hm_t, rkg)
        sig_l[t].sigmoid_()
        g_l[t].tanh_()
        hn = hs_l[t + 1] if step_mask is None else h_new
        cn = cs_l[t + 1] if step_mask is None else c_new
        torch.mul(f_l[t], cs_l[t], out=cn)
        cn.addcmul_(i_l[t], g_l[t])
        torch.tanh(cn, out=tc_l[t])
        torch.mul(o_l[t], tc_l[t], out=hn)
        if step_mask is not None:
            m = sm_l[t]
            torch.where(m, hn, hs_l[t], out=hs_l[t + 1])
            torch.where(m, cn, cs_l[t], out=cs_l[t + 1])


def _backward_loop(act, tc, cs, rkg, rm, step_mask, dh, dc, dz, dh0) -> None:
    """The backward time loop in torch operations (reference; same buffers as the C loop).

    Every coefficient that does not depend on the incoming gradient is computed for
    all steps at once first, leaving per step a few element-wise operations and one bmm.
    """
    _, T, B, u = act.shape
    o, i, f, g = act.unbind(0)
    # dz_o = dh * ao; dc' = dc + dh * bc; dz_{i,f,g} = dc' * cg; dc_{t-1} = dc' * fm.
    ao = (1 - o).mul_(o).mul_(tc)
    bc = torch.addcmul(o, o * tc, tc, value=-1)  # o (1 - tanh(c)^2)
    cg = torch.empty(3, T, B, u, dtype=act.dtype, device=act.device)
    s = act[1:3]
    torch.mul(s, 1 - s, out=cg[:2])
    cg[0].mul_(g)
    cg[1].mul_(cs[:-1])
    torch.addcmul(i, i * g, g, value=-1, out=cg[2])  # i (1 - g^2)
    keep_l = None
    if step_mask is None:
        fm = f
    else:
        m = step_mask.to(act.dtype)  # (T, B, 1)
        ao.mul_(m)
        bc.mul_(m)
        cg.mul_(m)
        fm = torch.where(step_mask, f, 1.0)
        keep_l = (1 - m).unbind(0)  # a masked step passes dh straight through
    dhm = torch.empty(4, B, u, dtype=act.dtype, device=act.device)
    rkg_t = rkg.transpose(1, 2).contiguous()
    dh_l, dz_l, dzo_l, dzc_l = dh.unbind(0), dz.unbind(1), dz[0].unbind(0), dz[1:].unbind(1)
    ao_l, bc_l, cg_l, fm_l = ao.unbind(0), bc.unbind(0), cg.unbind(1), fm.unbind(0)
    dc0 = dc.unsqueeze(0)
    for t in range(T - 1, -1, -1):
        d = dh_l[t]
        dc.addcmul_(d, bc_l[t])
        torch.mul(dc0, cg_l[t], out=dzc_l[t])
        torch.mul(d, ao_l[t], out=dzo_l[t])
        torch.bmm(dz_l[t], rkg_t, out=dhm)
        dhm.mul_(rm)
        if t > 0:
            target = dh_l[t - 1]
            target.add_(dhm.sum(0))
        else:
            target = torch.sum(dhm, 0, out=dh0)
        if keep_l is not None:
            target.addcmul_(d, keep_l[t])
        dc.mul_(fm_l[t])


def output_weights(step_mask: torch.Tensor, zero_output_for_mask: bool) -> torch.Tensor:
    """(T, B, 1) 0/1 weights so that output_t = h_t * w_t (processing order).

    Keras outputs the previous output on a masked step: zeros before a row's
    first valid step, h_t (the carried state) after it; or zeros whenever
    masked with `zero_output_for_mask`.
    """
    seen = step_mask if zero_output_for_mask else step_mask.cummax(0).values
    return seen.unsqueeze(-1)


def run_lstm(
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
    """`run_loop` for a standard LSTMCell (same arguments and results)."""
    if go_backwards:
        x = x.flip(1)
        step_mask = None if step_mask is None else step_mask.flip(1)
    x = x.transpose(0, 1)  # (T, B, n)
    if masks.inputs is None:
        x = x.contiguous()
    sm = None if step_mask is None else step_mask.t().unsqueeze(-1).contiguous()
    h0, c0 = (s.contiguous() for s in states)
    out, cT = _LSTMRecurrence.apply(
        x,
        cell.kernel,
        cell.bias,
        cell.recurrent_kernel,
        masks.inputs,
        masks.recurrent,
        h0,
        c0,
        sm,
        return_sequences,
    )
    hT = out[-1] if return_sequences else out  # out: h_1..h_T, or h_T alone
    if sm is None:
        out = out.transpose(0, 1) if return_sequences else hT
    else:
        w = output_weights(sm[..., 0], zero_output_for_mask).to(hT.dtype)
        out = (out * w).transpose(0, 1) if return_sequences else hT * w[-1]
    return out, (hT, cT)
