"""Length-bucketed batches: rows of similar length together, each batch cut to its longest row.

A recurrent layer runs as many steps as the longest row of its batch. Drawn at random,
nearly every batch of long, ragged documents (IMDB reviews padded to 800 tokens) holds
one row near the cap, so every batch pays for it. `bucketed_order` keeps the epoch
random where it does not cost steps: the epoch's permutation is cut into windows of
`WINDOW_BATCHES` batches, each window is sorted by length and cut into batches, and the
full batches are shuffled (the short last one stays last, so distributed shards keep
the global batches whole). `BucketedData` applies it to in-memory token ids and cuts
each batch to its longest row; the token store's parts (`rnnlab.experiments.streamed`)
order their rows the same way.

>>> lengths = np.array([5, 1, 4, 2, 3, 6])
>>> order = bucketed_order(lengths, torch.Generator().manual_seed(0), batch_size=2)
>>> sorted(order.tolist()) == list(range(6))
True
>>> ids = torch.tensor([[5, 6, 0, 0, 0, 0], [1, 2, 3, 4, 0, 0], [7, 0, 0, 0, 0, 0]])
>>> data = BucketedData(ids, torch.tensor([2, 4, 1]), torch.tensor([0, 1, 0]), padding="post")
>>> (ids, lens), y = data.take(torch.tensor([0, 2]))
>>> tuple(ids.shape), lens.tolist()
((2, 2), [2, 1])
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlab.engine.data import ArrayData, Batch
from rnnlab.errors import DataError, check_choice

WINDOW_BATCHES = 8  # batches sorted by length together (a window of the epoch's permutation)


def bucketed_order(
    lengths: np.ndarray, generator: torch.Generator | None, batch_size: int
) -> torch.Tensor:
    """An epoch's sample order drawn from ``generator``, its batches bucketed by length.

    Without a generator (an unshuffled pass), the rows' own order: 0..n-1.
    """
    n, size = len(lengths), max(1, batch_size)
    if generator is None:
        return torch.arange(n)
    perm = torch.randperm(n, generator=generator).numpy()
    window = size * WINDOW_BATCHES
    for lo in range(0, n, window):
        chunk = perm[lo : lo + window]
        perm[lo : lo + window] = chunk[np.argsort(lengths[chunk], kind="stable")]
    full = n // size
    shuffled = torch.randperm(full, generator=generator).numpy()
    body = perm[: full * size].reshape(full, size)[shuffled].reshape(-1)
    return torch.from_numpy(np.concatenate([body, perm[full * size :]]))


def cut_to_longest(ids: torch.Tensor, lengths: torch.Tensor, padding: str) -> torch.Tensor:
    """(rows, maxlen) padded ids cut to the batch's longest row, on ``padding``'s side.

    Only zeros are cut: the width also keeps every non-zero id, should a row's length
    understate its tokens (an n-gram part reads every non-zero id, whatever the lengths).
    """
    full = ids.shape[1]
    used = torch.nonzero((ids != 0).any(0)).flatten()
    span = (
        0 if used.numel() == 0 else int(used[-1]) + 1 if padding == "post" else full - int(used[0])
    )
    width = min(max(1, span, int(lengths.max()) if len(lengths) else 0), full)
    return ids[:, :width] if padding == "post" else ids[:, full - width :]


class BucketedData(ArrayData):
    """Padded token ids, their lengths and the target, batched by length.

    Every batch (training or not) is cut to its longest row, on the side the padding
    is on; shuffled training batches are also bucketed. Only a model that masks its
    padding gives the same outputs on the cut batch, so the caller checks that.

    Args:
        ids: (n, maxlen) token ids, padded on ``padding``'s side.
        lengths: (n,) the real tokens of each row.
        target: (n, ...) or None.
        padding: 'post' or 'pre'.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        target: torch.Tensor | None,
        padding: str,
    ) -> None:
        super().__init__((ids, lengths), target)
        self.padding = check_choice("padding", padding, ("post", "pre"))
        self._lengths = lengths.numpy()

    @classmethod
    def from_pair(
        cls, data: tuple, name: str = "train_data", padding: str = "post"
    ) -> BucketedData:
        """Build from ``((ids, lengths), y)``, checked as `ArrayData.from_pair` checks."""
        plain = ArrayData.from_pair(data, name)
        if len(plain.inputs) != 2:
            raise DataError(f"`{name}` must be ((ids, lengths), y) to bucket by length")
        ids, lengths = plain.inputs
        return cls(ids, lengths, plain.target, padding)

    def order(self, generator: torch.Generator | None, batch_size: int = 1) -> torch.Tensor:
        return bucketed_order(self._lengths, generator, batch_size)

    def take(self, index: torch.Tensor) -> Batch:
        ids, lengths = self.inputs[0][index], self.inputs[1][index]
        target = None if self.target is None else self.target[index]
        return (cut_to_longest(ids, lengths, self.padding), lengths), target

    def subset(self, start: int, stop: int) -> BucketedData:
        target = None if self.target is None else self.target[start:stop]
        ids, lengths = self.inputs
        return BucketedData(ids[start:stop], lengths[start:stop], target, self.padding)
