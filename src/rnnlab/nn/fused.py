"""The fast path: Keras-layout parameters run on torch's fused RNN kernels.

`torch._VF.lstm` / `gru` / `rnn_tanh` / `rnn_relu` are the kernels behind
`nn.LSTM`, `nn.GRU` and `nn.RNN` (cuDNN on a GPU, a native loop on CPU). The
Keras-layout parameters are converted on every call (`convert.keras_to_torch`,
views and a few small copies), so gradients flow back to them.

Keras masking semantics hold on this path for any mask whose valid steps are
one contiguous block per row (post- or pre-padding, in either direction; rows
of length zero too): the block is shifted to the front, run as a packed
sequence, and the outputs are put back where Keras would have them (zeros
before the block; after it, the last valid output, or zeros with
`zero_output_for_mask`). Masks with holes need the step-by-step loop.

>>> mask = torch.tensor([[True, True, False], [False, True, True], [False, False, False]])
>>> start, length = mask_blocks(mask)
>>> start.tolist(), length.tolist()
([0, 1, 0], [2, 2, 0])
>>> mask_blocks(torch.tensor([[True, False, True]])) is None
True
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import convert


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
    states: tuple[torch.Tensor, ...],
    blocks: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run a cell over a sequence batch on a fused kernel, with Keras semantics.

    Args:
        cell: a cell whose `fused_kernel()` named `kernel`.
        kernel: 'lstm', 'gru', 'rnn_tanh' or 'rnn_relu'.
        x: (batch, time, input_size), input dropout already applied.
        states: initial states, each (batch, units).
        blocks: None when every step is valid, else `mask_blocks` of the
            mask in processing order (flipped for go_backwards).
        go_backwards: process the sequence last step first.
        return_sequences: return every step's output (in processing order).
        zero_output_for_mask: masked steps output zeros instead of the last output.

    Returns:
        (output, final states): output (batch, time, units) or (batch, units).
    """
    params = convert.keras_to_torch(
        cell.kind,
        cell.kernel,
        cell.recurrent_kernel,
        cell.bias,
        reset_after=getattr(cell, "reset_after", True),
    )
    fn = getattr(torch._VF, kernel)
    has_bias = cell.bias is not None
    # cuDNN's backward needs the forward run in training mode.
    train = torch.is_grad_enabled()
    if go_backwards:
        x = x.flip(1)
    hx = tuple(s.unsqueeze(0) for s in states)

    def hidden(h):
        return h if kernel == "lstm" else h[0]

    if blocks is None:
        res = fn(x, hidden(hx), params, has_bias, 1, 0.0, train, False, True)
        final = tuple(h.squeeze(0) for h in res[1:])
        return (res[0] if return_sequences else final[0]), final

    start, length = blocks
    _B, T, n = x.shape
    pos = torch.arange(T)
    if bool((start != 0).any()):
        idx = (start[:, None] + pos).clamp(max=T - 1).to(x.device)
        x = x.gather(1, idx[..., None].expand(-1, -1, n))
    packed = pack_padded_sequence(x, length.clamp(min=1), batch_first=True, enforce_sorted=False)
    hx_sorted = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    res = fn(
        packed.data, packed.batch_sizes, hidden(hx_sorted), params, has_bias, 1, 0.0, train, False
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
