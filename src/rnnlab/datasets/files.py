"""Where the data files live, how a missing one is downloaded, and how every file is verified.

Files are looked up in the directories of `data_dirs()`: the `RNNLAB_DATA`
environment variable when it is set (one directory, or several separated by
`os.pathsep`; a relative path is taken from the current directory), else
`~/.rnnlab/datasets`. A missing file is downloaded from the canonical Keras
location (`https://storage.googleapis.com/tensorflow/tf-keras-datasets/<name>`)
into the first of those directories: to a temporary file in that directory,
checked, then moved into place in one atomic step, so a failed or interrupted
download never leaves a partial file behind.

Every file is checked by size and SHA-256 against `KNOWN_FILES` before a single
byte of it is parsed; a file with an unknown hash (corrupt, truncated, tampered
with or simply different) is refused with a message that names it and the fix.
The check is remembered in-process per (path, size, mtime), so repeated loads
do not hash the same file again.

Provenance of the known files. `reuters.npz`, `reuters_word_index.json` and
`imdb_word_index.json` are accepted only as the exact files Keras publishes.
`imdb.npz` is accepted in two versions:

- ``"keras"``: the file Keras publishes (the hash in Keras's own source);
- ``"rnnlab-rebuild"``: a rebuild from the raw aclImdb reviews with the real
  word index. It reproduces every published statistic of the Keras file and
  the known sample reviews at their positions after the shuffle, but its bytes
  (pickle and zip framing) differ, so its hash differs. It is accepted because
  its content was checked, not because it is the same file.

`file_provenance("imdb.npz")` says which one a load reads. To use a file of
your own deliberately, register its hash first with `add_known_file`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rnnlab.atomic import atomic_path
from rnnlab.errors import DataFileError, InvalidValueError, check_choice, check_int, check_type

ENV_VAR = "RNNLAB_DATA"
DEFAULT_DIR = "~/.rnnlab/datasets"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS = "keras"
REBUILD = "rnnlab-rebuild"

# Seconds without a byte before a download gives up: offline machines fail fast.
_TIMEOUT_S = 30
_CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownFile:
    """One accepted version of a data file.

    Attributes:
        name: the canonical file name, e.g. "imdb.npz".
        sha256: hex SHA-256 of the whole file.
        size: size in bytes, or None when not recorded (then only the hash is checked).
        provenance: "keras" (the file Keras publishes), "rnnlab-rebuild", or
            what `add_known_file` was given.
        note: where the file comes from, in one sentence.
    """

    name: str
    sha256: str
    size: int | None
    provenance: str
    note: str


_KERAS_NOTE = "the file Keras publishes; hash as in the Keras 3 source"
_KNOWN: list[KnownFile] = [
    KnownFile(
        "reuters.npz",
        "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
        2_110_848,
        KERAS,
        _KERAS_NOTE,
    ),
    KnownFile(
        "reuters_word_index.json",
        "9b56000edc4b34a32e89fd5a23b2605594682c74efcf7d8f4e2a5514b771e633",
        550_378,
        KERAS,
        _KERAS_NOTE + " (Keras checks its MD5 4d44cc38712099c9e383dc6e5f11a921)",
    ),
    KnownFile(
        "imdb_word_index.json",
        "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",
        1_641_221,
        KERAS,
        _KERAS_NOTE + " (Keras checks its MD5 bfafd718b763782e994055a2d397834f)",
    ),
    KnownFile(
        "imdb.npz",
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
        17_464_789,
        KERAS,
        _KERAS_NOTE,
    ),
    KnownFile(
        "imdb.npz",
        "6814c0beea01878740d178d45caaf84fa878f5f452bd5f6bb6b5e3add8655f32",
        17_311_495,
        REBUILD,
        "rebuilt from the raw aclImdb reviews with the real imdb_word_index.json; it "
        "reproduces Keras's published statistics and sample reviews but is not "
        "byte-identical to the Keras file",
    ),
]

KNOWN_FILES: dict[str, tuple[KnownFile, ...]] = {}
for _k in _KNOWN:
    KNOWN_FILES[_k.name] = KNOWN_FILES.get(_k.name, ()) + (_k,)
del _k

# (name, real path, size, mtime_ns, inode) -> KnownFile, for files already hashed.
_verified: dict[tuple[Any, ...], KnownFile] = {}
_lock = threading.Lock()


def data_dirs() -> list[Path]:
    """Return the directories searched for data files, in order.

    `RNNLAB_DATA` when set (several directories may be joined with
    `os.pathsep`; relative ones are resolved against the current directory),
    else `~/.rnnlab/datasets`. Downloads go to the first directory.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    parts = [p for p in env.split(os.pathsep) if p.strip()] if env else [DEFAULT_DIR]
    return [Path(p.strip()).expanduser().resolve() for p in parts]


