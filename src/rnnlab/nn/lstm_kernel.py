"""An LSTM time loop with recurrent dropout and a hand-written backward pass (CPU).

With `recurrent_dropout > 0` Keras (implementation=1) draws four recurrent
masks, one per gate i, f, c, o: gate g's recurrent pre-activation is
(h_{t-1} * rm_g) @ U_g. torch's fused LSTM cannot do that, and the generic
autograd loop (`loop.py`) records ~15 small operations per step whose backward
dominates the training time. Here the whole recurrence is one
`torch.autograd.Function`:

* forward: the input projections of all steps (each gate's own input mask)
  as one batched matmul, then per step one multiply (h * rm), one baddbmm over
  the four gates, the activations in place and the cell update, all written
  into preallocated buffers (gates kept internally in order o, i, f, c);
* backward: every coefficient that does not depend on the incoming gradient is
  computed for all steps at once (masked steps folded in), leaving per step
  about eight element-wise operations and one bmm; the gradients of the
  kernels, the bias and the inputs are then one batched matmul each over all
  steps.

Masks by step (`step_mask`) follow Keras's `backend.rnn`: on a masked step the
states are carried over. The Function returns h_1..h_T and c_T; the layer's
outputs are h_t times a 0/1 weight (see `output_weights`).

Both passes run with subnormals flushed to zero (`denormals.py`).

Equations (xp_* the projected inputs incl. bias, rm_* the recurrent masks):

    z_g = xp_g + (h_{t-1} * rm_g) @ U_g       for g in i, f, c, o
    i, f, o = σ(z_i), σ(z_f), σ(z_o)          g = tanh(z_c)
    c_t = f * c_{t-1} + i * g                 h_t = o * tanh(c_t)
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnlab.nn import native
from rnnlab.nn.activations import activation_name
from rnnlab.nn.denormals import flush_denormals
from rnnlab.nn.dropout import DropoutMasks

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


class _LSTMRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, bias, rk, in_mask, rm, h0, c0, step_mask):
        # x: (T, B, n) in processing order; kernel: (n, 4u); bias: (4u,) or None;
        # rk: (u, 4u); in_mask: (k, B, n) or None; rm: (k, B, u), k in (1, 4);
        # step_mask: (T, B, 1) bool in processing order, or None.
        T, B, n = x.shape
        u = rk.shape[0]
        kw = {"dtype": x.dtype, "device": x.device}
        kg, rkg = _gates(kernel, u), _gates(rk, u)  # (4, n, u), (4, u, u)
        loops = _native_loops(x)
        if rm is not None:
            rm = _per_gate(rm).contiguous()
        elif loops is None:  # the Python loops always multiply by a mask
            rm = torch.ones(4, B, u, **kw)
        # xm: the masked inputs of each gate, (4, T, B, n); one copy shared by the gates
        # (a stride-0 view) unless Keras's per-gate input masks make four.
        if in_mask is None or in_mask.shape[0] == 1:
            im = in_mask  # (1, B, n) or None
            x1 = x.contiguous() if im is None else torch.mul(x, im, out=torch.empty(T, B, n, **kw))
            xm = x1.unsqueeze(0).expand(4, T, B, n)
        else:
            im = _per_gate(in_mask).unsqueeze(1)  # (4, 1, B, n)
            xm = torch.empty(4, T, B, n, **kw)  # contiguous, whatever x's strides
            torch.mul(x.unsqueeze(0), im, out=xm)
        # act: the gate pre-activations, then (in place) the gates o, i, f, g after
        # their activations; it starts as the input projections.
        act = torch.empty(4, T, B, u, **kw)
        act2 = act.view(4, T * B, u)
        xm2 = xm.reshape(4, T * B, n)
        if bias is None:
            torch.bmm(xm2, kg, out=act2)
        else:
            torch.baddbmm(bias.view(4, 1, u)[_PERM], xm2, kg, out=act2)
        hs = torch.empty(T + 1, B, u, **kw)
        cs = torch.empty(T + 1, B, u, **kw)
        hs[0], cs[0] = h0, c0
        tc = torch.empty(T, B, u, **kw)  # tanh(c_t)
        if rm is None:  # no recurrent dropout: the states themselves are the bmm's left operand
            hm = hs[:-1].unsqueeze(0).expand(4, T, B, u)
        else:
            hm = torch.empty(4, T, B, u, **kw)  # masked states, the bmm's left operand
        with flush_denormals(x.device.type == "cpu"):
            if loops is not None:
                masked_states = None if rm is None else hm
                loops.lstm_forward(
                    T, B, u, *native.pointers(act, rkg, rm, hs, cs, masked_states, tc, step_mask)
                )
            else:
                _forward_loop(act, rkg, rm, hs, cs, hm, tc, step_mask)
        ctx.save_for_backward(xm, kg, im, rkg, rm, hm, cs, act, tc, step_mask)
        return hs[1:], cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dcT):
        with flush_denormals(dhs.device.type == "cpu"):
            return _LSTMRecurrence._backward(ctx, dhs, dcT)

    @staticmethod
    def _backward(ctx, dhs, dcT):
        xm, kg, im, rkg, rm, hm, cs, act, tc, step_mask = ctx.saved_tensors
        need = ctx.needs_input_grad
        _, T, B, u = act.shape
        n = kg.shape[1]
        kw = {"dtype": act.dtype, "device": act.device}
        dz = torch.empty(4, T, B, u, **kw)  # dL/dxp
        dh = dhs.contiguous().clone()  # becomes dL/dh_t as the loop goes back
        dc = dcT.contiguous().clone()  # becomes dL/dc_0
        dh0 = torch.empty(B, u, **kw)
        loops = _native_loops(act)
        if loops is not None:
            dhm = torch.empty(4, B, u, **kw)  # scratch: one step's dL/d(h * rm_g)
            loops.lstm_backward(
                T, B, u, *native.pointers(act, tc, cs, rkg, rm, step_mask, dh, dc, dz, dhm, dh0)
            )
        else:
            _backward_loop(act, tc, cs, rkg, rm, step_mask, dh, dc, dz, dh0)
        # Weight and input gradients: one bmm each over all steps.
        dz2 = dz.view(4, T * B, u)
        dx = dkernel = dbias = drk = None
        if need[3]:
            drk = _keras(torch.bmm(hm.reshape(4, T * B, u).transpose(1, 2), dz2))
        if need[1]:
            dkernel = _keras(torch.bmm(xm.reshape(4, T * B, n).transpose(1, 2), dz2))
        if need[2]:
            dbias = dz2.sum(1)[_INV].reshape(-1)
        if need[0]:
            if im is None or im.dim() == 3:  # one input mask (or none) for all gates
                dx = torch.addbmm(dz2.new_empty(T * B, n), dz2, kg.transpose(1, 2), beta=0)
                dx = dx.view(T, B, n) if im is None else dx.view(T, B, n).mul_(im)
            else:
                dxm = torch.bmm(dz2, kg.transpose(1, 2)).view(4, T, B, n)
                dx = dxm.mul_(im).sum(0)
        # The dropout masks are constants: no gradient.
        h0g = dh0 if need[6] else None
        c0g = dc if need[7] else None
        return dx, dkernel, dbias, drk, None, None, h0g, c0g, None


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


def will_backpropagate(cell, x: torch.Tensor) -> bool:
    """Whether this forward records gradients (training), the case rnnlab's kernels speed up."""
    return torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in cell.parameters())
    )


