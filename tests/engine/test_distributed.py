"""Data-parallel training: 2 gloo workers at global batch 2B train exactly as 1 process at 2B."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from rnnlab.atomic import write_text_atomic
from rnnlab.engine import Trainer, seed_everything
from rnnlab.engine.data import ArrayData
from rnnlab.engine.distributed import ShardedData, per_worker_batch
from rnnlab.errors import InvalidValueError


class TinyGRU(nn.Module):
    """ids (batch, time) -> logits (batch, 3); no dropout, so only the data order matters."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(30, 6)
        self.gru = nn.GRU(6, 8, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.embedding(ids))
        return self.out(h[-1])


def _data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, size=(96, 7))
    y = (x[:, 0] % 3).astype(np.int64)
    xv = rng.integers(0, 30, size=(37, 7))  # odd: the workers' shards differ in size
    return (x, y), (xv, (xv[:, 0] % 3).astype(np.int64))


def _fit(distributed: bool) -> tuple[dict[str, list[float]], dict[str, list[float]], dict]:
    seed_everything(0)
    model = TinyGRU()
    trainer = Trainer(
        model, optimizer="adam", lr=0.01, seed=0, verbose=0, device="cpu", distributed=distributed
    )
    train, val = _data()
    history = trainer.fit(train, epochs=3, batch_size=16, validation_data=val)
    weights = {k: v.flatten().tolist() for k, v in model.state_dict().items()}
    return weights, history.history, trainer.evaluate(val, batch_size=8)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    weights, history, test = _fit(distributed=True)
    write_text_atomic(
        os.path.join(out, f"rank{rank}.json"),
        json.dumps({"weights": weights, "history": history, "test": test}),
    )
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_end_with_the_weights_of_one_process_at_the_same_global_batch(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    weights, history, test = _fit(distributed=False)
    for key, values in weights.items():
        for rank in ranks:
            got = np.array(rank["weights"][key])
            assert np.abs(got - np.array(values)).max() < 1e-5, key
    # 18 steps changed the weights: the comparison is not of two initialisations.
    seed_everything(0)
    initial = TinyGRU().state_dict()["out.weight"].flatten().numpy()
    assert np.abs(np.array(weights["out.weight"]) - initial).max() > 1e-2
    # Validation and test metrics are summed over the workers: they equal one process's.
    for rank in ranks:
        for key in ("val_loss", "val_accuracy", "loss", "accuracy"):
            np.testing.assert_allclose(rank["history"][key], history[key], atol=1e-5)
        assert rank["test"] == pytest.approx(test, abs=1e-5)


def test_shards_cover_the_order_once_for_evaluation_and_evenly_for_training():
    data = ArrayData.from_pair((np.zeros((7, 1)), np.arange(7)), "d")
    full = data.order(torch.Generator().manual_seed(3)).tolist()
    exact = [ShardedData(data, r, 3, pad=False).order(None, 1).tolist() for r in range(3)]
    assert sorted(sum(exact, [])) == list(range(7))
    padded = [ShardedData(data, r, 3).order(torch.Generator().manual_seed(3), 2) for r in range(3)]
    assert [len(p) for p in padded] == [3, 3, 3]
    assert padded[0].tolist() == [full[0], full[3], full[6]]
    assert padded[1].tolist() == [full[1], full[4], full[0]]  # wrapped round to even out


def test_the_global_batch_must_split_evenly_over_the_workers():
    assert per_worker_batch(32, 4) == 8
    with pytest.raises(InvalidValueError, match="multiple of the 3 workers"):
        per_worker_batch(32, 3)
