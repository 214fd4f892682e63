"""`Trainer`: fit, evaluate and predict any `nn.Module`, as a ladder of small overridable steps.

    fit            data, validation, callbacks, seeding, resume; loops over epochs
    fit_epoch      one epoch: batches, running metrics, validation, epoch logs
    train_step     one batch: forward, loss, backward, (on_after_backward), step
    eval_step      one batch without gradients
    predict_step   one forward pass
    compute_loss   loss of a batch (class weights applied when training)

Batches follow the convention of `rnnlab.engine.data`: ``(inputs, target)``
with ``inputs`` a tuple, and the model is called as ``model(*inputs)``. The
model returns logits (or whatever the loss expects).

Determinism. With ``seed`` set, the first fit seeds torch, NumPy and Python
and the trainer's own shuffle generator, so the same seed gives bit-identical
weights and history on the CPU. (The model's initial weights come from
whatever seed was set before the model was built: call `seed_everything`
first for a fully reproducible run.)

Resume. A `Checkpoint` callback (or ``fit(checkpoint_dir=...)``) saves the
whole state; ``fit(resume_from=...)`` restores it, including every random
generator and the position within the epoch, so an interrupted run ends with
exactly the weights and history of an uninterrupted one. A damaged latest
checkpoint falls back to the one before it (with a warning), and while
checkpoints are written, SIGINT / SIGTERM stop the fit after the running batch
with a checkpoint (`TrainingInterrupted`).

>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Linear(1, 1, bias=False)
>>> _ = torch.nn.init.zeros_(model.weight)
>>> trainer = Trainer(model, loss="mse", optimizer="sgd", lr=0.1, verbose=0)
>>> history = trainer.fit((torch.ones(1, 1), torch.full((1, 1), 2.0)), epochs=3, batch_size=1)
>>> [round(v, 4) for v in history.history["loss"]], round(model.weight.item(), 4)
([4.0, 2.56, 1.6384], 0.976)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnlab.engine.callbacks import Callback, Checkpoint, History
from rnnlab.engine.callbacks.assembly import assemble, check_callbacks
from rnnlab.engine.checkpoint import has_checkpoint, load_latest_checkpoint
from rnnlab.engine.data import ArrayData, LoaderData, as_data, split_validation
from rnnlab.engine.device import resolve_device, to_device
from rnnlab.engine.distributed import (
    ShardedData,
    WorkerGroup,
    join_group,
    per_worker_batch,
    worker_seed,
)
from rnnlab.engine.inference import batched_logits, class_probabilities
from rnnlab.engine.interrupt import REPEAT_GRACE_S, SignalCatcher, TrainingInterrupted
from rnnlab.engine.losses import (
    PROBABILITY,
    class_indices,
    class_weight_tensor,
    get_loss,
    weighted_mean,
)
from rnnlab.engine.metrics import MetricFn, get_metrics
from rnnlab.engine.optim import build_optimizer
from rnnlab.engine.resume import ResumableRun
from rnnlab.engine.rng import seed_everything
from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice, check_int, check_type

Data = ArrayData | LoaderData


class Trainer(ResumableRun):
    """Trains a model with a loss, an optimiser, metrics and callbacks.

    Args:
        model: any `nn.Module`; called as ``model(*inputs)``. Moved to ``device``.
        loss: a name ('cross_entropy' for integer targets,
            'categorical_crossentropy' for one-hot / probability targets,
            'binary_crossentropy' for one logit, 'mse', 'mae', and Keras aliases)
            or a callable ``loss(outputs, target)`` returning per-sample values
            (batch,) or a scalar.
        optimizer: a name for `make_optimizer` (Keras defaults, fastest kernel),
            a torch optimiser already built on the model's parameters, or a
            callable ``params -> optimizer``.
        lr: learning rate, when ``optimizer`` is a name.
        metrics: names ('accuracy', 'top5_accuracy', 'mae', 'mse') or callables
            ``(outputs, target) -> (batch,)`` values, or a dict name -> callable.
            'auto': accuracy for the classification losses, nothing otherwise.
            The loss is always logged.
        callbacks: `Callback` instances used by every fit. A `History` is always
            added; a `ProgressBar` too when ``verbose`` > 0 and none is given.
        class_weight: ``{class: weight}`` or one weight per class: training losses
            are weighted per sample, Keras style (see `rnnlab.engine.losses`).
            Validation and `evaluate` losses are not weighted.
        device: 'auto' (a GPU when there is one), 'cpu', 'cuda', 'cuda:1', or a torch.device.
        seed: seeds all generators at the first fit; None leaves them as they are.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch
            (shown on a terminal only, see `ProgressBar`).
        distributed: train data-parallel in the process group a launcher set up
            (``torchrun`` / ``rnnlab train --nproc N``; `rnnlab.engine.distributed`):
            ``batch_size`` is then the global batch, each worker trains on its
            shard of every epoch, metrics are summed over the workers and only
            rank 0 writes. Every worker must make the same calls (fit, evaluate).

    Attributes:
        history: the `History` of the last fit.
        epoch: the current epoch (0-based); ``epochs``: the fit's target.
        batch: batches finished in the current epoch; ``num_batches``: per epoch.
        step: batches finished in this fit, over all epochs.
        stop_training, stop_reason: set through `stop`, by callbacks.
        skip_step: set by a callback in ``on_after_backward`` to skip this batch's step.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "cross_entropy",
        optimizer: str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float | None = None,
        metrics: Iterable[str | MetricFn] | dict[str, MetricFn] | str | None = "auto",
        callbacks: Sequence[Callback] = (),
        class_weight: dict[int, float] | Sequence[float] | None = None,
        device: str | torch.device = "auto",
        seed: int | None = None,
        verbose: int = 1,
        distributed: bool = False,
    ) -> None:
        check_type("model", model, nn.Module, "a torch.nn.Module")
        check_type("distributed", distributed, bool)
        self.device = resolve_device(device)
        self.group: WorkerGroup | None = None
        if distributed:  # join the launcher's process group; CUDA: this worker's own GPU
            self.group, self.device = join_group(self.device)
        self.model = model.to(self.device)
        # DDP broadcasts rank 0's weights now and averages the gradients in every backward.
        self._ddp: nn.Module | None = None
        if self.group is not None:
            self._ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.loss = loss
        self.loss_fn = get_loss(loss)
        self.optimizer = self._build_optimizer(optimizer, lr)
        if isinstance(metrics, str) and metrics == "auto":
            metrics = ["accuracy"] if isinstance(loss, str) and loss in PROBABILITY else []
        self.metrics = get_metrics(metrics)
        self.callbacks = check_callbacks(callbacks)
        weights = class_weight_tensor(class_weight)
        self.class_weight = None if weights is None else weights.to(self.device)
        self.seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.verbose = check_choice("verbose", verbose, (0, 1, 2))
        self.generator = torch.Generator()  # shuffling only; CPU, whatever the device
        self._seeded = False
        self._base_seed = 0  # distributed: the per-batch worker seeds derive from it
        self.history: History | None = None
        self._signals: SignalCatcher | None = None
        self._cbs: list[Callback] = []
        self._cb_keys: list[str] = []
        self._reset_run(epochs=0, batch_size=32, shuffle=False, train=None)

    # ------------------------------------------------------------------ set-up

    def _build_optimizer(self, optimizer: Any, lr: float | None) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return build_optimizer(optimizer, params, lr)

    def _reset_run(self, epochs: int, batch_size: int, shuffle: bool, train: Data | None) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_batches: int | None = None if train is None else train.num_batches(batch_size)
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self.skip_step = False
        self._train = train
        self._epoch_done = False
        self._sums: dict[str, float] = {}
        self._count = 0
        self._epoch_data_rng: dict[str, Any] | None = None

    def dispatch(self, hook: str, **kwargs: Any) -> None:
        """Call ``hook`` on every callback of the running fit, in order: the one dispatch point."""
        for cb in self._cbs:
            getattr(cb, hook)(self, **kwargs)

    def stop(self, reason: str | None = None) -> None:
        """Ask fit to stop: after this batch's ``on_batch_end`` (the epoch still ends
        normally, with validation and ``on_epoch_end``), or after this epoch."""
        self.stop_training = True
        if reason is not None:
            self.stop_reason = reason

    # --------------------------------------------------------------------- fit

    def fit(
        self,
        train_data: Any,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        validation_data: Any = None,
        validation_split: float | None = None,
        callbacks: Sequence[Callback] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> History:
        """Train for ``epochs`` epochs (or continue an interrupted run up to ``epochs``).

        Args:
            train_data: ``(x, y)`` arrays / tensors, ``x`` possibly a tuple of them,
                or a DataLoader (see `rnnlab.engine.data`).
            epochs: the number of epochs of the run.
            batch_size: samples per batch for arrays (a DataLoader batches itself).
            shuffle: reshuffle arrays every epoch with the trainer's generator
                (ignored for a DataLoader, which shuffles itself).
            validation_data: ``(x, y)`` or a DataLoader, evaluated after every epoch.
            validation_split: a fraction of the arrays held out for validation,
                taken from the end before any shuffling, as in Keras. Not with
                ``validation_data``.
            callbacks: more callbacks, for this fit only.
            resume_from: a checkpoint file, or a directory holding one, to continue from
                (from the checkpoint before it, with a `CheckpointFallbackWarning`,
                when it is damaged).
            checkpoint_dir: checkpoint every epoch into this directory (adds a
                `Checkpoint` unless one writes there already) and resume from it
                when it already holds a checkpoint: rerunning an interrupted
                script continues it. While checkpoints are written, SIGINT and
                SIGTERM end the fit after the running batch with a checkpoint and
                `TrainingInterrupted`.

        Returns:
            The `History` (also ``self.history``).
        """
        epochs = check_int("epochs", epochs, minimum=1)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        if validation_data is not None and validation_split is not None:
            raise InvalidValueError("give `validation_data` or `validation_split`, not both")
        train = as_data(train_data, "train_data")
        if self.group is not None:
            batch_size = per_worker_batch(batch_size, self.group.world_size)
        val: Data | None = None
        if validation_split is not None:
            if not isinstance(train, ArrayData):
                raise InvalidTypeError(
                    "`validation_split` needs in-memory arrays; "
                    "with a DataLoader pass `validation_data`"
                )
            train, val = split_validation(train, validation_split)
        elif validation_data is not None:
            val = as_data(validation_data, "validation_data")
        if self.group is not None:
            train = self._shard(train, pad=True)
            # Rank 0 reads the checkpoint and hands it to the others: no shared disk needed.
            state = self.group.broadcast(
                self._resume_state(resume_from, checkpoint_dir) if self.is_writer else None
            )
        else:
            state = self._resume_state(resume_from, checkpoint_dir)

        given = self.callbacks + check_callbacks(callbacks)
        verbose = self.verbose if self.is_writer else 0
        self._cbs, self._cb_keys, self.history = assemble(given, verbose, checkpoint_dir)
        self._reset_run(epochs, batch_size, bool(shuffle), train)
        if state is None:
            self._seed_once()
        # With checkpoints to resume from, SIGINT / SIGTERM stop the fit at the end of a
        # batch, after saving (`rnnlab.engine.interrupt`); without, they act as always.
        # A launcher passes on the SIGTERM a scheduler already sent every worker: under
        # one, a repeat of the same signal soon after is that copy, not a second request.
        self._signals = SignalCatcher(
            enabled=bool(self.checkpoints),
            repeat_grace_s=REPEAT_GRACE_S if self.group is not None else 0.0,
        )
        try:
            with self._signals:
                self.dispatch("on_fit_begin")
                if state is not None:
                    self._restore(state, train)
                while self.epoch < self.epochs and not self.stop_training:
                    self.fit_epoch(train, val)
                self.dispatch("on_fit_end")
        finally:
            self._cbs = []
            self._signals = None
        assert self.history is not None
        return self.history

    @property
    def is_writer(self) -> bool:
        """Whether this process writes files: always, except on distributed ranks other than 0."""
        return self.group is None or self.group.is_writer

    @staticmethod
    def _resume_state(
        resume_from: str | os.PathLike[str] | None,
        checkpoint_dir: str | os.PathLike[str] | None,
    ) -> dict[str, Any] | None:
        resume = resume_from
        if resume is None and checkpoint_dir is not None and has_checkpoint(checkpoint_dir):
            resume = checkpoint_dir
        # The latest checkpoint, or the one before it when the latest is damaged (a warning).
        return load_latest_checkpoint(resume)[0] if resume is not None else None

    def _shard(self, data: Data, pad: bool) -> ShardedData:
        assert self.group is not None
        if not isinstance(data, ArrayData):
            raise InvalidTypeError(
                "distributed training shards in-memory arrays or a token store; for a "
                "DataLoader give it a DistributedSampler and train with distributed=False"
            )
        return ShardedData(data, self.group.rank, self.group.world_size, pad=pad)

    def _agree(self) -> None:
        """Distributed: stop on every worker when one stops, handle a signal one caught."""
        assert self.group is not None
        signals = self._signals
        stop, signum = self.group.agree(
            self.stop_training, None if signals is None else signals.received
        )
        if stop and not self.stop_training:
            self.stop("another worker stopped the run")
        if signum is not None and signals is not None and signals.received is None:
            signals.received = signum

    def _add_batch(self, result: dict[str, torch.Tensor], target: torch.Tensor) -> None:
        """Add a trained batch to the epoch's running sums: every worker's, when distributed.

        Summed over the workers batch by batch, the running sums are the same on every
        worker, so a checkpoint written by rank 0 mid-epoch holds the whole group's and a
        resumed epoch reports what the uninterrupted one does.
        """
        sums: dict[str, float] = {}
        self._add(sums, result["loss"], result["outputs"], target)
        count = int(target.shape[0])
        if self.group is not None:
            sums, count = self.group.sum_metrics(sums, count, ["loss", *self.metrics])
        for key, value in sums.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += count

    def _reduced(self, sums: dict[str, float], count: int) -> dict[str, float]:
        """Means of ``sums`` over ``count`` samples, over all workers when distributed."""
        if self.group is not None:
            keys = ["loss", *self.metrics]
            sums, count = self.group.sum_metrics(sums, count, keys)
        return self._means(sums, count)

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """The `Checkpoint` callbacks of the running fit (empty outside a fit)."""
        return [cb for cb in self._cbs if isinstance(cb, Checkpoint)]

    def _stop_if_signalled(self, where: str) -> None:
        """After a batch or an epoch: on a caught signal, checkpoint and raise `TrainingInterrupted`."""
        signals = self._signals
        if signals is None or signals.received is None:
            return
        signals.handled = True
        paths = [cb.save(self) for cb in self.checkpoints]
        raise TrainingInterrupted(signals.received, where, paths)

    def _seed_once(self) -> None:
        if self._seeded:
            return
        if self.seed is not None:
            seed_everything(self.seed)
            self._base_seed = self.seed
        else:  # follow the global torch seed, if the user set one
            self._base_seed = int(torch.randint(0, 2**62, (1,)).item())
            if self.group is not None:  # one shuffle order for all workers: rank 0's
                self._base_seed = int(self.group.broadcast(self._base_seed))
        self.generator.manual_seed(self._base_seed)
        self._seeded = True

    def fit_epoch(self, train: Data, val: Data | None = None) -> dict[str, float]:
        """Run epoch ``self.epoch`` from batch ``self.batch``; validate; return its logs.

        The logs hold the loss and each metric averaged over the epoch's samples,
        the same for the validation data with a ``val_`` prefix, and
        ``learning_rate``: the first parameter group's rate when the epoch ends
        (before the ``on_epoch_end`` callbacks, so before an epoch schedule steps).
        """
        epoch = self.epoch
        self.dispatch("on_epoch_begin", epoch=epoch)
        batches = iter(self._open_epoch(train))
        self.model.train()
        while not self.stop_training:
            item = next(batches, None)
            if item is None:
                break
            inputs, target = to_device(item, self.device)
            index = self.batch
            if self.group is not None:  # this worker's dropout masks, the same after a resume
                torch.manual_seed(worker_seed(self._base_seed, self.group.rank, epoch, index))
            self.dispatch("on_batch_begin", batch=index)
            result = self.train_step(inputs, target)
            self._add_batch(result, target)
            self.batch = index + 1
            self.step += 1
            self.dispatch("on_batch_end", batch=index, logs=self._means(self._sums, self._count))
            if self.group is not None:
                self._agree()
            self._stop_if_signalled(f"after batch {index + 1} of epoch {epoch + 1}")
        logs = self._means(self._sums, self._count)  # already over every worker
        if val is not None:
            logs.update({f"val_{k}": v for k, v in self._evaluate(val, self.batch_size).items()})
        logs["learning_rate"] = float(self.optimizer.param_groups[0]["lr"])
        self._epoch_done = True
        self.dispatch("on_epoch_end", epoch=epoch, logs=logs)
        if self.group is not None:
            self._agree()
        self._stop_if_signalled(f"at the end of epoch {epoch + 1}")
        self.epoch, self.batch, self._epoch_done = epoch + 1, 0, False
        self._sums, self._count, self._epoch_data_rng = {}, 0, None
        return logs

    def train_step(
        self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Forward, loss, backward, ``on_after_backward``, optimiser step.

        Returns:
            {"loss": detached scalar, "outputs": detached model outputs}.
        """
        self.optimizer.zero_grad(set_to_none=True)
        outputs = (self._ddp or self.model)(*inputs)
        loss = self.compute_loss(outputs, target, training=True)
        loss.backward()
        self.skip_step = False
        self.dispatch("on_after_backward", batch=self.batch, loss=loss.detach())
        if not self.skip_step:
            self.optimizer.step()
        return {"loss": loss.detach(), "outputs": outputs.detach()}

    def eval_step(
        self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Forward and loss, without gradients (the caller sets eval mode and no_grad)."""
        outputs = self.model(*inputs)
        return {"loss": self.compute_loss(outputs, target, training=False), "outputs": outputs}

    def predict_step(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The model's outputs for one batch."""
        return self.model(*inputs)

    def compute_loss(
        self, outputs: torch.Tensor, target: torch.Tensor, training: bool = True
    ) -> torch.Tensor:
        """The batch loss: the mean of per-sample losses, class-weighted when training."""
        values = self.loss_fn(outputs, target)
        weighted = training and self.class_weight is not None
        if values.ndim == 0:
            if weighted:
                raise InvalidValueError(
                    "`class_weight` needs per-sample losses, but the loss returned a scalar; "
                    "use a loss name or a callable returning shape (batch,)"
                )
            return values
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(dim=1)
        if weighted:
            assert self.class_weight is not None
            return weighted_mean(values, class_indices(outputs, target), self.class_weight)
        return values.mean()

    # ----------------------------------------------------- epochs and metrics

    def _add(
        self,
        sums: dict[str, float],
        loss: torch.Tensor,
        outputs: torch.Tensor,
        target: torch.Tensor,
    ) -> None:
        n = int(target.shape[0])
        sums["loss"] = sums.get("loss", 0.0) + float(loss) * n
        for name, fn in self.metrics.items():
            sums[name] = sums.get(name, 0.0) + float(fn(outputs, target).double().sum())

    @staticmethod
    def _means(sums: dict[str, float], count: int) -> dict[str, float]:
        return {k: v / count for k, v in sums.items()} if count else {}

    # ------------------------------------------------------ evaluate, predict

    def _evaluate(self, data: Data, batch_size: int) -> dict[str, float]:
        sums: dict[str, float] = {}
        count = 0
        if self.group is not None:  # each worker evaluates its share; the sums are added up
            data = self._shard(data, pad=False)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for inputs, target in data.batches(batch_size):
                    inputs, target = to_device((inputs, target), self.device)
                    result = self.eval_step(inputs, target)
                    self._add(sums, result["loss"], result["outputs"], target)
                    count += int(target.shape[0])
        finally:
            self.model.train(was_training)
        return self._reduced(sums, count)

    def evaluate(self, data: Any, batch_size: int = 32) -> dict[str, float]:
        """Loss and metrics on ``(x, y)`` or a DataLoader, without class weights.

        Returns:
            e.g. ``{"loss": 0.31, "accuracy": 0.9}``.
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        return self._evaluate(as_data(data, "data"), batch_size)

    def predict(self, x: Any, batch_size: int = 32) -> np.ndarray:
        """The model's raw outputs (logits) for inputs ``x``, stacked: (n, ...) NumPy array.

        Args:
            x: one array, a tuple of arrays (``(ids, lengths)``), or a DataLoader.
            batch_size: samples per forward pass.
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        data = as_data(x, "x", need_target=False)
        batches = (inputs for inputs, _ in data.batches(batch_size))
        return batched_logits(self.model, batches, self.device, forward=self.predict_step).numpy()

    def predict_proba(self, x: Any, batch_size: int = 32) -> np.ndarray:
        """Class probabilities (`rnnlab.engine.inference.class_probabilities`).

        Returns:
            (n, classes) float64: softmax for the cross-entropy losses; for
            'binary_crossentropy', [1 - sigmoid, sigmoid] of a single logit, or one
            sigmoid per output (multi-label) when the model has several.
        """
        kind = PROBABILITY.get(self.loss) if isinstance(self.loss, str) else None
        if kind is None:
            raise InvalidValueError(
                f"predict_proba needs a classification loss name ({', '.join(PROBABILITY)}), "
                f"the trainer has {self.loss!r}; use predict and apply your own activation"
            )
        logits = self.predict(x, batch_size)
        width = int(np.prod(logits.shape[1:])) if logits.ndim > 1 else 1
        return class_probabilities(logits, multi_label=kind == "sigmoid" and width > 1)

    def __repr__(self) -> str:
        return (
            f"Trainer({type(self.model).__name__}, loss={self.loss!r}, "
            f"optimizer={type(self.optimizer).__name__}, device='{self.device}')"
        )
