"""Atomic file writes: a temporary file in the target's directory, fsync, then `os.replace`.

A crash mid-write leaves the old file (or none), never a half-written one, and the
rename is fsync'ed into the directory, so it survives a power cut as well. Every
file rnnlab writes goes through here (saved-model directories, swapped whole by
`rnnlab.saving`, aside): reports and figures, run files, configs, vocabularies,
checkpoints, downloads.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     path = write_text_atomic(pathlib.Path(d) / "a.txt", "new")
...     with atomic_path(path) as tmp:          # any writer that wants a file name
...         _ = tmp.write_text("newer")
...     (path.read_text(), sorted(p.name for p in pathlib.Path(d).iterdir()))
('newer', ['a.txt'])
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target``; a clean exit swaps it in as ``target``.

    For writers that want a file name (matplotlib's `savefig`, a download loop):
    write the whole file to the yielded path. On leaving the block it is fsync'ed
    and renamed over ``target``; on an exception ``target`` is untouched and the
    temporary file is removed. The directory of ``target`` must exist.
    """
    target = Path(target)
    tmp = _create_beside(target, suffix)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` in one step; the temp file never survives a failure."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) in one step, as `write_bytes_atomic` does."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _create_beside(target: Path, suffix: str) -> Path:
    """Create an empty, new file next to ``target`` and return its path.

    Not `tempfile.mkstemp`: that creates the file with mode 0600, which the rename
    would hand on to ``target``. Created with 0666 here, the file gets what the
    umask allows, as a plain `open(target, "w")` would give it.
    """
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name next to {target} after 100 tries")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (where the platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse it
        pass
    finally:
        os.close(fd)