def add_known_file(name: str, sha256: str, size: int | None = None, note: str = "") -> KnownFile:
    """Accept one more version of a data file, deliberately, for this process.

    Use this to load a copy of your own whose hash rnnlab does not know (an
    older Keras file, your own rebuild). It is the only way to make a loader
    read a file outside the built-in table.

    Args:
        name: the canonical name, one of `KNOWN_FILES` ("imdb.npz", ...).
        sha256: the 64-hex-digit SHA-256 of the file (`sha256sum FILE`).
        size: its size in bytes, if you want it checked as well.
        note: where the file comes from; shown by `file_info`.

    Returns:
        The registered entry, with provenance "user".
    """
    check_choice("name", name, KNOWN_FILES)
    check_type("sha256", sha256, str)
    check_int("size", size, minimum=1, allow_none=True)
    digest = sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidValueError(f"`sha256` must be 64 hexadecimal digits, got {sha256!r}")
    entry = KnownFile(name, digest, size, "user", note or "registered with add_known_file")
    with _lock:
        KNOWN_FILES[name] = KNOWN_FILES[name] + (entry,)
    return entry


def _url(name: str) -> str:
    return ORIGIN + name


def _fix(name: str) -> str:
    return (
        f"set {ENV_VAR} to a directory that holds {name} "
        f"(a copy of {_url(name)}), e.g. `export {ENV_VAR}=/path/to/datasets`"
    )


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, name: str) -> KnownFile:
    """Check that `path` is a known version of the data file `name`; return which.

    The result is remembered per (path, size, mtime), so a second call on an
    unchanged file does not hash it again.

    Raises:
        DataFileError: the file cannot be read, has the wrong size or an
            unknown SHA-256 (corrupt, truncated or another file).
    """
    check_choice("name", name, KNOWN_FILES)
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise DataFileError(f"cannot read {name} at {path}: {exc.strerror or exc}") from exc
    key = (name, str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    with _lock:
        hit = _verified.get(key)
    if hit is not None:
        return hit
    known = KNOWN_FILES[name]
    redo = (
        f"Delete it so that rnnlab downloads {_url(name)} again, or replace it with a "
        f"good copy; to use a file of your own deliberately, register its hash with "
        f"rnnlab.datasets.files.add_known_file"
    )
    sizes = {k.size for k in known}
    if None not in sizes and st.st_size not in sizes:
        expected = " or ".join(f"{k.size:,} ({k.provenance})" for k in known)
        raise DataFileError(
            f"{path} is not a known copy of {name}: it has {st.st_size:,} bytes, expected "
            f"{expected}; it is truncated, corrupt or a different file. {redo}."
        )
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise DataFileError(f"cannot read {name} at {path}: {exc.strerror or exc}") from exc
    for k in known:
        if k.sha256 == digest and (k.size is None or k.size == st.st_size):
            with _lock:
                _verified[key] = k
            return k
    expected = ", ".join(f"{k.sha256} ({k.provenance})" for k in known)
    raise DataFileError(
        f"{path} is not a known copy of {name}: its SHA-256 is {digest}, expected one of "
        f"{expected}; it is corrupt, truncated, tampered with or a different file, and was "
        f"not read. {redo}."
    )


def _download(name: str, target: Path, searched: list[Path]) -> None:
    """Download `name` from the Keras location to `target`, atomically and verified."""
    url = _url(name)
    where = ", ".join(str(d) for d in searched)
    try:
        # Connect first: an offline machine gets no empty directory as a side effect.
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A failed check raises inside the block: the .part file goes, target stays as it was.
            with atomic_path(target, suffix=".part") as tmp:
                h = hashlib.sha256()
                # disable=None: a bar on a terminal, silence in logs and CI.
                bar = tqdm(
                    total=_content_length(resp),
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"downloading {name}",
                    disable=None,
                    leave=False,
                )
                with open(tmp, "wb") as out, bar:
                    while chunk := resp.read(_CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
                digest = h.hexdigest()
                if not any(k.sha256 == digest for k in KNOWN_FILES[name]):
                    raise DataFileError(
                        f"the download of {name} from {url} is not a known copy "
                        f"({tmp.stat().st_size:,} bytes, SHA-256 {digest}); it was discarded "
                        f"and nothing was written to {target}. Try again later, or {_fix(name)}"
                    )
    except DataFileError:
        raise
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise DataFileError(
            f"{name} was not found in {where} and could not be downloaded from {url} "
            f"({reason}). If this machine is offline, {_fix(name)}"
        ) from exc


def _content_length(resp: Any) -> int | None:
    headers = getattr(resp, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def resolve(name: str, path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find a data file, downloading it when missing, and return its path (not yet verified).

    Args:
        name: canonical name, one of `KNOWN_FILES`; decides the URL and the accepted hashes.
        path: None for `name` itself; a bare file name (Keras's meaning of
            `path=`) to look for in `data_dirs()` under that name; or a path
            with a directory part (absolute, `~/...` or relative to the current
            directory) naming the file directly, never downloaded.
        download: whether a bare name missing from every directory is downloaded.

    Raises:
        DataFileError: the file is missing and cannot be downloaded.
    """
    check_choice("name", name, KNOWN_FILES)
    if path is None:
        path = name
    check_type("path", path, (str, os.PathLike), "a file name or path")
    text = os.fspath(path)
    if not text:
        raise InvalidValueError(
            f"`path` must be a file name or path, got an empty string; use {name!r}"
        )
    p = Path(text).expanduser()
    if p.name != text:
        if not p.is_file():
            raise DataFileError(
                f"{name} was not found at {p.resolve()} (the `path` given). Fix the path, or "
                f"pass a bare file name to look in the data directories ({ENV_VAR})"
            )
        return p
    dirs = data_dirs()
    for d in dirs:
        if (d / text).is_file():
            return d / text
    if not download:
        raise DataFileError(
            f"{text} was not found in {', '.join(str(d) for d in dirs)}; {_fix(name)}"
        )
    _download(name, dirs[0] / text, dirs)
    return dirs[0] / text


def get_file(name: str, path: str | os.PathLike | None = None) -> tuple[Path, KnownFile]:
    """Find (download if needed) and verify a data file: `resolve` then `verify_file`.

    Returns:
        (path of the verified file, the `KnownFile` it matched).
    """
    found = resolve(name, path)
    return found, verify_file(found, name)


def file_info(name: str, path: str | os.PathLike | None = None) -> KnownFile:
    """Return which known version of `name` a loader given `path` would read."""
    return get_file(name, path)[1]


def file_provenance(name: str, path: str | os.PathLike | None = None) -> str:
    """Say which version of a data file a load reads: "keras", "rnnlab-rebuild" or "user".

    `file_provenance("imdb.npz")` is "rnnlab-rebuild" on machines that hold the
    rebuilt IMDB file and "keras" where the original was downloaded.
    """
    return file_info(name, path).provenance
