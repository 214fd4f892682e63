"""CUDA: the Trainer, the runner's `train.device` and a one-worker NCCL group, on a GPU only."""

import os
import socket

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab.engine import Trainer, seed_everything
from rnnlab.errors import ConfigError
from rnnlab.experiments.config import TrainConfig

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)


class TinyGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(30, 6)
        self.gru = nn.GRU(6, 8, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.embedding(ids))
        return self.out(h[-1])


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, size=(64, 7))
    return x, (x[:, 0] % 3).astype(np.int64)


def _fit(device: str, distributed: bool = False) -> dict[str, torch.Tensor]:
    seed_everything(0)
    model = TinyGRU()
    trainer = Trainer(model, lr=0.01, seed=0, verbose=0, device=device, distributed=distributed)
    trainer.fit(_data(), epochs=2, batch_size=16)
    assert trainer.evaluate(_data())["accuracy"] >= 0.0
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def test_the_config_names_the_device_and_refuses_a_wrong_one():
    assert TrainConfig(device="cuda:0").device == "cuda:0"
    with pytest.raises(ConfigError, match="train.device"):
        TrainConfig(device="gpu")


@needs_cuda
def test_a_fit_on_cuda_ends_near_the_cpu_weights():
    cpu, gpu = _fit("cpu"), _fit("cuda")
    for key in cpu:
        assert torch.allclose(cpu[key], gpu[key], atol=1e-3), key


@needs_cuda
def test_one_nccl_worker_trains_on_the_gpu_of_its_local_rank(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1")
    for key, value in {**env, "LOCAL_RANK": "0"}.items():
        monkeypatch.setitem(os.environ, key, value)
    try:
        weights = _fit("cuda", distributed=True)
        assert torch.distributed.get_backend() == "nccl"
    finally:
        torch.distributed.destroy_process_group()
    cpu = _fit("cpu")
    for key in cpu:
        assert torch.allclose(cpu[key], weights[key], atol=1e-3), key


@needs_cuda
def test_rnnlab_train_on_cuda_saves_a_model_that_loads_on_the_cpu(tmp_path):
    import csv

    from rnnlab import load
    from rnnlab.experiments import train_one

    path = tmp_path / "toy.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(200):
            w.writerow([("good great" if i % 2 else "bad awful") + " the plot", "ab"[i % 2]])
    result = train_one(
        "text/gru",
        [f"data.path={path}", "train.device=cuda", "train.epochs=2"],
        out_dir=tmp_path / "run",
        verbose=0,
    )
    assert result["test"]["accuracy"] > 0.5
    pipeline = load(tmp_path / "run" / "model")
    assert len(pipeline.predict(["good great the plot"])) == 1
