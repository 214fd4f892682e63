"""Fuzzing the CSV / TSV and folder readers: a clean dataset or one project error, quickly.

Two kinds of property:

- garbage in (random bytes, random quoting, mixed line endings, byte-order
  marks, very long fields, empty lines, missing columns, odd arguments): the
  reader returns a consistent `TextDataset` or raises an `RnnlabError`; any other
  exception fails, and so does an example over the deadline (a hang);
- well-formed files written by Python's `csv.writer` (any text, any line
  ending, with or without a BOM, blank lines between rows): the reader returns
  exactly the texts, labels and ids written.
"""

import csv
import io
import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rnnlab.data.text import TextDataset, read_csv, read_folder
from rnnlab.errors import DataError, DataFileError, InvalidValueError, RnnlabError
from tests.reliability.fuzzing import bounded, clean_outcome

FIELD_CHARS = st.one_of(
    st.sampled_from(list("abc ,;|\t\"'\r\n\x00\ufeff\x1c\u2028") + ["é", "😀"]),
    st.characters(codec="utf-8"),
)
FIELD = st.text(FIELD_CHARS, max_size=12)
LINE_END = st.sampled_from(["\n", "\r\n", "\r"])
BOMS = st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])
SUFFIX = st.sampled_from([".csv", ".tsv", ".tab", ".txt", "", ".CSV"])


def check_dataset(ds):
    """What every returned dataset guarantees."""
    assert isinstance(ds, TextDataset) and len(ds) > 0
    assert len(ds.ids) == len(ds.texts)
    assert all(isinstance(t, str) and t.strip() for t in ds.texts)
    if ds.labels is not None:
        assert len(ds.labels) == len(ds.texts)
        assert all(label and label == label.strip() for label in ds.labels)
        assert ds.label_names == sorted(set(ds.labels))


@st.composite
def messy_csv(draw):
    """A header, then rows of random fields, joined by hand: every quoting mistake is possible."""
    sep = draw(st.sampled_from([",", "\t", ";", "|"]))
    names = draw(
        st.lists(
            st.one_of(st.sampled_from(["text", "label", "id", " text ", "Text"]), FIELD),
            max_size=4,
        )
    )
    lines = [sep.join(names)]
    if draw(st.integers(0, 5)) == 0:  # one long header line: what a sniffer must survive
        lines[0] = draw(st.sampled_from([' "a', ',"a', "a,", "'x'"])) * 12_000
    for _ in range(draw(st.integers(0, 6))):
        fields = []
        for _ in range(draw(st.integers(0, 5))):
            field = draw(FIELD)
            quoting = draw(st.sampled_from(["plain", "quoted", "half", "doubled"]))
            if quoting == "quoted":
                field = '"' + field.replace('"', '""') + '"'
            elif quoting == "half":
                field = '"' + field
            elif quoting == "doubled":
                field = '"' + field + '""x"'
            fields.append(field)
        lines.append(sep.join(fields))
        if draw(st.integers(0, 4)) == 0:
            lines.append("")  # an empty line
    if draw(st.integers(0, 5)) == 0:
        lines.append("x" * draw(st.sampled_from([140_000, 300_000])))  # over csv's 128 KiB
    ends = [draw(LINE_END) for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends))
    data = draw(BOMS) + text.encode(
        draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), "replace"
    )
    if draw(st.booleans()):  # random bytes spliced in anywhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return data


READ_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "label_column": st.sampled_from(["label", None, "Label", "id"]),
        "id_column": st.sampled_from(["id", None, "text"]),
        "delimiter": st.sampled_from([None, ",", "\t", ";", "|", '"', "\n", "ab", ""]),
        "encoding": st.sampled_from(
            ["utf-8", "utf-16", "latin-1", "ascii", "idna", "nope", "base64"]
        ),
        "extra_columns": st.sampled_from([(), ("id",), ("label", "label"), ("missing",)]),
        "require_classes": st.sampled_from([None, 1, 2, 3]),
    },
)


@bounded(300, deadline_ms=3000)
@given(data=messy_csv(), suffix=SUFFIX, args=READ_ARGS)
def test_any_bytes_read_as_a_csv_give_a_dataset_or_a_project_error(data, suffix, args):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        path.write_bytes(data)
        result = clean_outcome(lambda: read_csv(path, **args))
    if not isinstance(result, RnnlabError):
        check_dataset(result)


@bounded(150, deadline_ms=3000)
@given(
    data=st.one_of(st.binary(max_size=300), st.binary(max_size=30).map(lambda b: b * 700)),
    suffix=SUFFIX,
)
def test_random_bytes_read_as_a_csv_give_a_dataset_or_a_project_error(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        path.write_bytes(data)
        result = clean_outcome(lambda: read_csv(path, label_column=None))
    if not isinstance(result, RnnlabError):
        check_dataset(result)


ROW_TEXT = st.text(FIELD_CHARS, min_size=1, max_size=30)


@bounded(200)
@given(
    rows=st.lists(st.tuples(ROW_TEXT, ROW_TEXT), min_size=1, max_size=8),
    tsv=st.booleans(),
    ending=LINE_END,
    quote_all=st.booleans(),
    bom=st.booleans(),
    blank_after=st.sets(st.integers(0, 8)),
)
def test_a_well_formed_csv_reads_back_exactly(rows, tsv, ending, quote_all, bom, blank_after):
    rows = [(t.replace("\x00", ""), lab.replace("\x00", "")) for t, lab in rows]
    if not quote_all:  # unquoted fields cannot hold a line break
        rows = [(t.replace("\r", " ").replace("\n", " "), lab) for t, lab in rows]
    rows = [(t, lab.replace("\r", " ").replace("\n", " ")) for t, lab in rows]
    assume(all(t.strip() and lab.strip() for t, lab in rows))
    assume(not rows[0][0].startswith("\ufeff") or bom)
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        delimiter="\t" if tsv else ",",
        lineterminator=ending,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(["text", "label"])
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i in blank_after:
            buffer.write(ending)
    data = ("\ufeff" if bom else "") + buffer.getvalue()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("data.tsv" if tsv else "data.csv")
        path.write_bytes(data.encode("utf-8", "surrogatepass"))
        ds = read_csv(path)
    assert ds.texts == [t for t, _ in rows]
    assert ds.labels == [lab.strip() for _, lab in rows]
    assert ds.ids == [str(i) for i in range(1, len(rows) + 1)]


FILE_NAME = st.one_of(
    st.sampled_from(["a.txt", "b.txt", ".hidden.txt", "c.md", "d", "e.TXT", "ü ñ.txt"]),
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=8),
)
CONTENT = st.one_of(
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    st.just(b""),
    st.just(b" \n\t"),
)


