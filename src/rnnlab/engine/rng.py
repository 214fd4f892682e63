"""Seeding and saving/restoring every random number generator training touches.

Training draws from four generators: torch's global CPU generator (dropout,
initialisation), the CUDA generators, NumPy's legacy global generator and
Python's `random`. `get_rng_state` captures all of them as tensors and plain
numbers, so a checkpoint can hold them without pickling, and `set_rng_state`
puts them back exactly.

>>> seed_everything(3)
>>> state = get_rng_state()
>>> a = torch.rand(2)
>>> set_rng_state(state)
>>> torch.equal(a, torch.rand(2))
True
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from rnnlab.errors import check_int


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy's global generator and Python's `random`.

    Args:
        seed: a non-negative integer.
    """
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seeder takes 32 bits only.
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_rng_state() -> dict[str, Any]:
    """Capture the global generators as tensors and plain numbers (checkpoint-safe).

    Returns:
        {"torch": ByteTensor, "numpy": {...}, "python": {...}} plus "cuda" (a list
        of ByteTensors, one per device) when CUDA has been initialised.
    """
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators captured by `get_rng_state`.

    Args:
        state: the dictionary `get_rng_state` returned (possibly after a round trip
            through a checkpoint file).
    """
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
