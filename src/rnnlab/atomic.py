"""Atomic file writes: a temporary file in the target's directory, fsync, then `os.replace`.

A crash mid-write leaves the old file (or none), never a half-written one, and the
rename is fsync'ed into the directory, so it survives a power cut as well. Every
file rnnlab writes goes through here (saved-model directories, written by
`rnnlab.saving` and swapped in whole with `replace_directory`, aside): reports and
figures, run files, configs, vocabularies, checkpoints, downloads.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     path = write_text_atomic(pathlib.Path(d) / "a.txt", "new")
...     with atomic_path(path) as tmp:          # any writer that wants a file name
...         _ = tmp.write_text("newer")
...     (path.read_text(), sorted(p.name for p in pathlib.Path(d).iterdir()))
('newer', ['a.txt'])
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import sys
import tempfile
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
    try:
        tmp = _create_beside(target, suffix)
    except OSError as exc:
        raise _about(exc, target) from exc
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _about(exc, target) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _about(exc: OSError, target: Path) -> OSError:
    """``exc`` naming ``target``, not the temporary file (a full disk, a read-only directory).

    "/run/.history.json.3f2a9c.tmp: No space left on device" would send the user
    looking for a file that never existed.
    """
    if exc.errno is None or (
        exc.filename is not None and Path(exc.filename).parent != target.parent
    ):
        return exc  # not about the write itself: leave it as it is
    return type(exc)(exc.errno, exc.strerror, str(target))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` in one step; the temp file never survives a failure."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) in one step, as `write_bytes_atomic` does."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def replace_directory(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Put the complete directory ``staging`` in the place of ``target``, in one step.

    On Linux the two are exchanged with ``renameat2(RENAME_EXCHANGE)``: at every
    instant ``target`` is the whole old directory or the whole new one. Where the
    kernel or file system cannot exchange, the old directory is renamed aside
    first (to ``.<name>.old-*``, which then holds it until the new one is in place),
    so a crash between the two renames leaves ``target`` missing, never half-written.
    The old directory is deleted afterwards.
    """
    staging, target = Path(staging), Path(target)
    _fsync_dir(staging)  # its entries (the files' names) reach the disk before the swap
    if not target.exists():
        os.replace(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old directory
    else:
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(aside)
        os.replace(target, aside)
        os.replace(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
    _fsync_dir(target.parent)
    return target


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    rename_exchange, at_fdcwd = 2, -100
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # pragma: no cover - a C library without renameat2
        return False
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or file system lacks it
        return False
    raise OSError(code, os.strerror(code), str(b))


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


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file written by other code (a library that takes a file name) to the disk."""
    _fsync_file(Path(path))


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
