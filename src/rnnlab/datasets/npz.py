"""Read `.npz` archives safely: never `np.load(allow_pickle=True)`.

The Keras IMDB and Reuters files store ragged sequences as `dtype=object`
arrays, which NumPy can only save as a pickle stream; unpickling an untrusted
stream can run any code. Here each `.npy` member's header is parsed first:

- plain (numeric) arrays are read with pickling disabled;
- object arrays are unpickled by `RestrictedUnpickler`, which resolves only the
  three globals NumPy needs to rebuild an object array (`ndarray`, `dtype` and
  `multiarray._reconstruct`, under both their NumPy 1 and NumPy 2 module
  names). Lists and ints are native pickle opcodes and need no global at all,
  so a stream that asks for anything else (`os.system`, `builtins.eval`, ...)
  is refused before that object is even looked up.

Any damage (a truncated or corrupt zip, a bad CRC, a malformed header, a pickle
that does not rebuild the array its header announces) ends in one
`DataFileError` naming the file and member: never a half-loaded result.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any, BinaryIO

import numpy as np
import numpy.lib.format as npformat

from rnnlab.errors import DataFileError

# numpy's multiarray._reconstruct, fetched without importing the deprecated
# numpy.core path (NumPy 2 warns on it) and without naming a private module.
_reconstruct = np.empty(0).__reduce__()[0]

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle stream asked for a global outside the allowed set."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy object arrays of lists and nothing else.

    `find_class` returns the allowed objects from a fixed table; it never
    imports a module, so a forbidden name is refused before it is resolved.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(f"`{module}.{name}`") from None


def _read_header(fp: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = npformat.read_magic(fp)
    if version == (1, 0):
        return npformat.read_array_header_1_0(fp)
    if version in ((2, 0), (3, 0)):
        # Format 3.0 differs from 2.0 only in encoding the header text as UTF-8;
        # the layout is the same and dtype descriptions are ASCII.
        return npformat.read_array_header_2_0(fp)
    raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")


def read_npy(fp: BinaryIO, source: str = "<stream>") -> np.ndarray:
    """Read one `.npy` stream; object arrays go through `RestrictedUnpickler`.

    Args:
        fp: binary stream positioned at the start of the `.npy` data; it is read
            to its end (so a zip member's CRC is checked).
        source: name used in error messages, e.g. "imdb.npz:x_train.npy".

    Returns:
        The array, with exactly the shape and dtype its header announces.

    Raises:
        DataFileError: malformed header or data, or a forbidden pickle global.
    """
    try:
        shape, fortran, dtype = _read_header(fp)
        if dtype.hasobject:
            if dtype != np.dtype(object):
                raise ValueError(f"structured dtype with objects {dtype} is not supported")
            array = RestrictedUnpickler(fp, encoding="ASCII").load()
        else:
            count = int(np.prod(shape, dtype=np.int64))
            nbytes = count * dtype.itemsize
            data = fp.read(nbytes)
            if len(data) != nbytes:
                raise ValueError(f"data ends after {len(data)} of {nbytes} bytes")
            array = np.frombuffer(data, dtype=dtype).copy()
            array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
        if fp.read(1):
            raise ValueError("unexpected bytes after the array data")
    except ForbiddenGlobal as exc:
        raise DataFileError(
            f"{source} asks to load {exc}, which a data array never needs; refused without "
            "running it. The file is corrupt or malicious: do not use it"
        ) from None
    except DataFileError:
        raise
    except Exception as exc:  # any parse failure of untrusted bytes means a damaged file
        raise DataFileError(
            f"{source} is not a valid .npy array ({type(exc).__name__}: {exc}); the file is "
            "corrupt or truncated"
        ) from exc
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != tuple(shape):
        got = (
            f"{array.dtype} array of shape {array.shape}"
            if isinstance(array, np.ndarray)
            else type(array).__name__
        )
        raise DataFileError(
            f"{source} announces a {dtype} array of shape {tuple(shape)} but holds {got}; "
            "the file is corrupt or was tampered with"
        )
    return array


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every `.npy` member of an `.npz` archive, safely.

    A drop-in for `dict(np.load(path, allow_pickle=True))` on the Keras dataset
    files that cannot run code hidden in the file.

    Args:
        path: the `.npz` file.

    Returns:
        dict mapping each member name without ".npy" (e.g. "x_train") to its array.

    Raises:
        DataFileError: the file is missing, not a zip archive, truncated,
            fails a CRC check or holds an array that cannot be read safely.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                source = f"{path}:{info.filename}"
                with archive.open(info) as member:
                    # Buffered: the unpickler reads in many small pieces.
                    arrays[info.filename[: -len(".npy")]] = read_npy(
                        io.BufferedReader(member, buffer_size=1 << 20), source
                    )
    except DataFileError:
        raise
    except FileNotFoundError as exc:
        raise DataFileError(f"{path} does not exist") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise DataFileError(
            f"{path} is not a readable .npz archive ({type(exc).__name__}: {exc}); it is "
            "corrupt or truncated. Delete it and download it again"
        ) from exc
    return arrays
