"""Training-state files: one safetensors file, written atomically, read without unpickling.

A checkpoint is a nested structure of dicts, lists, tuples, numbers, strings
and tensors (a trainer's `state_dict`). `save_checkpoint` stores every tensor
in a safetensors file and the structure around them as JSON in that file's
header metadata, so one file holds everything and one `os.replace` swaps it
in. Loading parses JSON and raw tensor bytes only: a checkpoint can never run
code, whoever wrote it.

Writes go through `rnnlab.atomic`: a temporary file in the same directory,
fsync'ed, then renamed over the old file (and the directory fsync'ed), so a
crash or SIGKILL at any moment leaves either the old or the new checkpoint,
never a torn one.

>>> import tempfile
>>> state = {"epoch": 2, "lr": (0.1, None), "w": torch.arange(3.0), 7: {"k": float("nan")}}
>>> with tempfile.TemporaryDirectory() as d:
...     back = load_checkpoint(save_checkpoint(state, d))
>>> back["epoch"], back["lr"], back["w"].tolist(), back[7]
(2, (0.1, None), [0.0, 1.0, 2.0], {'k': nan})
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_tensors

from rnnlab.atomic import write_bytes_atomic
from rnnlab.errors import InvalidTypeError, ModelFileError

CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = "rnnlab.training-state"
FORMAT_VERSION = 1


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file for ``path``: itself, or `CHECKPOINT_FILE` inside a directory.

    A path without a suffix counts as a directory, even before it exists.
    """
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() or not path.suffix else path


def _encode(obj: Any, tensors: dict[str, torch.Tensor], storages: set[int], where: str) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensor = obj.detach().cpu()
        storage = tensor.untyped_storage()
        if (
            not tensor.is_contiguous()
            or storage.data_ptr() in storages
            or storage.nbytes() != tensor.numel() * tensor.element_size()
        ):
            tensor = tensor.contiguous().clone()  # safetensors refuses shared or partial storage
        elif tensor.numel():
            storages.add(storage.data_ptr())
        tensors[key] = tensor
        return {"$tensor": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {
            "$tuple": [_encode(v, tensors, storages, f"{where}[{i}]") for i, v in enumerate(obj)]
        }
    if isinstance(obj, list):
        return [_encode(v, tensors, storages, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, tensors, storages, f"{where}.{k}") for k, v in obj.items()}
        return {
            "$items": [
                [
                    _encode(k, tensors, storages, where),
                    _encode(v, tensors, storages, f"{where}[{k!r}]"),
                ]
                for k, v in obj.items()
            ]
        }
    raise InvalidTypeError(
        f"cannot checkpoint `{where}` of type {type(obj).__name__}: training state must be "
        "tensors, numbers, strings, None, or lists / tuples / dicts of them"
    )


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            ((tag, value),) = obj.items()
            if tag == "$tensor":
                return tensors[value]
            if tag == "$tuple":
                return tuple(_decode(v, tensors) for v in value)
            if tag == "$items":
                return {_decode(k, tensors): _decode(v, tensors) for k, v in value}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    return obj


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Atomically write a training state to ``path`` (a file, or a directory for `CHECKPOINT_FILE`).

    Returns:
        The file written.
    """
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(state, tensors, set(), "state")
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "state": json.dumps(structure, allow_nan=True),
    }
    file = checkpoint_path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(file, save_tensors(tensors, metadata=metadata))


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a state written by `save_checkpoint` (tensors land on ``device``).

    Raises:
        ModelFileError: the file is missing, is not an rnnlab checkpoint, has an
            unknown format version, or is damaged.
    """
    file = checkpoint_path(path)
    if not file.is_file():
        raise ModelFileError(f"no checkpoint at {str(file)!r}")
    try:
        with safe_open(str(file), framework="pt", device=str(device)) as fh:
            metadata = fh.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ModelFileError(f"{str(file)!r} is not an rnnlab training checkpoint")
            if metadata.get("format_version") != str(FORMAT_VERSION):
                raise ModelFileError(
                    f"{str(file)!r} is checkpoint format {metadata.get('format_version')}; "
                    f"this rnnlab reads format {FORMAT_VERSION}"
                )
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - not a dict
        structure = json.loads(metadata["state"])
        return _decode(structure, tensors)
    except ModelFileError:
        raise
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"checkpoint {str(file)!r} is damaged and cannot be read: {exc}"
        ) from None
