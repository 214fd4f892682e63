"""Tiny models, data and callbacks shared by the engine tests (imported, not collected)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnlab import engine
from rnnlab.engine import Callback, seed_everything


def Trainer(*args, **kwargs) -> engine.Trainer:
    """`rnnlab.engine.Trainer` pinned to the CPU unless told otherwise: the bit-exact
    claims these tests check are CPU claims, and 'auto' would pick a GPU where there is one."""
    kwargs.setdefault("device", "cpu")
    return engine.Trainer(*args, **kwargs)


class MLP(nn.Module):
    """x: (batch, 4) float -> (batch, 3) logits; dropout so the RNG matters."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.tanh(self.hidden(x))))


class BagOfIds(nn.Module):
    """ids: (batch, time) int64, lengths: (batch,) -> (batch, 3) logits from mean embeddings."""

    def __init__(self, vocab: int = 20, dropout: float = 0.2) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 5)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(5, 3)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(ids.shape[1]) < lengths[:, None]
        summed = (self.embedding(ids) * mask[..., None]).sum(dim=1)
        return self.out(self.drop(summed / lengths[:, None]))


def mlp(seed: int = 0) -> MLP:
    seed_everything(seed)
    return MLP()


def blobs(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x: (n, 4) float64 around one of three centres; y: (n,) int64 class of the centre."""
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 3, n)
    centres = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    return rs.randn(n, 4) + centres[y], y


def id_data(n: int = 32, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((ids (n, 6) int64, lengths (n,) int64), y (n,))."""
    rs = np.random.RandomState(seed)
    return (rs.randint(1, 20, (n, 6)), rs.randint(1, 7, n)), rs.randint(0, 3, n)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Recorder(Callback):
    """Records every hook call and a copy of the weights after each epoch."""

    order = 1000

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_fit_begin(self, trainer):
        self.calls.append(("fit_begin",))

    def on_fit_end(self, trainer):
        self.calls.append(("fit_end",))

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch))
        self.weights.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})

    def on_batch_begin(self, trainer, batch):
        self.calls.append(("batch_begin", batch))

    def on_after_backward(self, trainer, batch, loss):
        self.calls.append(("after_backward", batch))

    def on_batch_end(self, trainer, batch, logs):
        self.calls.append(("batch_end", batch))


class RaiseAt(Callback):
    """Raises once, at the end of batch ``batch`` of epoch ``epoch`` (before any checkpoint)."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)
        self.fired = False

    def on_batch_end(self, trainer, batch, logs):
        if not self.fired and (trainer.epoch, batch) == self.at:
            self.fired = True
            raise RuntimeError("interrupted by the test")


class InjectLogs(Callback):
    """Writes ``values[epoch]`` into the epoch logs under ``key``, before others read them."""

    order = -100

    def __init__(self, key: str, values: list[float]) -> None:
        self.key, self.values = key, values

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.values[epoch]
