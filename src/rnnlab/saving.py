"""Saved-model directories: weights in safetensors, everything else in JSON, nothing pickled.

A saved model is a directory::

    model.safetensors   tensors only (safetensors cannot hold code)
    <name>.json         configuration, vocabulary, class names ... (one file per part)
    manifest.json       format version, rnnlab version, SHA-256 and size of every file

`load_model_dir` checks the manifest before it parses anything, so a missing,
truncated or tampered file, a directory written by an incompatible format
version, or a manifest naming a file outside its directory, is refused with a
clear `ModelFileError`. `save_model_dir` writes into a temporary sibling
directory and swaps it into place in one step, so a crash or a full disk while
saving never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors

from rnnlab import __version__
from rnnlab.atomic import replace_directory
from rnnlab.errors import InvalidValueError, ModelFileError

# Bump when the directory layout or a JSON schema changes incompatibly. Format 1
# (rnnlab 0.1) is still read: `rnnlab.legacy_format` upgrades its parts on load.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    _write_new(path, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file of the staging directory and flush it to the disk."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def save_model_dir(
    directory: str | Path, state_dict: dict[str, torch.Tensor], parts: dict[str, Any]
) -> Path:
    """Atomically write weights and JSON parts to ``directory`` (replacing any old model).

    Everything is written into a temporary sibling directory, flushed, then swapped
    in with `rnnlab.atomic.replace_directory`: a crash, a full disk or a refused
    write leaves the previous model as it was. A failed write raises
    `ModelFileError` (naming the OS reason); an existing ``directory`` that is not a
    saved model is refused, never deleted.

    Args:
        directory: target directory; created, or replaced as a whole.
        state_dict: name -> tensor (a module's ``state_dict()``).
        parts: name -> JSON-serialisable object, each written to ``<name>.json``.
    """
    directory = Path(directory)
    for name in parts:
        if name == "manifest" or not name.replace("_", "").isalnum():
            raise InvalidValueError(f"part name {name!r} is reserved or not a plain word")
    _check_replaceable(directory)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    weights = save_tensors(tensors, metadata={"format": "pt"})
    staging = None
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(directory)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.saving-", dir=directory.parent))
        _write_new(staging / WEIGHTS, weights)
        for name, obj in parts.items():
            _write_json(staging / f"{name}.json", obj)
        files = sorted(p.name for p in staging.iterdir())
        manifest = {
            "format_version": FORMAT_VERSION,
            "rnnlab_version": __version__,
            "files": {
                f: {"sha256": _sha256(staging / f), "bytes": (staging / f).stat().st_size}
                for f in files
            },
        }
        _write_json(staging / MANIFEST, manifest)
        replace_directory(staging, directory)
        _remove_leftovers(directory)  # an old copy a killed swap left aside is now obsolete
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise ModelFileError(
            f"cannot save the model to {str(directory)!r}: {exc.strerror or exc}"
            + (" (the model saved there before is untouched)" if directory.is_dir() else "")
        ) from exc
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _check_replaceable(directory: Path) -> None:
    """Refuse to replace what is not a saved model: replacing deletes the old directory."""
    if directory.is_symlink():
        raise ModelFileError(
            f"cannot save a model to {str(directory)!r}: it is a symbolic link; save to the "
            f"directory it points to, {str(directory.resolve())!r}"
        )
    if directory.exists() and not directory.is_dir():
        raise ModelFileError(
            f"cannot save a model to {str(directory)!r}: it exists and is not a directory"
        )
    if directory.is_dir() and not (directory / MANIFEST).is_file() and any(directory.iterdir()):
        raise ModelFileError(
            f"cannot save a model to {str(directory)!r}: the directory holds other files and "
            "no saved model, and saving would delete them; pass a new or empty directory"
        )


def _remove_leftovers(directory: Path) -> None:
    """Delete what a killed save left beside ``directory``: staging, and old copies once replaced.

    An ``.old-*`` copy is the only model left when a save died between the two
    renames of the fallback swap (``directory`` missing), so it is kept then.
    """
    patterns = [f".{directory.name}.saving-*"]
    if directory.is_dir():
        patterns.append(f".{directory.name}.old-*")
    for pattern in patterns:
        for leftover in directory.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def load_model_dir(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Verify and read a directory written by `save_model_dir`: (state_dict, parts).

    ``parts`` holds every JSON part by name, plus the ``manifest`` itself.
    """
    directory = Path(directory)
    if not directory.is_dir():
        aside = sorted(directory.parent.glob(f".{directory.name}.old-*/{MANIFEST}"))
        hint = (
            f"; a save was interrupted while swapping it in: the previous model is in "
            f"{str(aside[-1].parent)!r}, rename it to {directory.name!r}"
            if aside
            else " (pass the directory that `save` wrote)"
        )
        raise ModelFileError(
            f"no saved model at {str(directory)!r}: the directory does not exist{hint}"
        )
    manifest, files = _read_manifest(directory)
    for name, (size_listed, sha_listed) in files.items():
        path = directory / name
        if not path.is_file():
            raise ModelFileError(f"saved model {str(directory)!r} is incomplete: {name} is missing")
        if path.resolve().parent != directory.resolve():
            raise ModelFileError(
                f"{str(path)!r} is a link that leads out of the model directory "
                f"(to {str(path.resolve())!r}); a saved model holds its own files"
            )
        size = path.stat().st_size
        if size != size_listed:
            raise ModelFileError(
                f"{str(path)!r} is truncated or changed: {size} bytes, manifest says {size_listed}"
            )
        if _sha256(path) != sha_listed:
            raise ModelFileError(
                f"{str(path)!r} does not match its checksum in {MANIFEST}: the file was "
                "modified or corrupted after saving; save the model again"
            )
    if WEIGHTS not in files:
        raise ModelFileError(f"saved model {str(directory)!r} lists no {WEIGHTS}")
    try:
        state = load_file(str(directory / WEIGHTS))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{str(directory / WEIGHTS)!r} cannot be read: {exc}") from None
    parts: dict[str, Any] = {"manifest": manifest}
    for name in files:
        if name.endswith(".json"):
            parts[name[:-5]] = _read_json_part(directory / name)
    return state, parts


def _read_manifest(directory: Path) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    """The manifest and its checked file list: name -> (bytes, sha256), names plain and inside.

    The manifest is the one file nothing else checks, so every field is checked
    here: a flipped byte in it must give a `ModelFileError`, not a KeyError.
    """
    manifest_path = directory / MANIFEST
    damaged = f"{str(manifest_path)!r} is damaged: it is not a valid manifest"
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ModelFileError(
            f"{str(directory)!r} is not a saved rnnlab model: {MANIFEST} is missing"
        ) from None
    except (ValueError, RecursionError):  # bad JSON or UTF-8 (both ValueErrors), deep nesting
        raise ModelFileError(damaged) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelFileError(damaged + " (no `files` table)")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ModelFileError(
            f"{str(directory)!r} was saved in model format {version!r} by rnnlab "
            f"{manifest.get('rnnlab_version', '?')}; this rnnlab {__version__} reads formats "
            f"{', '.join(map(str, READABLE_VERSIONS))}: load it with a matching rnnlab version "
            "and save it again"
        )
    files: dict[str, tuple[int, str]] = {}
    for name, info in manifest["files"].items():
        if not _plain_file_name(name):
            raise ModelFileError(
                f"{damaged}: it lists {name!r}, which is not a plain file name inside the model "
                "directory (no paths, no '..')"
            )
        size = info.get("bytes") if isinstance(info, dict) else None
        sha = info.get("sha256") if isinstance(info, dict) else None
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or not isinstance(sha, str)
            or len(sha) != 64
            or any(c not in "0123456789abcdef" for c in sha)
        ):
            raise ModelFileError(f"{damaged}: the entry of {name!r} has no valid size and SHA-256")
        files[name] = (size, sha)
    return manifest, files


def _plain_file_name(name: Any) -> bool:
    """A name that can only mean a file directly inside the directory, on any platform."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in "/\\\x00")
        and not os.path.isabs(name)
        and Path(name).name == name
    )


def _read_json_part(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # checksummed, so written this way
        raise ModelFileError(f"{str(path)!r} is not valid JSON: {exc}") from None
