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
never a torn one. With ``keep_previous`` the file it replaces stays beside it
as ``<name>.previous.safetensors``, and `load_latest_checkpoint` falls back to
that one (with a `CheckpointFallbackWarning`) when the latest is damaged.

The header holds a SHA-256 of the structure and of every tensor's name, dtype,
shape and bytes, so a flipped bit anywhere (in the weights, or in a number of
the structure) is refused on load instead of resuming from a different state.

>>> import tempfile
>>> state = {"epoch": 2, "lr": (0.1, None), "w": torch.arange(3.0), 7: {"k": float("nan")}}
>>> with tempfile.TemporaryDirectory() as d:
...     back = load_checkpoint(save_checkpoint(state, d))
>>> back["epoch"], back["lr"], back["w"].tolist(), back[7]
(2, (0.1, None), [0.0, 1.0, 2.0], {'k': nan})
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_tensors

from rnnlab.atomic import atomic_path, write_bytes_atomic
from rnnlab.errors import InvalidTypeError, ModelFileError

CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = "rnnlab.training-state"
# 2: the header carries a digest of the contents. Format 1 (no digest) is still read.
FORMAT_VERSION = 2
READABLE_VERSIONS = ("1", "2")


class CheckpointFallbackWarning(UserWarning):
    """The latest checkpoint could not be read; the run resumes from the one before it."""


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file for ``path``: itself, or `CHECKPOINT_FILE` inside a directory.

    A path without a suffix counts as a directory, even before it exists.
    """
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() or not path.suffix else path


def previous_path(path: str | os.PathLike[str]) -> Path:
    """Where the checkpoint before ``path``'s is kept: ``<stem>.previous<suffix>`` beside it.

    >>> previous_path("run/checkpoint.safetensors").name
    'checkpoint.previous.safetensors'
    """
    file = checkpoint_path(path)
    return file.with_name(f"{file.stem}.previous{file.suffix}")


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


def _digest(structure_json: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the structure and of each tensor's name, dtype, shape and raw bytes."""
    digest = hashlib.sha256(structure_json.encode("utf-8"))
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"\0{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def checkpoint_bytes(structure: Any, tensors: dict[str, torch.Tensor]) -> bytes:
    """The file contents for an encoded structure and its tensors (what `save_checkpoint` writes)."""
    text = json.dumps(structure, allow_nan=True)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "state": text,
        "sha256": _digest(text, tensors),
    }
    return save_tensors(tensors, metadata=metadata)


def save_checkpoint(
    state: dict[str, Any], path: str | os.PathLike[str], keep_previous: bool = False
) -> Path:
    """Atomically write a training state to ``path`` (a file, or a directory for `CHECKPOINT_FILE`).

    Args:
        state: the state (see the module docstring for what it may hold).
        path: the file, or a directory.
        keep_previous: keep the file being replaced as `previous_path` (what
            `load_latest_checkpoint` falls back to).

    Returns:
        The file written.

    Raises:
        ModelFileError: the file cannot be written (a full disk, a read-only
            directory); the checkpoint there before is untouched.
    """
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(state, tensors, set(), "state")
    data = checkpoint_bytes(structure, tensors)
    file = checkpoint_path(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(file) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
            # Only once the new state is on disk: a failed write must not cost the previous.
            if keep_previous and file.is_file():
                _keep_as_previous(file)
        return file
    except OSError as exc:
        raise ModelFileError(
            f"cannot write the checkpoint {str(file)!r}: {exc.strerror or exc}"
            + (" (the checkpoint there before is untouched)" if file.is_file() else "")
        ) from exc


def _keep_as_previous(file: Path) -> None:
    """Make ``file`` the previous checkpoint, without a moment where ``file`` is missing.

    A hard link under a temporary name, renamed over the previous one: the latest
    stays in place until the new one replaces it. Where links are refused, a copy.
    """
    previous = previous_path(file)
    link = previous.with_name(f".{previous.name}.link")
    link.unlink(missing_ok=True)
    try:
        os.link(file, link)
    except OSError:
        write_bytes_atomic(previous, file.read_bytes())
        return
    try:
        os.replace(link, previous)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a state written by `save_checkpoint` (tensors land on ``device``).

    Raises:
        ModelFileError: the file is missing, is not an rnnlab checkpoint, has an
            unknown format version, is damaged, or fails its checksum.
    """
    file = checkpoint_path(path)
    if not file.is_file():
        raise ModelFileError(f"no checkpoint at {str(file)!r}")
    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ModelFileError(f"{str(file)!r} is not an rnnlab training checkpoint")
            version = metadata.get("format_version")
            if version not in READABLE_VERSIONS:
                raise ModelFileError(
                    f"{str(file)!r} is checkpoint format {version}; this rnnlab reads "
                    f"formats {', '.join(READABLE_VERSIONS)}"
                )
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - not a dict
        text = metadata["state"]
        if version != "1" and metadata.get("sha256") != _digest(text, tensors):
            raise ModelFileError(
                f"checkpoint {str(file)!r} does not match its checksum: it was damaged after "
                "it was written"
            )
        state = _decode(json.loads(text), tensors)
    except ModelFileError:
        raise
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ModelFileError(
            f"checkpoint {str(file)!r} is damaged and cannot be read: {exc}"
        ) from None
    if not isinstance(state, dict):
        raise ModelFileError(f"checkpoint {str(file)!r} holds no training state")
    return _to_device(state, torch.device(device)) if str(device) != "cpu" else state


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_device(v, device) for v in obj)
    return obj


def load_latest_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[dict[str, Any], Path]:
    """The newest readable checkpoint of ``path`` and its file: the latest, else the previous one.

    When the latest is missing or damaged and `previous_path` holds a good one,
    warns with `CheckpointFallbackWarning` (naming both and the reason) and
    returns that; the damaged file is renamed to ``*.damaged`` so the next save
    cannot make it the previous checkpoint. When neither can be read, raises the
    latest's `ModelFileError` (which says why).
    """
    file = checkpoint_path(path)
    try:
        return load_checkpoint(file, device), file
    except ModelFileError as latest_error:
        previous = previous_path(file)
        if not previous.is_file():
            raise
        try:
            state = load_checkpoint(previous, device)
        except ModelFileError:
            raise latest_error from None
        if file.is_file():
            try:
                os.replace(file, file.with_name(file.name + ".damaged"))
            except OSError:  # a read-only directory: resuming still works, saving will not
                pass
        warnings.warn(
            f"{latest_error}; resuming from the checkpoint before it, {str(previous)!r}",
            CheckpointFallbackWarning,
            stacklevel=2,
        )
        return state, previous


def has_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a checkpoint to resume from (the latest or the previous one)."""
    file = checkpoint_path(path)
    return file.is_file() or previous_path(file).is_file()
