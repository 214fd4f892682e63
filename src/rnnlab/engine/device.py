"""Choosing the device to train on and moving batches to it.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

from typing import Any

import torch

from rnnlab.errors import InvalidValueError, check_type

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn 'auto', 'cpu', 'cuda', 'cuda:1', 'mps' or a `torch.device` into a usable device.

    'auto' picks CUDA when a GPU is present, else the CPU. Asking for a device
    this machine does not have raises instead of failing later inside a batch.
    """
    check_type("device", device, (str, torch.device), "a string or torch.device")
    if isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(device)
        except RuntimeError:
            allowed = ", ".join(f"'{c}'" for c in DEVICE_CHOICES)
            raise InvalidValueError(f"`device` must be one of {allowed}, got '{device}'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError(
            f"`device` is '{device}' but no CUDA GPU is available here; use 'cpu' or 'auto'"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidValueError(
            "`device` is 'mps' but MPS is not available here; use 'cpu' or 'auto'"
        )
    return device


def to_device(tensors: Any, device: torch.device) -> Any:
    """Move a tensor, or a tuple/list of tensors, to ``device`` (no copy when already there)."""
    if isinstance(tensors, torch.Tensor):
        return tensors.to(device, non_blocking=True)
    if isinstance(tensors, (tuple, list)):
        return type(tensors)(to_device(t, device) for t in tensors)
    return tensors
