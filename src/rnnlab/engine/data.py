"""The engine's data convention: a batch is ``(inputs, target)``; the model runs ``model(*inputs)``.

``inputs`` is always a tuple of tensors, so a model taking token ids and
lengths is called as ``model(ids, lengths)`` and a plain one as ``model(x)``.
Training data comes in one of two forms:

- In memory: a pair ``(x, y)``. ``x`` is one tensor / NumPy array, or a tuple
  or list of them sharing the first (sample) axis, e.g. ``((ids, lengths), y)``.
  ``y`` is a tensor / array with the same first axis. Floating arrays become
  the default float dtype (float32), integer targets become int64.
- A `torch.utils.data.DataLoader` whose batches are sequences of tensors. The
  last one is the target and the rest are the inputs (what
  ``TensorDataset(ids, lengths, y)`` yields), or a pair ``(inputs, target)``
  with ``inputs`` a tuple.

For `Trainer.predict`, in-memory data is the inputs alone (``x`` or
``(ids, lengths)``); a loader yields the same batches as for training (the
target is ignored) or bare input tensors.

>>> data = ArrayData.from_pair((np.arange(5.0)[:, None], np.arange(5)), "data")
>>> [(inputs[0].shape[0], target.tolist()) for inputs, target in data.batches(2)]
[(2, [0, 1]), (2, [2, 3]), (1, [4])]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from rnnlab.errors import DataError, InvalidTypeError, check_fraction

Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor | None]


def _as_tensor(value: Any, name: str, target: bool = False) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            raise DataError(
                f"`{name}` must be a tensor or an array, got a {type(value).__name__} that is not "
                "rectangular (pad ragged sequences first, e.g. with rnnlab.pad_sequences)"
            ) from None
        if array.dtype == object:
            raise InvalidTypeError(
                f"`{name}` must be a numeric tensor or array, got an object array "
                "(pad ragged sequences first, e.g. with rnnlab.pad_sequences)"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.ndim == 0:
        raise DataError(f"`{name}` must have a sample axis, got a scalar")
    if tensor.is_floating_point() and tensor.dtype != torch.get_default_dtype():
        # Models are float32; a float64 array would otherwise fail inside the first layer.
        tensor = tensor.to(torch.get_default_dtype())
    elif target and not tensor.is_floating_point() and tensor.dtype != torch.bool:
        tensor = tensor.long()  # class indices: what cross_entropy wants
    return tensor


class ArrayData:
    """Inputs and target held in memory, cut into batches by index.

    Args:
        inputs: tensors sharing the first axis n; the model is called as ``model(*inputs)``.
        target: (n, ...) tensor, or None for prediction.
    """

    def __init__(self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor | None):
        self.inputs = tuple(inputs)
        self.target = target
        sizes = {int(t.shape[0]) for t in self.inputs}
        if target is not None:
            sizes.add(int(target.shape[0]))
        if len(sizes) != 1:
            shapes = [tuple(t.shape) for t in self.inputs]
            if target is not None:
                shapes.append(tuple(target.shape))
            raise DataError(
                "inputs and target must have the same number of samples (first axis), "
                f"got shapes {shapes}"
            )
        self.num_samples = sizes.pop()
        if self.num_samples == 0:
            raise DataError("the data holds no samples")

    @classmethod
    def from_inputs(cls, x: Any, name: str = "x") -> ArrayData:
        """Build from inputs alone: one array, or a tuple (or list) of arrays.

        A list of arrays / tensors is several inputs; any other list (of numbers,
        of lists) is one array-like input, so ragged token lists fail clearly.
        """
        several = isinstance(x, tuple) or (
            isinstance(x, list)
            and bool(x)
            and all(isinstance(p, (np.ndarray, torch.Tensor)) for p in x)
        )
        parts = x if several else (x,)
        if not parts:
            raise DataError(f"`{name}` is an empty tuple; pass at least one input array")
        return cls(
            tuple(
                _as_tensor(p, f"{name}[{i}]" if len(parts) > 1 else name)
                for i, p in enumerate(parts)
            ),
            None,
        )

    @classmethod
    def from_pair(cls, data: Any, name: str) -> ArrayData:
        """Build from ``(x, y)`` where ``x`` is one array or a tuple/list of arrays."""
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise InvalidTypeError(
                f"`{name}` must be a pair (x, y) (x may itself be a tuple of arrays) or a "
                f"DataLoader, got {type(data).__name__}"
                + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
            )
        x, y = data
        inputs = cls.from_inputs(x, f"{name}[0]").inputs
        return cls(inputs, _as_tensor(y, f"{name}[1]", target=True))

    def __len__(self) -> int:
        return self.num_samples

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(self.num_samples / batch_size)

    def subset(self, start: int, stop: int) -> ArrayData:
        """Samples ``start:stop`` (views, no copy)."""
        target = None if self.target is None else self.target[start:stop]
        return ArrayData(tuple(t[start:stop] for t in self.inputs), target)

    def order(self, generator: torch.Generator | None, batch_size: int = 0) -> torch.Tensor:
        """An epoch's sample order: a permutation from ``generator``, or 0..n-1 without one."""
        if generator is None:
            return torch.arange(self.num_samples)
        return torch.randperm(self.num_samples, generator=generator)

    def take(self, index: torch.Tensor) -> Batch:
        """The batch of the samples at ``index``."""
        target = None if self.target is None else self.target[index]
        return tuple(t[index] for t in self.inputs), target

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        start: int = 0,
    ) -> Iterator[Batch]:
        """Iterate over batches in `order`, skipping the first ``start``.

        The shuffle order is drawn from ``generator`` now, not lazily, so the
        caller can bracket the draw with its RNG bookkeeping. A view with its own
        ``order`` / ``take`` (a shard, a token store's part, bucketed rows) batches
        the same way.
        """
        return batches_in_order(self, batch_size, shuffle, generator, start)


