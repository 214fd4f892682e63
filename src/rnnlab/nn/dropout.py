"""Variational ("locked") dropout masks, drawn once per sequence batch.

Keras RNN dropout follows Gal & Ghahramani (2016): a mask is drawn once per
batch (one forward call) and reused at every time step, so a dropped unit stays
dropped for the whole sequence. Each sequence in the batch gets its own mask.
Kept units are scaled by 1 / (1 - rate), so nothing needs rescaling at eval time.

How many masks Keras 3 draws depends on `recurrent_dropout`:

* `recurrent_dropout > 0`: the LSTM and GRU cells switch to `implementation=1`
  and draw one input mask and one recurrent mask *per gate* (4 + 4 for an LSTM
  in gate order i, f, c, o; 3 + 3 for a GRU in order z, r, h).
* only `dropout`: one input mask, shared by all gates.
* a SimpleRNN always has one mask of each kind.

`draw_masks(..., shared=True)` draws one mask of each kind even with recurrent
dropout: the "tied" variant, cheaper, and *not* what Keras does.

>>> g = torch.Generator().manual_seed(0)
>>> m = draw_masks(2, 3, 4, gates=4, dropout=0.5, recurrent_dropout=0.5, generator=g)
>>> tuple(m.inputs.shape), tuple(m.recurrent.shape)
((4, 2, 3), (4, 2, 4))
>>> sorted(set(m.inputs.flatten().tolist()))
[0.0, 2.0]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from rnnlab.errors import check_fraction


class DropoutMasks(NamedTuple):
    """The masks of one forward call; None where that dropout is off.

    Attributes:
        inputs: (count, batch, input_size) input masks, values 0 or 1 / (1 - dropout).
        recurrent: (count, batch, units) recurrent-state masks.

    `count` is the number of gates when masks are drawn per gate, else 1.
    """

    inputs: torch.Tensor | None
    recurrent: torch.Tensor | None


def variational_mask(
    shape: tuple[int, ...],
    rate: float,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A dropout mask: each entry 0 with probability `rate`, else 1 / (1 - rate).

    Args:
        shape: the mask's shape, e.g. (count, batch, features).
        rate: drop probability in [0, 1).
        dtype, device: of the returned mask.
        generator: draw from this generator (on its own device) instead of the
            global RNG, for reproducibility independent of other draws.
    """
    keep = 1.0 - rate
    if generator is None:
        u = torch.rand(shape, dtype=dtype, device=device)
    else:
        u = torch.rand(shape, dtype=dtype, device=generator.device, generator=generator)
        u = u.to(device)
    return (u < keep).to(dtype) * (1.0 / keep)


def draw_masks(
    batch: int,
    input_size: int,
    units: int,
    *,
    gates: int,
    dropout: float,
    recurrent_dropout: float,
    shared: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> DropoutMasks:
    """Draw the masks of one forward call, as Keras 3 does (see module docs).

    Args:
        batch, input_size, units: mask sizes.
        gates: gates of the cell (1 SimpleRNN, 3 GRU, 4 LSTM).
        dropout: input drop rate.
        recurrent_dropout: recurrent drop rate; > 0 means one mask per gate.
        shared: one mask of each kind even with recurrent dropout (not Keras).

    Returns:
        DropoutMasks; input masks are drawn before recurrent masks.
    """
    count = gates if recurrent_dropout > 0 and not shared else 1
    opts: dict[str, Any] = {"dtype": dtype, "device": device, "generator": generator}
    inputs = variational_mask((count, batch, input_size), dropout, **opts) if dropout > 0 else None
    recurrent = (
        variational_mask((count, batch, units), recurrent_dropout, **opts)
        if recurrent_dropout > 0
        else None
    )
    return DropoutMasks(inputs, recurrent)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, reused at every step (Keras SpatialDropout1D).

    Args:
        rate: drop probability in [0, 1).

    Shapes:
        x: (batch, time, features) -> (batch, time, features); a feature is
        dropped at every step of a sequence or at none.

    >>> drop = LockedDropout(0.5)
    >>> y = drop(torch.ones(2, 3, 4))
    >>> bool((y == y[:, :1]).all())
    True
    >>> drop.eval()(torch.ones(1, 2, 2))
    tensor([[[1., 1.],
             [1., 1.]]])
    """

    def __init__(self, rate: float, generator: torch.Generator | None = None):
        super().__init__()
        self.rate = check_fraction("rate", rate)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        mask = variational_mask(
            (x.shape[0], 1, x.shape[-1]),
            self.rate,
            dtype=x.dtype,
            device=x.device,
            generator=self.generator,
        )
        return x * mask

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
