"""A token store on disk: corpora larger than memory, encoded once, read batch by batch.

`build_store` reads a CSV/TSV file, several of them, or a folder-per-label tree
twice as a stream, never holding the corpus: the first pass assigns every row to
train / validation / test (a seeded draw per row) and fits the vocabulary on the
training part (train + validation rows, as in memory), the second encodes the
texts chunk by chunk into one flat int32 file of token ids per part, with an
int64 offsets array (row ``i`` is ``ids[offsets[i]:offsets[i + 1]]``) and the
labels. `TokenStore` memory-maps the ids (numpy memmap) and pads the rows a
batch asks for, so an epoch touches the corpus page by page
(`rnnlab.experiments.streamed` turns it into training data).

A store is rebuilt only when its source changed: `meta.json` records each source
file's size, modification time and a hash of its first MiB, and the settings
that decide the encoding; `open_store` reuses a store whose record matches.
"""

from __future__ import annotations

import csv
import hashlib
import json
import mmap
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.atomic import atomic_path, write_text_atomic
from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError, DataFileError

PARTS = ("train", "val", "test")
META = "meta.json"
HEADER_BYTES = 1 << 20  # the hashed head of each source file
CHUNK_ROWS = 20000  # rows encoded at once: bounded memory whatever the corpus size
# Reads between dropping the mapped pages from this process's RSS. A random batch faults in
# pages all over the file, and the kernel maps up to 64 KiB of cached neighbours per fault:
# released after every batch, the resident part stays at one batch's pages.
RELEASE_EVERY = 1


def source_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files behind ``paths``: CSV/TSV files as given, a folder as its files, sorted."""
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataFileError(f"data path {str(p)!r} does not exist; fix `data.path`")
        files += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    if not files:
        raise DataFileError(f"no files under {[str(p) for p in paths]}; fix `data.path`")
    return files


def fingerprint(paths: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Size, modification time and a hash of the first MiB of every source file."""
    found = []
    for f in source_files(paths):
        st = f.stat()
        with f.open("rb") as fh:
            head = hashlib.sha256(fh.read(HEADER_BYTES)).hexdigest()
        found.append(
            {"path": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "head": head}
        )
    return found


def iter_rows(
    paths: Sequence[str | os.PathLike[str]], text_column: str, label_column: str
) -> Iterator[tuple[str, str]]:
    """(text, label) per row of CSV/TSV files, or per file of folder-per-label trees."""
    csv.field_size_limit(sys.maxsize)  # reviews longer than csv's 128 KiB default exist
    for p in map(Path, paths):
        if p.is_dir():
            for f in source_files([p]):
                yield f.read_text(encoding="utf-8", errors="replace"), f.parent.name
            continue
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t" if p.suffix.lower() == ".tsv" else ",")
            header = next(reader, None)
            if header is None:
                raise DataError(f"{p}: the file is empty; give a header and rows")
            try:
                ti, li = header.index(text_column), header.index(label_column)
            except ValueError:
                raise DataError(
                    f"{p}: columns `{text_column}` and `{label_column}` are not both in the "
                    f"header {header}; set data.text_column / data.label_column"
                ) from None
            for line, row in enumerate(reader, 2):
                if len(row) <= max(ti, li):
                    raise DataError(f"{p}:{line}: the row has {len(row)} fields, too few")
                yield row[ti], row[li]


def _parts(n: int, draw: np.random.Generator, test: float, val: float) -> np.ndarray:
    """0 train, 1 validation, 2 test for ``n`` rows, from the stream of seeded draws."""
    u = draw.random(n)
    return np.where(u < test, 2, np.where(u < test + (1.0 - test) * val, 1, 0))


@dataclass
class StoreSettings:
    """What decides a store's contents besides its source files."""

    text_column: str = "text"
    label_column: str = "label"
    test_fraction: float = 0.2
    validation_fraction: float = 0.0
    seed: int = 113
    num_words: int | None = None
    min_freq: int = 1
    lower: str = "true"
    max_rows: int | None = None  # only the first rows (--quick)

    def tokenizer(self) -> Tokenizer:
        return Tokenizer(lower={"true": True, "false": False, "ascii": "ascii"}[self.lower])


def _chunks(
    paths: Sequence[str | os.PathLike[str]], s: StoreSettings
) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
    """The rows in chunks: (texts, labels, part of each row); the same on every pass."""
    draw = np.random.default_rng(s.seed)
    texts: list[str] = []
    labels: list[str] = []
    rows = iter_rows(paths, s.text_column, s.label_column)
    seen = 0
    for text, label in rows:
        if s.max_rows is not None and seen >= s.max_rows:
            break
        texts.append(text)
        labels.append(label)
        seen += 1
        if len(texts) == CHUNK_ROWS:
            yield texts, labels, _parts(len(texts), draw, s.test_fraction, s.validation_fraction)
            texts, labels = [], []
    if texts:
        yield texts, labels, _parts(len(texts), draw, s.test_fraction, s.validation_fraction)