def batches_in_order(
    data: Any, batch_size: int, shuffle: bool, generator: torch.Generator | None, start: int
) -> Iterator[Batch]:
    """The batches of ``data`` in the epoch order it picks, skipping the first ``start``.

    ``data`` has ``order(generator, batch_size)`` (sample indices for the epoch; drawn
    here, now, not lazily), ``take(index)`` and ``num_batches(batch_size)``: any
    `ArrayData`, a worker's shard (`ShardedData`), a token store's part (`StoreData`)
    or bucketed rows (`BucketedData`).
    """
    order = data.order(generator if shuffle else None, batch_size)
    return (
        data.take(order[b * batch_size : (b + 1) * batch_size])
        for b in range(start, data.num_batches(batch_size))
    )


def split_batch(batch: Any, need_target: bool = True) -> Batch:
    """Turn one DataLoader batch into ``(inputs tuple, target)``.

    >>> x, y = torch.zeros(2, 3), torch.ones(2)
    >>> inputs, target = split_batch([x, torch.tensor([3, 1]), y])
    >>> len(inputs), target.tolist()
    (2, [1.0, 1.0])
    >>> len(split_batch(((x, x), y))[0])
    2
    """
    if isinstance(batch, torch.Tensor):
        if need_target:
            raise DataError(
                "a DataLoader batch must be a sequence (inputs..., target), got one tensor"
            )
        return (batch,), None
    if not isinstance(batch, (tuple, list)) or (need_target and len(batch) < 2) or not batch:
        raise DataError(
            "a DataLoader batch must be a sequence (inputs..., target) of tensors, got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    if len(batch) == 1:  # TensorDataset(x) for prediction
        return (batch[0],), None
    *inputs, target = batch
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = list(inputs[0])
    return tuple(inputs), target


class LoaderData:
    """A DataLoader behind the same interface as `ArrayData`.

    Shuffling is the loader's business (its ``shuffle`` / ``sampler``); the
    trainer snapshots the loader's generators so a run resumed mid-epoch replays
    the same order.
    """

    def __init__(self, loader: DataLoader, need_target: bool = True):
        self.loader = loader
        self.need_target = need_target

    def num_batches(self, batch_size: int | None = None) -> int | None:
        try:
            return len(self.loader)
        except TypeError:  # an IterableDataset without a length
            return None

    @property
    def num_samples(self) -> int | None:
        try:
            return len(self.loader.dataset)  # type: ignore[arg-type]
        except TypeError:
            return None

    def generators(self) -> list[torch.Generator]:
        """The distinct torch generators that decide this loader's order."""
        found: list[torch.Generator] = []
        sampler = getattr(self.loader, "sampler", None)
        batch_sampler = getattr(self.loader, "batch_sampler", None)
        for owner in (self.loader, sampler, getattr(batch_sampler, "sampler", None)):
            gen = getattr(owner, "generator", None)
            if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
                found.append(gen)
        return found

    def batches(
        self,
        batch_size: int | None = None,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        start: int = 0,
    ) -> Iterator[Batch]:
        iterator = iter(self.loader)
        for _ in range(start):  # replaying the skipped batches keeps the sampler's stream in step
            next(iterator)
        return (split_batch(b, self.need_target) for b in iterator)


def as_data(data: Any, name: str, need_target: bool = True) -> ArrayData | LoaderData:
    """Wrap user data (a pair of arrays, or a DataLoader) for the trainer."""
    if isinstance(data, DataLoader):
        return LoaderData(data, need_target)
    if isinstance(data, (ArrayData, LoaderData)):
        return data
    if need_target:
        return ArrayData.from_pair(data, name)
    return ArrayData.from_inputs(data, name)


def split_validation(data: ArrayData, fraction: float) -> tuple[ArrayData, ArrayData]:
    """Keep the first part for training and the last ``fraction`` for validation, as Keras does.

    The split is taken before any shuffling, at ``floor(n * (1 - fraction))``,
    so it never changes with the seed: shuffle the arrays first if they are sorted.

    >>> data = ArrayData.from_pair((np.zeros((10, 1)), np.arange(10)), "d")
    >>> train, val = split_validation(data, 0.25)
    >>> len(train), val.target.tolist()
    (7, [7, 8, 9])
    """
    fraction = check_fraction("validation_split", fraction, low_open=True)
    split_at = math.floor(data.num_samples * (1.0 - fraction))
    if split_at in (0, data.num_samples):
        raise DataError(
            f"`validation_split`={fraction} leaves an empty split of the {data.num_samples} "
            "training samples; pass more data or another fraction"
        )
    return data.subset(0, split_at), data.subset(split_at, data.num_samples)
