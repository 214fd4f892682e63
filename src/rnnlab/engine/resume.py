"""Resuming a run exactly: what a `Trainer` saves in a checkpoint and how it puts it back.

A checkpoint holds the weights, the optimiser, every callback's state, all
random generators and the position in the run: the epoch, the batches done in
it, the running sums of its metrics, and the state of the data-order
generators *at the start of the epoch*. A run resumed mid-epoch replays that
epoch's order from its start (re-drawing the same permutation, or re-iterating
the DataLoader and dropping the batches already done), then sets every
generator to where the interrupted run was. So the rest of the run draws
exactly the same numbers, and ends with bit-identical weights and history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.engine.data import ArrayData, LoaderData
from rnnlab.engine.rng import get_rng_state, set_rng_state
from rnnlab.errors import InvalidValueError

if TYPE_CHECKING:
    from rnnlab.engine.callbacks import Callback

Data = ArrayData | LoaderData


class ResumableRun:
    """The save / restore half of `Trainer` (a mixin: it uses the trainer's attributes)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    epoch: int
    batch: int
    step: int
    batch_size: int
    shuffle: bool
    num_batches: int | None
    stop_training: bool
    stop_reason: str | None
    _seeded: bool
    _train: Data | None
    _epoch_done: bool
    _sums: dict[str, float]
    _count: int
    _epoch_data_rng: dict[str, Any] | None
    _cbs: list[Callback]
    _cb_keys: list[str]

    def _data_rng(self, train: Data | None) -> dict[str, Any]:
        """The generators that decide the data order (global torch, ours, the loader's)."""
        loader = train.generators() if isinstance(train, LoaderData) else []
        return {
            "torch": torch.get_rng_state(),
            "generator": self.generator.get_state(),
            "loader": [g.get_state() for g in loader],
        }

    def _set_data_rng(self, train: Data | None, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        self.generator.set_state(state["generator"])
        loader = train.generators() if isinstance(train, LoaderData) else []
        if len(loader) != len(state["loader"]):
            raise InvalidValueError(
                "the DataLoader's generators differ from the checkpointed run's"
            )
        for gen, gen_state in zip(loader, state["loader"], strict=True):
            gen.set_state(gen_state)

    def _open_epoch(self, train: Data) -> Iterable[Any]:
        """The epoch's batches from ``self.batch`` on; a resumed epoch replays its order exactly."""
        if self.batch == 0:
            self._epoch_data_rng = self._data_rng(train)
            return train.batches(self.batch_size, self.shuffle, self.generator)
        if self._epoch_data_rng is None:
            raise RuntimeError("resuming mid-epoch needs the epoch's data-order state")
        current = self._data_rng(train)
        self._set_data_rng(train, self._epoch_data_rng)
        batches = train.batches(self.batch_size, self.shuffle, self.generator, start=self.batch)
        self._set_data_rng(train, current)
        return batches

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this fit exactly (what `Checkpoint` saves).

        Tensors, numbers, strings and containers of them only, so that
        `save_checkpoint` can store it without pickling.
        """
        mid_epoch = not self._epoch_done
        return {
            "position": {
                "epoch": self.epoch + (0 if mid_epoch else 1),
                "batch": self.batch if mid_epoch else 0,
                "step": self.step,
                "stop_training": self.stop_training,
                "stop_reason": self.stop_reason,
            },
            "data": {
                "batch_size": self.batch_size,
                "num_batches": self.num_batches,
                "shuffle": self.shuffle,
                "num_samples": None if self._train is None else self._train.num_samples,
            },
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": get_rng_state(),
            "data_rng": self._data_rng(self._train),
            "epoch_data_rng": self._epoch_data_rng if mid_epoch and self.batch else None,
            "sums": dict(self._sums) if mid_epoch else {},
            "count": self._count if mid_epoch else 0,
            "callbacks": {
                key: s
                for key, cb in zip(self._cb_keys, self._cbs, strict=True)
                if (s := cb.state_dict())
            },
        }

    def _restore(self, state: dict[str, Any], train: Data) -> None:
        data = state["data"]
        ours = {
            "batch_size": self.batch_size,
            "num_samples": train.num_samples,
            "num_batches": self.num_batches,
            "shuffle": self.shuffle,
        }
        different = [k for k in ours if data.get(k) != ours[k]]
        if different:
            was = ", ".join(f"{k}={data.get(k)}" for k in different)
            now = ", ".join(f"{k}={ours[k]}" for k in different)
            raise InvalidValueError(
                f"the checkpoint was written by a run with {was}, this fit has {now}; "
                "resume with the same data, batch_size and shuffle"
            )
        by_key = dict(zip(self._cb_keys, self._cbs, strict=True))
        missing = [k for k in state["callbacks"] if k not in by_key]
        if missing:
            raise InvalidValueError(
                f"the checkpoint holds state for callbacks {missing} that this fit does not have; "
                "resume with the same callbacks"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key, cb_state in state["callbacks"].items():
            by_key[key].load_state_dict(cb_state)
        pos = state["position"]
        self.epoch, self.batch, self.step = pos["epoch"], pos["batch"], pos["step"]
        self.stop_training, self.stop_reason = pos["stop_training"], pos["stop_reason"]
        self._sums, self._count = dict(state["sums"]), state["count"]
        self._epoch_data_rng = state["epoch_data_rng"]
        set_rng_state(state["rng"])
        self._set_data_rng(train, state["data_rng"])
        self._seeded = True  # a later fit continues these generators, as after any fit
