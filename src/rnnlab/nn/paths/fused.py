"""Torch's fused RNN kernels run on Keras-layout parameters, with Keras masking semantics.

`torch._VF.lstm` / `gru` / `rnn_tanh` / `rnn_relu` are the kernels behind
`nn.LSTM`, `nn.GRU` and `nn.RNN` (cuDNN on a GPU; on CPU oneDNN for the LSTM,
a native loop otherwise). The Keras-layout parameters are converted on every
call (`convert.keras_to_torch`, views and a few small copies), so gradients
flow back to them. Which forwards come here is decided in `choose.py`.

Keras masking semantics hold here for any mask whose valid steps are one
contiguous block per row (post- or pre-padding, in either direction; rows of
length zero too). On CPU each row's block is gathered to the front
(`run_shifted`: one index_select, time-major, which also reverses it for
go_backwards) and the *unmasked* kernel runs over the longest block: a step's
output depends only on the steps before it, so the outputs inside each block
are exact, and oneDNN's LSTM over the padded length is far faster than torch's
native packed loop. rnnlab's GRU kernel (`gru_kernel.py`) runs its masked
batches the same way, with the rows sorted by length so finished rows are
skipped. The outputs are gathered back where Keras would have them (zeros
before the block; after it, the last valid output, or zeros with
`zero_output_for_mask`); the final h is the output at each row's last valid
step. The final cell state c of an LSTM (`return_state`) cannot be read that
way, so that case, and every masked case on a GPU (cuDNN), runs as a packed
sequence. Masks with holes need the step-by-step loop.

>>> mask = torch.tensor([[True, True, False], [False, True, True], [False, False, False]])
>>> start, length = mask_blocks(mask)
>>> start.tolist(), length.tolist()
([0, 1, 0], [2, 2, 0])
>>> mask_blocks(torch.tensor([[True, False, True]])) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import convert

States = tuple[torch.Tensor, ...]
Blocks = tuple[torch.Tensor, torch.Tensor]
# An unmasked time-major kernel: (inputs (steps, B, n), initial states, active rows per
# step or None) -> outputs (steps, B, units).
StepsKernel = Callable[[torch.Tensor, States, Sequence[int] | None], torch.Tensor]


def mask_blocks(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(start, length) of each row's valid block, or None when some row has holes.

    Args:
        mask: (batch, time) bool, True for valid steps, in processing order.

    Returns:
        Two (batch,) int64 CPU tensors, or None.
    """
    m = mask.to("cpu", torch.bool)
    length = m.sum(1)
    start = torch.where(length > 0, m.to(torch.uint8).argmax(1), torch.zeros_like(length))
    pos = torch.arange(m.shape[1])
    block = (pos >= start[:, None]) & (pos < (start + length)[:, None])
    if not torch.equal(block, m):
        return None
    return start, length


def run_fused(
    cell,
    kernel: str,
    x: torch.Tensor,
    states: States,
    blocks: Blocks | None,
    *,
    packed: bool,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, States]:
    """Run a cell over a sequence batch on torch's fused kernel, with Keras semantics.

    Args:
        cell: a cell whose arithmetic torch's `kernel` computes.
        kernel: 'lstm', 'gru', 'rnn_tanh' or 'rnn_relu'.
        x: (batch, time, input_size), input dropout already applied.
        states: initial states, each (batch, units).
        blocks: None when every step is valid, else `mask_blocks` of the
            mask in processing order (flipped for go_backwards).
        packed: with `blocks`, run as a packed sequence instead of gathering
            each row's block to step 0 (a GPU; a masked LSTM's final c).
        go_backwards: process the sequence last step first.
        return_sequences: return every step's output (in processing order).
        zero_output_for_mask: masked steps output zeros instead of the last output.

    Returns:
        (output, final states): output (batch, time, units) or (batch, units).
        Gathered to step 0, the final states are h alone.
    """
    if blocks is None:
        return _run_full(cell, kernel, x, states, go_backwards, return_sequences)
    if packed:
        return _run_packed(
            cell, kernel, x, states, blocks, go_backwards, return_sequences, zero_output_for_mask
        )
    return run_shifted(
        _torch_steps(cell, kernel),
        x,
        states,
        blocks,
        sort_rows=False,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        zero_output_for_mask=zero_output_for_mask,
    )


def _torch_params(cell) -> list[torch.Tensor]:
    return convert.keras_to_torch(
        cell.kind,
        cell.kernel,
        cell.recurrent_kernel,
        cell.bias,
        reset_after=getattr(cell, "reset_after", True),
    )


def _torch_steps(cell, kernel: str) -> StepsKernel:
    """Torch's unmasked `kernel` over time-major inputs, as `run_shifted` calls it."""
    fn = getattr(torch._VF, kernel)

    def run(xs: torch.Tensor, states: States, batch_sizes: Sequence[int] | None) -> torch.Tensor:
        hx = tuple(s.unsqueeze(0) for s in states)
        res = fn(
            xs,
            hx if kernel == "lstm" else hx[0],
            _torch_params(cell),
            cell.bias is not None,
            1,
            0.0,
            torch.is_grad_enabled(),
            False,
            False,
        )
        return res[0]

    return run


