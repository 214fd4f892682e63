"""Saved-model directories: weights in safetensors, everything else in JSON, nothing pickled.

A saved model is a directory::

    model.safetensors   tensors only (safetensors cannot hold code)
    <name>.json         configuration, vocabulary, class names ... (one file per part)
    manifest.json       format version, rnnlab version, SHA-256 and size of every file

`load_model_dir` checks the manifest before it parses anything, so a missing,
truncated or tampered file, or a directory written by an incompatible format
version, is refused with a clear `ModelFileError`. `save_model_dir` writes into a
temporary sibling directory and swaps it into place, so a crash while saving
never leaves a half-written model where a good one was.
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
from safetensors.torch import load_file, save_file

from rnnlab import __version__
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
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


def save_model_dir(
    directory: str | Path, state_dict: dict[str, torch.Tensor], parts: dict[str, Any]
) -> Path:
    """Atomically write weights and JSON parts to ``directory`` (replacing any old model).

    Args:
        directory: target directory; created, or replaced as a whole.
        state_dict: name -> tensor (a module's ``state_dict()``).
        parts: name -> JSON-serialisable object, each written to ``<name>.json``.
    """
    directory = Path(directory)
    for name in parts:
        if name == "manifest" or not name.replace("_", "").isalnum():
            raise InvalidValueError(f"part name {name!r} is reserved or not a plain word")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.saving-", dir=directory.parent))
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, str(staging / WEIGHTS), metadata={"format": "pt"})
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
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.rmdir(old)
            os.replace(directory, old)
        os.replace(staging, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_model_dir(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Verify and read a directory written by `save_model_dir`: (state_dict, parts).

    ``parts`` holds every JSON part by name, plus the ``manifest`` itself.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(
            f"no saved model at {str(directory)!r}: the directory does not exist "
            "(pass the directory that `save` wrote)"
        )
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        version = manifest["format_version"]
    except FileNotFoundError:
        raise ModelFileError(
            f"{str(directory)!r} is not a saved rnnlab model: {MANIFEST} is missing"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(
            f"{str(manifest_path)!r} is damaged: it is not a valid manifest"
        ) from None
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{str(directory)!r} was saved in model format {version} by rnnlab "
            f"{manifest.get('rnnlab_version', '?')}; this rnnlab {__version__} reads formats "
            f"{', '.join(map(str, READABLE_VERSIONS))}: load it with a matching rnnlab version "
            "and save it again"
        )
    for name, info in files.items():
        path = directory / name
        if not path.is_file():
            raise ModelFileError(f"saved model {str(directory)!r} is incomplete: {name} is missing")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise ModelFileError(
                f"{str(path)!r} is truncated or changed: {size} bytes, manifest says {info['bytes']}"
            )
        if _sha256(path) != info["sha256"]:
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
            parts[name[:-5]] = json.loads((directory / name).read_text(encoding="utf-8"))
    return state, parts
