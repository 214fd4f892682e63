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

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.engine.data import ArrayData, LoaderData
from rnnlab.engine.rng import get_rng_state, set_rng_state
from rnnlab.errors import InvalidValueError, ModelFileError, RnnlabError

if TYPE_CHECKING:
    from rnnlab.engine.callbacks import Callback
    from rnnlab.engine.distributed import WorkerGroup

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
    _base_seed: int
    group: WorkerGroup | None
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
        state: dict[str, Any] = {
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
        if self.group is not None:  # a distributed run resumes only with as many workers
            state["distributed"] = {
                "world_size": self.group.world_size,
                "base_seed": self._base_seed,
            }
        return state

    def _restore(self, state: dict[str, Any], train: Data) -> None:
        """Put a checkpointed state back; a state that does not fit is a `ModelFileError`.

        The checkpoint passed its checksum, so a state of the wrong shape was written
        that way (by another program or version): refused, whatever part is wrong.
        """
        try:
            ours = self.state_dict()
            _check_fits(state, ours, "state")
            if isinstance(state, dict) and state.get("epoch_data_rng") is not None:
                _check_fits(state["epoch_data_rng"], ours["data_rng"], "state.epoch_data_rng")
            self._restore_state(state, train)
            self._check_optimizer_state()
        except RnnlabError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            RuntimeError,
            OverflowError,
        ) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(
                f"the checkpoint cannot be resumed: its state does not fit this run ({first})"
            ) from None

    def _check_optimizer_state(self) -> None:
        """`Optimizer.load_state_dict` takes any values, and a step would then fail on them.

        So the restored state is tried: a scratch copy of the optimiser, on cloned
        parameters, loads a copy of it and takes one step with zero gradients; any
        failure refuses the checkpoint. Keys a newer torch added are filled in by
        torch itself, as in any load. Optimisers that cannot be rebuilt from their
        defaults (a custom class) are not tried.
        """
        optimizer = self.optimizer
        if not all(isinstance(key, torch.Tensor) for key in optimizer.state):
            raise ModelFileError("the checkpoint's optimiser state names unknown parameters")
        params = [p for group in optimizer.param_groups for p in group["params"]]
        try:
            clones = [p.detach().clone().requires_grad_(True) for p in params]
            scratch = type(optimizer)(clones, **optimizer.defaults)
        except Exception:  # noqa: BLE001 - nothing to try the state on: not checked
            return
        try:
            scratch.load_state_dict(copy.deepcopy(optimizer.state_dict()))
            for clone in clones:
                clone.grad = torch.zeros_like(clone)
            scratch.step()
        except Exception as exc:  # noqa: BLE001 - whatever the step trips on, refuse the state
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(
                f"the checkpoint's optimiser state does not work with this optimiser ({first})"
            ) from None
        for param, clone in zip(params, clones, strict=True):
            saved, made = optimizer.state.get(param), scratch.state.get(clone)
            if isinstance(saved, dict) and isinstance(made, dict):
                for key in saved.keys() & made.keys():  # a step may broadcast a wrong shape
                    _check_fits(saved[key], made[key], f"optimizer.state.{key}")

    def _restore_state(self, state: dict[str, Any], train: Data) -> None:
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
        workers = state.get("distributed", {}).get("world_size", 1)
        ours_workers = 1 if self.group is None else self.group.world_size
        if workers != ours_workers:
            raise InvalidValueError(
                f"the checkpoint was written by a run with {workers} worker(s), this fit has "
                f"{ours_workers}; resume with the same number of workers (--nproc / torchrun)"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key, cb_state in state["callbacks"].items():
            by_key[key].load_state_dict(cb_state)
        pos = state["position"]
        for key in ("epoch", "batch", "step"):
            if not isinstance(pos[key], int) or isinstance(pos[key], bool) or pos[key] < 0:
                raise ModelFileError(f"the checkpoint's position `{key}` is not a count")
        if pos["batch"] and not isinstance(state["epoch_data_rng"], dict):
            raise ModelFileError("the checkpoint's mid-epoch position lacks the epoch's data order")
        self.epoch, self.batch, self.step = pos["epoch"], pos["batch"], pos["step"]
        self.stop_training, self.stop_reason = pos["stop_training"], pos["stop_reason"]
        sums, count = state["sums"], state["count"]
        if not isinstance(count, int) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in sums.values()
        ):
            raise ModelFileError("the checkpoint's running sums are not numbers")
        self._sums, self._count = dict(sums), count
        self._epoch_data_rng = state["epoch_data_rng"]
        set_rng_state(state["rng"])
        self._set_data_rng(train, state["data_rng"])
        if "distributed" in state:
            self._base_seed = int(state["distributed"]["base_seed"])
        self._seeded = True  # a later fit continues these generators, as after any fit


# Mappings whose keys may differ from this run's: callbacks with state, the optimiser
# (torch fills in keys a newer version added; the trial step judges the rest), the
# running sums; and the CUDA generators, present only where CUDA was used.
_OPEN_MAPPINGS = ("state.callbacks", "state.optimizer", "state.sums")
_OPTIONAL = ("state.rng.cuda", "state.distributed")


def _check_fits(saved: Any, ours: Any, where: str) -> None:
    """Refuse a checkpointed state whose shape differs from the state this run writes.

    Where this run's own state has a tensor, the checkpoint must have a tensor of
    the same dtype and shape; a number where a number is, a mapping where a
    mapping is. Slots that are None here (a best value not yet seen) or empty (no
    optimiser steps yet) are checked where they are used.
    """
    if ours is None:
        return
    if isinstance(ours, torch.Tensor):
        if not isinstance(saved, torch.Tensor) or (saved.dtype, saved.shape) != (
            ours.dtype,
            ours.shape,
        ):
            raise ModelFileError(f"the checkpoint's `{where}` is not the tensor this run has")
    elif isinstance(ours, bool):
        if not isinstance(saved, bool):
            raise ModelFileError(f"the checkpoint's `{where}` is not a boolean")
    elif isinstance(ours, (int, float)):
        if not isinstance(saved, (int, float)) or isinstance(saved, bool):
            raise ModelFileError(f"the checkpoint's `{where}` is not a number")
    elif isinstance(ours, str):
        if not isinstance(saved, (str, type(None))):
            raise ModelFileError(f"the checkpoint's `{where}` is not a string")
    elif isinstance(ours, dict):
        if not isinstance(saved, dict):
            raise ModelFileError(f"the checkpoint's `{where}` is not a mapping")
        missing = [k for k in ours if k not in saved and f"{where}.{k}" not in _OPTIONAL]
        if missing and not any(where == m or where.startswith(m + ".") for m in _OPEN_MAPPINGS):
            raise ModelFileError(f"the checkpoint's `{where}` lacks `{missing[0]}`")
        for key in ours.keys() & saved.keys():
            _check_fits(saved[key], ours[key], f"{where}.{key}")
    elif isinstance(ours, (list, tuple)):
        if not isinstance(saved, (list, tuple)):
            raise ModelFileError(f"the checkpoint's `{where}` is not a list")
        if isinstance(ours, tuple) and len(saved) != len(ours):  # fixed size: Adam's betas
            raise ModelFileError(
                f"the checkpoint's `{where}` has {len(saved)} items, not {len(ours)}"
            )
        if ours:
            for i, item in enumerate(saved):
                _check_fits(item, ours[min(i, len(ours) - 1)], f"{where}[{i}]")