def _run_full(cell, kernel, x, states, go_backwards, return_sequences):
    """No mask: one kernel call over all steps."""
    if go_backwards:
        x = x.flip(1)
    fn = getattr(torch._VF, kernel)
    hx = tuple(s.unsqueeze(0) for s in states)
    # cuDNN's backward needs the forward run in training mode.
    train = torch.is_grad_enabled()
    res = fn(
        x,
        hx if kernel == "lstm" else hx[0],
        _torch_params(cell),
        cell.bias is not None,
        1,
        0.0,
        train,
        False,
        True,
    )
    final = tuple(h.squeeze(0) for h in res[1:])
    return (res[0] if return_sequences else final[0]), final


def run_shifted(
    steps_kernel: StepsKernel,
    x: torch.Tensor,
    states: States,
    blocks: Blocks,
    *,
    sort_rows: bool,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, States]:
    """Each row's valid block gathered to step 0, an unmasked kernel, outputs gathered back.

    Args:
        steps_kernel: the unmasked time-major kernel (see `StepsKernel`).
        x: (batch, time, input_size), input dropout already applied.
        states: initial states, each (batch, units).
        blocks: `mask_blocks` of the mask in processing order.
        sort_rows: hand the kernel its rows longest first with the active rows
            per step (`batch_sizes`), so it can skip finished rows.
        go_backwards, return_sequences, zero_output_for_mask: as `run_fused`.

    Returns:
        (output, (final h,)): output (batch, time, units) or (batch, units).
    """
    start, length = blocks
    B, T, n = x.shape
    dev = x.device
    steps = max(int(length.max()), 1)
    pos = torch.arange(steps)
    batch_sizes = None
    if sort_rows:  # longest rows first, so step t runs rows [:batch_sizes[t]]
        order = torch.argsort(length, descending=True, stable=True)
        slot = torch.empty_like(order)
        slot[order] = torch.arange(B)
        batch_sizes = (length[None, :] > pos[:, None]).sum(1).tolist()
        ordered = tuple(s.index_select(0, order.to(dev)) for s in states)
    else:
        order = slot = torch.arange(B)
        ordered = states
    # Source step of (block step p, slot j): start + min(p, len - 1), in processing order.
    last = (length - 1).clamp(min=0)
    src = start[order][None, :] + torch.minimum(pos[:, None], last[order][None, :])
    if go_backwards:
        src = T - 1 - src
    flat = (order[None, :] * T + src).reshape(-1).to(dev)
    xs = x.reshape(B * T, n).index_select(0, flat).view(steps, B, n)
    h0 = states[0]
    out_p = steps_kernel(xs, ordered, batch_sizes)
    out_flat = out_p.reshape(steps * B, -1)  # row (p, slot j) at p * B + j
    empty = (length == 0).to(dev)[:, None]
    h_last = out_flat.index_select(0, (last * B + slot).to(dev))
    final_h = torch.where(empty, h0, h_last)
    if not return_sequences:
        keep = length > 0
        if zero_output_for_mask:
            keep &= start + length == T
        return torch.where(keep.to(dev)[:, None], final_h, 0.0), (final_h,)
    rel = torch.arange(T)[None, :] - start[:, None]  # (B, T): step within the block
    gidx = torch.minimum(rel.clamp(min=0), last[:, None]) * B + slot[:, None]
    out = out_flat.index_select(0, gidx.reshape(-1).to(dev)).view(B, T, -1)
    keep = (rel >= 0) & (length[:, None] > 0)
    if zero_output_for_mask:
        keep &= rel < length[:, None]
    return torch.where(keep.to(dev)[..., None], out, 0.0), (final_h,)


def _run_packed(
    cell, kernel, x, states, blocks, go_backwards, return_sequences, zero_output_for_mask
):
    """Each row's valid block shifted to the front and run as a packed sequence."""
    fn = getattr(torch._VF, kernel)
    has_bias = cell.bias is not None
    train = torch.is_grad_enabled()
    if go_backwards:
        x = x.flip(1)
    hx = tuple(s.unsqueeze(0) for s in states)

    def hidden(h):
        return h if kernel == "lstm" else h[0]

    start, length = blocks
    _B, T, n = x.shape
    pos = torch.arange(T)
    if bool((start != 0).any()):
        idx = (start[:, None] + pos).clamp(max=T - 1).to(x.device)
        x = x.gather(1, idx[..., None].expand(-1, -1, n))
    packed = pack_padded_sequence(x, length.clamp(min=1), batch_first=True, enforce_sorted=False)
    hx_sorted = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    res = fn(
        packed.data,
        packed.batch_sizes,
        hidden(hx_sorted),
        _torch_params(cell),
        has_bias,
        1,
        0.0,
        train,
        False,
    )
    final = tuple(h.index_select(1, packed.unsorted_indices).squeeze(0) for h in res[1:])
    empty = (length == 0).to(x.device)[:, None]
    final = tuple(torch.where(empty, s, h) for s, h in zip(states, final))

    if not return_sequences:
        keep = length > 0
        if zero_output_for_mask:
            keep &= start + length == T
        return torch.where(keep.to(x.device)[:, None], final[0], 0.0), final

    out_p, _ = pad_packed_sequence(
        PackedSequence(res[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        batch_first=True,
        total_length=T,
    )
    rel = pos[None, :] - start[:, None]  # (B, T): step index within the valid block
    last = (length - 1).clamp(min=0)[:, None]
    gidx = torch.minimum(rel.clamp(min=0), last).to(x.device)
    out = out_p.gather(1, gidx[..., None].expand(-1, -1, out_p.shape[2]))
    keep = (rel >= 0) & (length[:, None] > 0)
    if zero_output_for_mask:
        keep &= rel < length[:, None]
    out = torch.where(keep.to(x.device)[..., None], out, 0.0)
    return out, final