# Off: every LSTM runs torch's fused kernel or the generic loop (parity tests, benchmarks).
USE_LSTM_KERNEL = True


def lstm_kernel_applies(cell, x: torch.Tensor, masks: DropoutMasks, use_fast_path="auto") -> bool:
    """Whether `run_lstm` computes this forward: a standard LSTM on CPU, and either

    * recurrent dropout is in effect (torch's fused kernel cannot do it; without the
      C loops the kernel's Python loops still beat the generic loop), or
    * it is a training forward in float32 with the C loops built and `use_fast_path`
      'auto': they train faster than torch's fused (oneDNN) LSTM on CPU, from the
      tutorials' small layers up. Inference stays on the fused kernel.
    """
    from rnnlab.nn.cells import LSTMCell

    standard = (
        USE_LSTM_KERNEL
        and type(cell).step is LSTMCell.step
        and isinstance(cell, LSTMCell)
        and x.device.type == "cpu"
        and activation_name(cell.activation) == "tanh"
        and activation_name(cell.recurrent_activation) == "sigmoid"
    )
    if not standard:
        return False
    if masks.recurrent is not None:
        return masks.recurrent.shape[0] in (1, 4)
    return (
        use_fast_path == "auto"
        and will_backpropagate(cell, x)
        and x.dtype == torch.float32
        and native.loops() is not None
    )


def run_lstm(
    cell,
    x: torch.Tensor,
    states: tuple[torch.Tensor, torch.Tensor],
    masks: DropoutMasks,
    step_mask: torch.Tensor | None,
    *,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """`run_loop` for a standard LSTMCell (same arguments and results)."""
    if go_backwards:
        x = x.flip(1)
        step_mask = None if step_mask is None else step_mask.flip(1)
    x = x.transpose(0, 1)  # (T, B, n)
    if masks.inputs is None:
        x = x.contiguous()
    sm = None if step_mask is None else step_mask.t().unsqueeze(-1).contiguous()
    h0, c0 = (s.contiguous() for s in states)
    hs, cT = _LSTMRecurrence.apply(
        x, cell.kernel, cell.bias, cell.recurrent_kernel, masks.inputs, masks.recurrent, h0, c0, sm
    )
    hT = hs[-1]
    if sm is None:
        out = hs.transpose(0, 1) if return_sequences else hT
    else:
        w = output_weights(sm[..., 0], zero_output_for_mask).to(hs.dtype)
        out = (hs * w).transpose(0, 1) if return_sequences else hT * w[-1]
    return out, (hT, cT)
