"""Ways to damage a file, shared by the saved-model and checkpoint fuzzers (imported, not collected).

A safetensors file is: 8 bytes little-endian header length N, N bytes of JSON
header (tensor names, dtypes, shapes, offsets, ``__metadata__``), then the raw
tensor data. The offset classes below are those regions.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from hypothesis import strategies as st


def header_length(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def offset_classes(data: bytes, safetensors: bool) -> dict[str, int]:
    """Representative cut points: the start, inside each region of the file, the last byte."""
    n = len(data)
    points = {"start": 0, "last_byte": n - 1, "middle": n // 2}
    if safetensors and n >= 8:
        end = min(8 + header_length(data), n)
        points.update(
            length_field=4,  # inside the 8-byte header length
            header=min(8 + (end - 8) // 2, n - 1),  # inside the JSON header
            header_end=end - 1,
            data=min(end + max((n - end) // 2, 0), n - 1),  # inside the tensor data
        )
    return points


@st.composite
def byte_flip(draw, data: bytes) -> bytes:
    """``data`` with one byte changed (xor with a non-zero mask) at a random offset."""
    at = draw(st.integers(0, len(data) - 1))
    mask = draw(st.integers(1, 255))
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


@st.composite
def truncation(draw, data: bytes, safetensors: bool) -> bytes:
    """``data`` cut at a point of a random offset class, or at a random offset."""
    points = offset_classes(data, safetensors)
    cut = draw(st.one_of(st.sampled_from(sorted(points.values())), st.integers(0, len(data) - 1)))
    return data[:cut]


def with_header_length(data: bytes, claimed: int) -> bytes:
    """The header length field replaced: a file that claims a header of ``claimed`` bytes."""
    return struct.pack("<Q", claimed) + data[8:]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resign(directory: Path) -> None:
    """Make manifest.json agree with the files as they now are (an edit the checksums cannot see).

    Models a writer that produced bad content and a consistent manifest: the
    loaders must then still refuse the content, or load it, never crash.
    """
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name in list(manifest["files"]):
        path = directory / name
        if path.is_file():
            manifest["files"][name] = {"bytes": path.stat().st_size, "sha256": sha256(path)}
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))


# JSON values of every type, for edits that keep the file valid JSON but not a valid part.
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**65), 2**65),
        st.sampled_from([0, 1, -1, 2, 3, 10**9, 2**31, 2**63]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.sampled_from(["lstm", "post", "pre", "text", "ids", "RecurrentClassifier", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths_in(obj, prefix=()):
    """Every (path, value) in a JSON structure, the root first."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths_in(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths_in(v, (*prefix, i))


@st.composite
def json_edit(draw, obj):
    """``obj`` with one node replaced by a random value, removed, or given an extra key."""
    nodes = list(paths_in(obj))
    path, node = draw(st.sampled_from(nodes))
    kind = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
    if kind == "add" and isinstance(node, dict):
        node = {**node, draw(st.text(max_size=6)): draw(JSON_VALUES)}
        return _put(obj, path, node)
    if kind == "remove" and path:
        parent = _get(obj, path[:-1])
        if isinstance(parent, dict):
            parent = {k: v for k, v in parent.items() if k != path[-1]}
        else:
            parent = [v for i, v in enumerate(parent) if i != path[-1]]
        return _put(obj, path[:-1], parent)
    return _put(obj, path, draw(JSON_VALUES))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def _put(obj, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {**obj, head: _put(obj[head], rest, value)}
    return [(_put(v, rest, value) if i == head else v) for i, v in enumerate(obj)]
