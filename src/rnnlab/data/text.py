"""Readers for labelled text: CSV/TSV files and folder-per-label trees.

Each reader returns a `TextDataset` (texts, string labels, ids). Bad input
fails at once with a `DataError` (or `DataFileError` for a missing file) that
says where (file, row, line) and what to do, never later inside training.
Reuters-21578 SGML lives in `reuters_sgml.py`.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.data.reuters_sgml import ReutersSplit, TopicDataset, read_reuters_sgml
from rnnlab.errors import (
    DataError,
    DataFileError,
    InvalidTypeError,
    InvalidValueError,
    check_int,
    check_type,
    suggest,
)

__all__ = [
    "ReutersSplit",
    "TextDataset",
    "TopicDataset",
    "check_encoding",
    "check_trainable",
    "decode_bytes",
    "read_csv",
    "read_folder",
    "read_reuters_sgml",
]

_TSV_SUFFIXES = (".tsv", ".tab")
_SNIFF_CHARS = 2048


@dataclass
class TextDataset:
    """Texts with optional string labels.

    Attributes:
        texts: n texts.
        labels: n label strings, or None for unlabelled text (prediction input).
        ids: n identifiers: the id column, the row number, or the file path.
        label_names: the classes, sorted; class k is `label_names[k]`.
            Default: the sorted distinct labels.
        source: where the data came from (for messages).
        extra: other columns asked for (`read_csv(extra_columns=...)`), n values each.

    >>> ds = TextDataset(["good", "bad", "fine"], ["pos", "neg", "pos"], ["1", "2", "3"])
    >>> ds.label_names, ds.label_ids
    (['neg', 'pos'], [1, 0, 1])
    """

    texts: list[str]
    labels: list[str] | None
    ids: list[str]
    label_names: list[str] = field(default_factory=list)
    source: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.texts)
        for name, values in self.extra.items():
            if len(values) != n:
                raise DataError(
                    f"`extra` column {name!r} must have one value per text ({n}), got {len(values)}"
                )
        if len(self.ids) != n or (self.labels is not None and len(self.labels) != n):
            got = "none" if self.labels is None else len(self.labels)
            raise DataError(
                f"`texts`, `labels` and `ids` must have one entry per text, got "
                f"{n} texts, {got} labels, {len(self.ids)} ids"
            )
        if self.labels is not None:
            present = set(self.labels)
            if not self.label_names:
                self.label_names = sorted(present)
            elif not present <= set(self.label_names):
                extra = sorted(present - set(self.label_names))
                raise DataError(
                    f"`labels` hold {extra!r}, which are not in `label_names` {self.label_names!r}"
                )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_ids(self) -> list[int]:
        """Each label as its index in `label_names` (n ints)."""
        if self.labels is None:
            where = self.source or "this dataset"
            raise DataError(f"{where} has no labels; read it with a label column")
        index = {name: k for k, name in enumerate(self.label_names)}
        return [index[label] for label in self.labels]

    def class_counts(self) -> dict[str, int]:
        """Number of texts per class, in `label_names` order."""
        counts = Counter(self.labels or ())
        return {name: counts[name] for name in self.label_names}


def check_trainable(dataset: TextDataset, min_classes: int = 2) -> TextDataset:
    """Refuse a dataset a classifier cannot learn from: unlabelled or too few classes.

    Returns:
        `dataset`, unchanged.

    >>> try:
    ...     check_trainable(TextDataset(["a", "b"], ["x", "x"], ["1", "2"], source="t.csv"))
    ... except DataError as exc:
    ...     print(str(exc).split(";")[0])
    t.csv has a single class 'x' (2 texts)
    """
    check_type("dataset", dataset, TextDataset)
    check_int("min_classes", min_classes, minimum=1)
    where = dataset.source or "the dataset"
    if dataset.labels is None:
        raise DataError(f"{where} has no labels; training needs a label column")
    present = [name for name, c in dataset.class_counts().items() if c]
    if len(present) < min_classes:
        if len(present) == 1:
            found = f"a single class {present[0]!r}"
        else:
            found = f"{len(present)} classes {present!r}"
        raise DataError(
            f"{where} has {found} ({len(dataset)} texts); a classifier needs at least "
            f"{min_classes} classes: check the label column, or that the file is not a "
            "one-class extract"
        )
    return dataset


def decode_bytes(data: bytes, encoding: str, where: str) -> str:
    """Decode `data`; on failure name the line and byte, and suggest the fix."""
    check_encoding(encoding)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            f"{where}: line {line}, column {col} (byte {exc.start}) is not valid {encoding} "
            f"(byte {data[exc.start : exc.start + 1]!r}); re-save the file as {encoding}, or pass "
            "the encoding it uses, e.g. encoding='latin-1'"
        ) from None
    except UnicodeError as exc:  # codecs such as idna raise the base class, without a position
        raise DataError(
            f"{where} is not valid {encoding} ({exc}); re-save the file as {encoding}, or pass "
            "the encoding it uses"
        ) from None


def check_encoding(encoding: str) -> str:
    """Refuse a name that is not a text encoding ('utf-8', 'latin-1', ...) before any file is read.

    >>> check_encoding("base64")
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidValueError: `encoding` must name a text encoding such as 'utf-8' or 'latin-1', got 'base64'
    """
    check_type("encoding", encoding, str)
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    # bytes.decode refuses the bytes-to-bytes codecs (base64, zlib, ...) only when it runs.
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InvalidValueError(
            f"`encoding` must name a text encoding such as 'utf-8' or 'latin-1', got {encoding!r}"
        )
    return encoding


def _read_bytes(path: str | os.PathLike[str], what: str) -> tuple[Path, bytes]:
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{what} {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise DataFileError(f"{what} {str(path)!r} is not a file")
    return path, _read_file(path, what)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # permission denied, an I/O error, a file gone since listed
        raise DataFileError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def _sniff_delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() in _TSV_SUFFIXES:
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    try:
        # The sniffer's quote regexes take quadratic time on a long line (a 36 KB header
        # took 9 s); the delimiter shows within the first column names.
        return csv.Sniffer().sniff(header[:_SNIFF_CHARS], delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def read_csv(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str | None = "label",
    delimiter: str | None = None,
    id_column: str | None = None,
    encoding: str = "utf-8",
    require_classes: int | None = None,
    extra_columns: Sequence[str] = (),
) -> TextDataset:
    """Read texts (and labels) from a CSV or TSV file with a header row.

    Args:
        path: the file.
        text_column: header name of the text column.
        label_column: header name of the label column, or None for unlabelled text.
        delimiter: field separator; default tab for .tsv/.tab, comma for .csv,
            else sniffed from the header line (comma if unsure).
        id_column: header name of an id column; default ids are the row numbers "1".."n".
        encoding: text encoding (a UTF-8 byte-order mark is skipped).
        require_classes: if set, fail unless the labels hold at least this many
            classes (use 2 when reading training data); see `check_trainable`.
        extra_columns: more columns to keep, as strings, in `dataset.extra`
            (e.g. a split or a rating column).

    Returns:
        The dataset, rows in file order; blank lines are skipped.
    """
    check_type("text_column", text_column, str)
    check_type("label_column", label_column, (str, type(None)), "str or None")
    check_type("id_column", id_column, (str, type(None)), "str or None")
    if isinstance(extra_columns, str):
        raise InvalidTypeError(
            f"`extra_columns` must be a list of column names, got the str {extra_columns!r}"
        )
    extra_columns = list(extra_columns)
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise InvalidValueError(
            f"`delimiter` must be a single character or None, got {delimiter!r}"
        )
    check_encoding(encoding)
    path, data = _read_bytes(path, "CSV file")
    where = f"CSV file {str(path)!r}"
    text = decode_bytes(data, encoding, where)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DataError(
            f"{where} is empty; expected a header row naming the columns, then data rows"
        )
    if delimiter is None:
        delimiter = _sniff_delimiter(path, text.split("\n", 1)[0])
    # The csv module refuses fields over 128 KiB by default; one text may be longer.
    if csv.field_size_limit() < len(text):
        csv.field_size_limit(len(text))
    # strict: a quote left open or stray text after a closing quote is an error,
    # not a silently merged row.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        while not header:
            header = next(reader)
        rows = []
        line = reader.line_num + 1
        for row in reader:
            if row:
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(
            f"{where}: line {reader.line_num} is not valid CSV ({exc}); check the quoting"
        ) from None
    header = [h.strip() for h in header]
    dupes = [h for h, c in Counter(header).items() if c > 1]
    if dupes:
        raise DataError(f"{where}: the header names column {dupes[0]!r} more than once; rename one")
    wanted = [
        ("text_column", text_column),
        ("label_column", label_column),
        ("id_column", id_column),
    ] + [("extra_columns", name) for name in extra_columns]
    cols = {}
    for arg, name in wanted:
        if name is None:
            continue
        if name not in header:
            shown = ", ".join(repr(h) for h in header)
            raise DataError(
                f"`{arg}` {name!r} is not a column of {where}{suggest(name, header)}; "
                f"available columns: {shown} (delimiter {delimiter!r})"
            )
        cols[arg, name] = header.index(name)
    if not rows:
        raise DataError(f"{where} has a header but no data rows")

    texts: list[str] = []
    labels: list[str] | None = [] if label_column is not None else None
    ids: list[str] = []
    ti = cols["text_column", text_column]
    li = cols.get(("label_column", label_column))
    ii = cols.get(("id_column", id_column))
    for r, (line, row) in enumerate(rows, 1):
        if len(row) != len(header):
            raise DataError(
                f"{where}: row {r} (line {line}) has {len(row)} fields but the header has "
                f"{len(header)}; check the delimiter {delimiter!r} and the quoting"
            )
        value = row[ti]
        if not value.strip():
            raise DataError(
                f"{where}: row {r} (line {line}) has an empty text in column {text_column!r}; "
                "fill it or remove the row"
            )
        texts.append(value)
        if labels is not None:
            label = row[li].strip()
            if not label:
                raise DataError(
                    f"{where}: row {r} (line {line}) has no label in column {label_column!r}; "
                    "label it or remove the row (use label_column=None for unlabelled text)"
                )
            labels.append(label)
        ids.append(row[ii] if ii is not None else str(r))
    extra = {name: [row[cols["extra_columns", name]] for _, row in rows] for name in extra_columns}
    dataset = TextDataset(texts, labels, ids, source=where, extra=extra)
    if require_classes is not None:
        check_trainable(dataset, require_classes)
    return dataset


def read_folder(
    root: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    suffix: str | None = ".txt",
    encoding: str = "utf-8",
    require_classes: int | None = None,
) -> TextDataset:
    """Read a folder-per-label tree such as aclImdb: `root/<label>/<name>.txt`.

    Args:
        root: the folder holding one subfolder per label.
        labels: the label subfolders to read, in the order to read them
            (e.g. ["pos", "neg"] to skip aclImdb's "unsup", in the order of the
            Keras IMDB arrays); default all subfolders, sorted.
        suffix: read only files ending with it; None reads every file. Hidden
            files are always skipped.
        encoding: text encoding of the files.
        require_classes: as in `read_csv`.

    Returns:
        The dataset: label folders in `labels` order, files in lexicographic name
        order within each; ids are "<label>/<file name>". `label_names` are always
        sorted, whatever the reading order.
    """
    check_encoding(encoding)
    root = Path(root)
    if not root.exists():
        raise DataFileError(f"folder {str(root)!r} does not exist; check the path")
    if not root.is_dir():
        raise DataFileError(
            f"{str(root)!r} is not a folder; read_folder expects root/<label>/files"
        )
    available = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    where = f"folder {str(root)!r}"
    if not available:
        raise DataError(f"{where} has no label subfolders; expected {root!s}/<label>/<files>")
    if labels is None:
        labels = available
    else:
        if isinstance(labels, str):
            raise InvalidTypeError(
                f"`labels` must be a list of folder names, got the str {labels!r}"
            )
        labels = list(labels)
        for name in labels:
            if name not in available:
                raise DataError(
                    f"`labels` names {name!r}, which is not a subfolder of {where}"
                    f"{suggest(name, available)}; available: {', '.join(available)}"
                )
        if len(set(labels)) != len(labels):
            raise DataError(f"`labels` must not repeat a folder, got {labels!r}")
        if not labels:
            raise DataError(
                f"`labels` names no folder; pass the label subfolders to read "
                f"(available: {', '.join(available)}) or None for all of them"
            )
    texts: list[str] = []
    found: list[str] = []
    ids: list[str] = []
    for name in labels:
        files = sorted(
            p.name
            for p in (root / name).iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and (suffix is None or p.name.endswith(suffix))
        )
        if not files:
            pattern = "files" if suffix is None else f"*{suffix} files"
            raise DataError(
                f"label folder {str(root / name)!r} holds no {pattern}; add some, or leave it "
                "out with `labels=`"
            )
        for fname in files:
            fpath = root / name / fname
            text = decode_bytes(_read_file(fpath, "file"), encoding, f"file {str(fpath)!r}")
            if not text.strip():
                raise DataError(f"file {str(fpath)!r} is empty; fill it or remove it")
            texts.append(text)
            found.append(name)
            ids.append(f"{name}/{fname}")
    dataset = TextDataset(texts, found, ids, label_names=sorted(labels), source=where)
    if require_classes is not None:
        check_trainable(dataset, require_classes)
    return dataset