def build_store(
    paths: Sequence[str | os.PathLike[str]], directory: str | os.PathLike[str], s: StoreSettings
) -> Path:
    """Encode ``paths`` into a token store in ``directory`` (two streamed passes); return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META).unlink(missing_ok=True)  # a half-built store is never taken as valid
    source = fingerprint(paths)
    names: set[str] = set()

    def training_texts() -> Iterator[str]:
        for texts, labels, part in _chunks(paths, s):
            names.update(labels)
            yield from (t for t, p in zip(texts, part, strict=True) if p < 2)

    vocab = Vocabulary.fit(
        training_texts(), tokenizer=s.tokenizer(), num_words=s.num_words, min_freq=s.min_freq
    )
    label_names = sorted(names)
    label_id = {name: i for i, name in enumerate(label_names)}
    offsets: dict[str, list[np.ndarray]] = {p: [np.zeros(1, np.int64)] for p in PARTS}
    targets: dict[str, list[np.ndarray]] = {p: [] for p in PARTS}
    ends = dict.fromkeys(PARTS, 0)
    paths_ids = [directory / f"{p}.ids.bin" for p in PARTS]
    with (
        atomic_path(paths_ids[0]) as t0,
        atomic_path(paths_ids[1]) as t1,
        atomic_path(paths_ids[2]) as t2,
        open(t0, "wb") as f0,
        open(t1, "wb") as f1,
        open(t2, "wb") as f2,
    ):
        files = dict(zip(PARTS, (f0, f1, f2), strict=True))
        for texts, labels, part in _chunks(paths, s):
            unknown = set(labels) - label_id.keys()
            if unknown:  # only test rows can carry a label no training row has
                raise DataError(
                    f"labels {sorted(unknown)} occur only in the test part; a classifier "
                    "cannot predict them (add training rows or lower data.test_fraction)"
                )
            encoded = vocab.encode(texts)
            for k, name in enumerate(PARTS):
                rows = np.flatnonzero(part == k)
                if not len(rows):
                    continue
                seqs = [encoded[i] for i in rows]
                lengths = np.fromiter((len(q) for q in seqs), np.int64, len(seqs))
                flat = np.fromiter((t for q in seqs for t in q), np.int32, int(lengths.sum()))
                files[name].write(flat.tobytes())
                offsets[name].append(ends[name] + np.cumsum(lengths))
                ends[name] += int(lengths.sum())
                targets[name].append(np.array([label_id[labels[i]] for i in rows], np.int64))
    counts = {}
    for name in PARTS:
        for what, arr in (
            ("offsets", np.concatenate(offsets[name])),
            ("labels", np.concatenate(targets[name]) if targets[name] else np.zeros(0, np.int64)),
        ):
            with atomic_path(directory / f"{name}.{what}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr)
        counts[name] = sum(len(t) for t in targets[name])
    if counts["train"] == 0:
        raise DataError("no row went to the training part; add rows or lower the fractions")
    vocab.to_json(directory / "vocabulary.json")
    meta = {
        "format": 1,
        "source": source,
        "settings": s.__dict__,
        "label_names": label_names,
        "rows": counts,
        "tokens": ends,
    }
    write_text_atomic(directory / META, json.dumps(meta, indent=1))  # last: the store is whole
    return directory


def store_is_current(
    directory: str | os.PathLike[str], paths: Sequence[str | os.PathLike[str]], s: StoreSettings
) -> bool:
    """Whether ``directory`` holds a whole store of exactly these sources and settings."""
    try:
        meta = json.loads((Path(directory) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("settings") == s.__dict__ and meta.get("source") == fingerprint(paths)


def open_store(
    paths: Sequence[str | os.PathLike[str]], directory: str | os.PathLike[str], s: StoreSettings
) -> tuple[dict[str, Any], bool]:
    """The store's meta record, building the store first unless a current one is there.

    Returns:
        (meta, reused): ``reused`` is True when nothing was encoded.
    """
    reused = store_is_current(directory, paths, s)
    if not reused:
        build_store(paths, directory, s)
    meta = json.loads((Path(directory) / META).read_text(encoding="utf-8"))
    return meta, reused


class TokenStore:
    """One part ('train', 'val', 'test') of a built store: labels in memory, ids mapped.

    Attributes:
        offsets: (n + 1,) int64; labels: (n,) int64; ids: the memory-mapped int32 tokens.
    """

    def __init__(self, directory: str | os.PathLike[str], part: str) -> None:
        d = Path(directory)
        self.part = part
        self.offsets = np.load(d / f"{part}.offsets.npy")
        self.labels = np.load(d / f"{part}.labels.npy")
        ids_path = d / f"{part}.ids.bin"
        self.ids: np.ndarray = (
            np.memmap(ids_path, dtype=np.int32, mode="r")
            if ids_path.stat().st_size
            else np.zeros(0, np.int32)
        )
        mapped = getattr(self.ids, "_mmap", None)
        if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)  # batches jump around: no read-ahead
        self._reads = 0

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self, maxlen: int) -> np.ndarray:
        """Tokens per row after truncation to ``maxlen``."""
        return np.minimum(np.diff(self.offsets), maxlen)

    def padded(
        self, rows: np.ndarray, maxlen: int, padding: str, truncating: str, width: int
    ) -> np.ndarray:
        """(len(rows), width) int64 ids of ``rows``, truncated and padded with 0 as Keras does."""
        out = np.zeros((len(rows), width), np.int64)
        for r, i in enumerate(rows):
            a, b = int(self.offsets[i]), int(self.offsets[i + 1])
            if b - a > maxlen:
                a, b = (b - maxlen, b) if truncating == "pre" else (a, a + maxlen)
            k = b - a
            if k:
                if padding == "post":
                    out[r, :k] = self.ids[a:b]
                else:
                    out[r, width - k :] = self.ids[a:b]
        self._reads += 1
        if self._reads % RELEASE_EVERY == 0:
            self.release()
        return out

    def release(self) -> None:
        """Drop the mapped pages from this process's RSS (they stay in the OS page cache)."""
        mapped = getattr(self.ids, "_mmap", None)
        if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            mapped.madvise(mmap.MADV_DONTNEED)