@st.composite
def folder_tree(draw):
    """{label dir: {file name: bytes or None for a subdirectory}}."""
    labels = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(["pos", "neg", "unsup", ".git", "a b"]), FILE_NAME),
            st.dictionaries(FILE_NAME, st.one_of(CONTENT, st.none()), max_size=4),
            max_size=4,
        )
    )
    return {k: v for k, v in labels.items() if k not in (".", "..") and "/" not in k}


FOLDER_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.sampled_from([None, ["pos", "neg"], ["pos"], ["pos", "pos"], "pos", []]),
        "suffix": st.sampled_from([".txt", None, "", ".md"]),
        "encoding": st.sampled_from(["utf-8", "latin-1", "utf-16", "nope"]),
        "require_classes": st.sampled_from([None, 2]),
    },
)


def _write_tree(root, tree):
    for label, files in tree.items():
        folder = root / label
        folder.mkdir(exist_ok=True)
        for name, content in files.items():
            if name in (".", ".."):
                continue
            if content is None:
                (folder / name).mkdir(exist_ok=True)
            else:
                (folder / name).write_bytes(content)


@bounded(200, deadline_ms=3000)
@given(tree=folder_tree(), args=FOLDER_ARGS, stray=st.booleans())
def test_any_folder_tree_gives_a_dataset_or_a_project_error(tree, args, stray):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "root"
        root.mkdir()
        _write_tree(root, tree)
        if stray:
            (root / "README").write_bytes(b"not a label folder")
        result = clean_outcome(lambda: read_folder(root, **args))
    if not isinstance(result, RnnlabError):
        check_dataset(result)
        assert all("/" in i for i in result.ids)


@bounded(150)
@given(
    texts=st.dictionaries(
        st.sampled_from(["pos", "neg", "neutral"]),
        st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4),
        min_size=1,
    )
)
def test_a_well_formed_folder_tree_reads_back_exactly(texts):
    assume(all(t.strip() for ts in texts.values() for t in ts))
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        expected = []
        for label in sorted(texts):
            os.mkdir(root / label)
            for i, text in enumerate(texts[label]):
                (root / label / f"{i:03d}.txt").write_bytes(text.encode("utf-8"))
                expected.append((text, label, f"{label}/{i:03d}.txt"))
        ds = read_folder(root, encoding="utf-8")
    assert list(zip(ds.texts, ds.labels, ds.ids)) == expected


# Regressions: what the fuzzers found.


@pytest.mark.parametrize("encoding", ["nope", "base64", "rot13"])
def test_regression_an_unknown_or_non_text_encoding_is_a_project_error(tmp_path, encoding):
    (tmp_path / "a.csv").write_text("text,label\nhi,x\n")
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("hi")
    with pytest.raises(InvalidValueError, match="`encoding` must name a text encoding"):
        read_csv(tmp_path / "a.csv", encoding=encoding)
    with pytest.raises(InvalidValueError, match="`encoding` must name a text encoding"):
        read_folder(tmp_path, encoding=encoding)


def test_regression_a_codec_raising_plain_unicode_errors_is_a_data_error(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"text,label\nx.xn--\n")
    with pytest.raises(DataError, match="is not valid idna"):  # a broken punycode label
        read_csv(tmp_path / "a.csv", encoding="idna")


def test_regression_an_empty_labels_list_is_refused_not_an_empty_dataset(tmp_path):
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("good")
    with pytest.raises(DataError, match="`labels` names no folder"):
        read_folder(tmp_path, labels=[])


def test_regression_a_long_header_line_is_sniffed_in_bounded_time(tmp_path):
    path = tmp_path / "data.txt"  # no .csv/.tsv suffix: the delimiter is sniffed
    path.write_text(' "a' * 100_000 + "\n")  # took minutes: quadratic regexes in csv.Sniffer
    start = time.perf_counter()
    with pytest.raises(DataError, match="not a column"):
        read_csv(path)
    assert time.perf_counter() - start < 2.0


def test_regression_an_unreadable_file_is_a_data_file_error(tmp_path, monkeypatch):
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("good")
    (tmp_path / "a.csv").write_text("text,label\nhi,x\n")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # chmod does not stop root
    with pytest.raises(DataFileError, match="cannot be read: Permission denied"):
        read_folder(tmp_path)
    with pytest.raises(DataFileError, match="cannot be read: Permission denied"):
        read_csv(tmp_path / "a.csv")
