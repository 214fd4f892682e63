"""`Embedding`: token ids to vectors, with Keras's init (uniform +-0.05) and `mask_zero`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.errors import InvalidTypeError, InvalidValueError, check_int, check_positive, check_type
from rnnlab.nn import convert
from rnnlab.nn.initializers import check_initializer, initialize


class Embedding(nn.Module):
    """A lookup table of `input_dim` vectors of size `output_dim` (Keras `Embedding`).

    Args:
        input_dim: vocabulary size; ids must be in [0, input_dim).
        output_dim: vector size.
        embeddings_initializer: 'uniform' (Keras: U(-0.05, 0.05); torch's
            nn.Embedding uses N(0, 1)), any name of `rnnlab.nn.initializers`,
            a number or an in-place callable.
        mask_zero: id 0 is padding: `compute_mask(ids)` returns `ids != 0`, to
            pass as the recurrent layer's `mask`. As in Keras the row for id 0 is
            still an ordinary trainable vector.
        padding_idx: torch semantics, not Keras: this row starts at zero and
            gets no gradient. Independent of `mask_zero`.

    Shapes:
        ids: (batch, time) integer -> (batch, time, output_dim); any leading
        shape works.

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> emb = Embedding(input_dim=10, output_dim=3, mask_zero=True)
    >>> ids = torch.tensor([[4, 2, 0, 0]])
    >>> emb(ids).shape
    torch.Size([1, 4, 3])
    >>> emb.compute_mask(ids)
    tensor([[ True,  True, False, False]])
    >>> bool(emb.weight.abs().max() <= 0.05)
    True
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        mask_zero: bool = False,
        padding_idx: int | None = None,
    ):
        super().__init__()
        self.input_dim: int = check_positive("input_dim", input_dim)
        self.output_dim: int = check_positive("output_dim", output_dim)
        self.embeddings_initializer = check_initializer(
            "embeddings_initializer", embeddings_initializer
        )
        self.mask_zero = check_type("mask_zero", mask_zero, bool)
        self.padding_idx = check_int("padding_idx", padding_idx, minimum=0, allow_none=True)
        if self.padding_idx is not None and self.padding_idx >= self.input_dim:
            raise InvalidValueError(
                f"`padding_idx` must be < input_dim ({self.input_dim}), got {self.padding_idx}"
            )
        self.weight = nn.Parameter(torch.empty(self.input_dim, self.output_dim))
        self.reset_parameters()

    @property
    def embeddings(self) -> nn.Parameter:
        """The table, (input_dim, output_dim): Keras's name for `weight`."""
        return self.weight

    def reset_parameters(self) -> None:
        """Re-draw the table; the `padding_idx` row, if any, is zeroed."""
        initialize(self.weight, self.embeddings_initializer)
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].zero_()

    def _check_ids(self, ids: Any) -> torch.Tensor:
        ids = torch.as_tensor(ids, device=self.weight.device)
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise InvalidTypeError(f"`ids` must be integer token ids, got dtype {ids.dtype}")
        if ids.numel():
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.input_dim:
                raise InvalidValueError(
                    f"`ids` must be in [0, {self.input_dim - 1}] (input_dim={self.input_dim}), "
                    f"got values from {lo} to {hi}"
                )
        return ids

    def forward(self, ids: Any) -> torch.Tensor:
        """Look up `ids` (batch, time) -> (batch, time, output_dim)."""
        return F.embedding(self._check_ids(ids), self.weight, self.padding_idx)

    def compute_mask(self, ids: Any) -> torch.Tensor | None:
        """`ids != 0` (bool, same shape) when `mask_zero`, else None (Keras)."""
        if not self.mask_zero:
            return None
        return torch.as_tensor(ids, device=self.weight.device) != 0

    def get_keras_weights(self) -> list[np.ndarray]:
        """[embeddings], as Keras `get_weights()`."""
        return [self.weight.detach().cpu().numpy().copy()]

    @torch.no_grad()
    def set_keras_weights(self, weights: Sequence[Any]) -> None:
        """Load [embeddings] of shape (input_dim, output_dim)."""
        (table,) = convert.check_keras_weights(
            "Embedding", weights, [(self.input_dim, self.output_dim)], names=["embeddings"]
        )
        self.weight.copy_(torch.as_tensor(table, dtype=self.weight.dtype))

    def extra_repr(self) -> str:
        s = f"{self.input_dim}, {self.output_dim}"
        if self.mask_zero:
            s += ", mask_zero=True"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
