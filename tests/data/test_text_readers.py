"""CSV / folder / Reuters-21578 SGML readers: happy paths and every bad-input message."""

import os
from pathlib import Path

import pytest

from rnnlab.data.reuters_sgml import parse_sgml
from rnnlab.data.text import TextDataset, check_trainable, read_csv, read_folder, read_reuters_sgml
from rnnlab.errors import DataError, DataFileError

DATA = Path(os.environ.get("RNNLAB_DATA", "RNNLAB_DATA is not set"))


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------- read_csv


def test_read_csv_quoting_newlines_and_columns(tmp_path):
    path = write(
        tmp_path / "d.csv",
        'review,sentiment,id\n"Great, really\ngreat",pos,a7\n"Said ""no""",neg,b2\n\nok,pos,c1\n',
    )
    ds = read_csv(path, "review", "sentiment", id_column="id")
    assert ds.texts == ["Great, really\ngreat", 'Said "no"', "ok"]
    assert ds.labels == ["pos", "neg", "pos"] and ds.ids == ["a7", "b2", "c1"]
    assert ds.label_names == ["neg", "pos"] and ds.label_ids == [1, 0, 1]
    assert ds.class_counts() == {"neg": 1, "pos": 2} and len(ds) == 3
    assert read_csv(path, "review", "sentiment").ids == ["1", "2", "3"]
    assert read_csv(path, "review", "sentiment", extra_columns=["id", "review"]).extra == {
        "id": ["a7", "b2", "c1"],
        "review": ds.texts,
    }
    with pytest.raises(DataError, match=r"`extra_columns` 'split' is not a column"):
        read_csv(path, "review", "sentiment", extra_columns=["split"])
    with pytest.raises(TypeError, match="`extra_columns` must be a list of column names"):
        read_csv(path, "review", "sentiment", extra_columns="id")


def test_read_csv_delimiters_bom_and_unlabelled(tmp_path):
    tsv = write(tmp_path / "d.tsv", "text\tlabel\nhello, world\tx\nbye\ty\n")
    assert read_csv(tsv).texts == ["hello, world", "bye"]
    semi = write(tmp_path / "d.txt", "\ufefftext;label\na,b;x\nc;y\n")
    assert read_csv(semi).texts == ["a,b", "c"]
    pipe = write(tmp_path / "p.dat", "text|label\na|x\n")
    assert read_csv(pipe, delimiter="|").labels == ["x"]
    unl = write(tmp_path / "u.csv", "text\nfirst\r\nsecond\r\n")
    ds = read_csv(unl, label_column=None)
    assert ds.texts == ["first", "second"] and ds.labels is None
    with pytest.raises(DataError, match="has no labels"):
        _ = ds.label_ids
    with pytest.raises(
        ValueError, match="`delimiter` must be a single character or None, got ';;'"
    ):
        read_csv(unl, delimiter=";;")


def test_read_csv_long_field_and_latin1(tmp_path):
    long = "word " * 60_000  # 300 kB: over the csv module's default field limit
    assert read_csv(write(tmp_path / "l.csv", f"text,label\n{long},a\n")).texts == [long]
    path = write(tmp_path / "lat.csv", "text,label\ncaf\xe9,a\n".encode("latin-1"))
    assert read_csv(path, encoding="latin-1").texts == ["café"]


def test_read_csv_missing_and_not_a_file(tmp_path):
    with pytest.raises(
        DataFileError, match=r"CSV file '.*nope.csv' does not exist; check the path"
    ):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match="is not a file"):
        read_csv(tmp_path)


@pytest.mark.parametrize(
    "content, kwargs, match",
    [
        ("", {}, r"is empty; expected a header row"),
        ("  \n\n", {}, r"is empty"),
        ("text,label\n", {}, r"has a header but no data rows"),
        (
            "review,sentiment\nx,y\n",
            {},
            (
                r"`text_column` 'text' is not a column of CSV file .*; "
                r"available columns: 'review', 'sentiment'"
            ),
        ),
        ("texts,label\nx,y\n", {}, r"is not a column .* \(did you mean `texts`\?\)"),
        ("text,lable\nx,y\n", {}, r"`label_column` 'label' is not a column .*did you mean `lable`"),
        ("text,label\nx,y\n", {"id_column": "id"}, r"`id_column` 'id' is not a column"),
        (
            "text,label\nok,a\n   ,b\n",
            {},
            r"row 2 \(line 3\) has an empty text in column 'text'; fill it or remove the row",
        ),
        ("text,label\nok,a\nfine, \n", {}, r"row 2 \(line 3\) has no label in column 'label'"),
        ("text,label\nok,a\nx,y,z\n", {}, r"row 2 \(line 3\) has 3 fields but the header has 2"),
        ("text,text\nx,y\n", {}, r"names column 'text' more than once"),
        (
            'text,label\n"a\nb\n',
            {},
            r"line 3 is not valid CSV \(unexpected end of data\); check the quoting",
        ),
        ('text,label\n"a"b,c\n', {}, r"line 2 is not valid CSV \(',' expected after '\"'\)"),
        (
            "text,label\na,x\nb,x\n",
            {"require_classes": 2},
            r"has a single class 'x' \(2 texts\); a classifier needs at least 2 classes",
        ),
    ],
)
def test_read_csv_bad_input(tmp_path, content, kwargs, match):
    with pytest.raises(DataError, match=match):
        read_csv(write(tmp_path / "bad.csv", content), **kwargs)


def test_read_csv_row_numbers_count_multiline_records(tmp_path):
    path = write(tmp_path / "m.csv", 'text,label\n"two\nlines",a\n\n"",b\n')
    with pytest.raises(DataError, match=r"row 2 \(line 5\) has an empty text"):
        read_csv(path)


def test_read_csv_undecodable_bytes_names_the_line(tmp_path):
    path = write(tmp_path / "b.csv", b"text,label\nfine,a\nbad \xff byte,b\n")
    with pytest.raises(
        DataError,
        match=r"line 3, column 5 \(byte 22\) is not valid utf-8 .*"
        r"encoding='latin-1'",
    ):
        read_csv(path)


def test_check_trainable():
    ds = TextDataset(["a", "b"], ["x", "y"], ["1", "2"])
    assert check_trainable(ds) is ds
    with pytest.raises(DataError, match=r"2 classes \['x', 'y'\] .* at least 3 classes"):
        check_trainable(ds, min_classes=3)
    with pytest.raises(DataError, match="has no labels; training needs a label column"):
        check_trainable(TextDataset(["a"], None, ["1"], source="u.csv"))
    with pytest.raises(TypeError, match="`dataset` must be TextDataset"):
        check_trainable(["a"])
    with pytest.raises(DataError, match=r"got 2 texts, 1 labels, 2 ids"):
        TextDataset(["a", "b"], ["x"], ["1", "2"])
    with pytest.raises(DataError, match=r"hold \['z'\], which are not in `label_names`"):
        TextDataset(["a"], ["z"], ["1"], label_names=["x"])


# ----------------------------------------------------------------------------- read_folder


@pytest.fixture
def imdb_tree(tmp_path):
    root = tmp_path / "train"
    for label, files in {
        "pos": ["1000_9.txt", "10000_8.txt", "2_7.txt"],
        "neg": ["0_3.txt", "10_2.txt"],
        "unsup": ["0_0.txt"],
    }.items():
        (root / label).mkdir(parents=True)
        for name in files:
            write(root / label / name, f"{label} review {name}")
    write(root / "pos" / ".hidden.txt", "skip me")
    write(root / "pos" / "notes.md", "skip me")
    (root / ".git").mkdir()
    return root


def test_read_folder_order_and_labels(imdb_tree):
    ds = read_folder(imdb_tree, labels=["pos", "neg"])
    # Lexicographic file names: "10000_8.txt" < "1000_9.txt" ('0' < '_').
    assert ds.ids == [
        "pos/10000_8.txt",
        "pos/1000_9.txt",
        "pos/2_7.txt",
        "neg/0_3.txt",
        "neg/10_2.txt",
    ]
    assert ds.texts[0] == "pos review 10000_8.txt"
    assert ds.label_names == ["neg", "pos"] and ds.label_ids == [1, 1, 1, 0, 0]  # Keras: pos = 1
    everything = read_folder(imdb_tree)
    assert everything.label_names == ["neg", "pos", "unsup"] and len(everything) == 6
    assert everything.ids[0] == "neg/0_3.txt"
    assert len(read_folder(imdb_tree, labels=["pos"], suffix=None)) == 4  # notes.md too


def test_read_folder_bad_input(imdb_tree, tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_folder(tmp_path / "nope")
    with pytest.raises(DataFileError, match="is not a folder"):
        read_folder(imdb_tree / "pos" / "2_7.txt")
    (tmp_path / "flat").mkdir()
    with pytest.raises(
        DataError, match=r"has no label subfolders; expected .*flat/<label>/<files>"
    ):
        read_folder(tmp_path / "flat")
    with pytest.raises(
        DataError,
        match=r"`labels` names 'poss', .*\(did you mean `pos`\?\); available: neg, pos, unsup",
    ):
        read_folder(imdb_tree, labels=["poss"])
    with pytest.raises(DataError, match="must not repeat a folder"):
        read_folder(imdb_tree, labels=["pos", "pos"])
    with pytest.raises(
        TypeError, match="`labels` must be a list of folder names, got the str 'pos'"
    ):
        read_folder(imdb_tree, labels="pos")
    (imdb_tree / "empty").mkdir()
    with pytest.raises(
        DataError, match=r"label folder '.*empty' holds no \*.txt files; .* `labels=`"
    ):
        read_folder(imdb_tree)
    write(imdb_tree / "neg" / "5_1.txt", " \n")
    with pytest.raises(DataError, match=r"file '.*5_1.txt' is empty"):
        read_folder(imdb_tree, labels=["neg"])
    write(imdb_tree / "neg" / "5_1.txt", b"ok\nstill ok\n\x80bad")
    with pytest.raises(
        DataError, match=r"5_1.txt': line 3, column 1 \(byte 12\) is not valid utf-8"
    ):
        read_folder(imdb_tree, labels=["neg"])
    with pytest.raises(DataError, match="a single class 'neg'"):
        read_folder(imdb_tree, labels=["neg"], encoding="latin-1", require_classes=2)


# ----------------------------------------------------------------------------- Reuters SGML


def sgml_doc(
    newid,
    topics="YES",
    lewis="TRAIN",
    cgi="TRAINING-SET",
    body="<TITLE>T</TITLE><BODY>B</BODY>",
    tags="<D>earn</D>",
    text_type="",
):
    return (
        f'<REUTERS TOPICS="{topics}" LEWISSPLIT="{lewis}" CGISPLIT="{cgi}" OLDID="9" NEWID="{newid}">\n'
        f"<DATE>26-FEB-1987</DATE>\n<TOPICS>{tags}</TOPICS>\n<PLACES></PLACES>\n"
        f"<TEXT{text_type}>&#2;\n{body}</TEXT>\n</REUTERS>\n"
    )


def test_parse_sgml_text_variants():
    docs = parse_sgml(
        sgml_doc(
            1,
            body="<TITLE>A &amp; B &lt;ABC&gt;</TITLE>\n<DATELINE>X</DATELINE><BODY>Up 5 pct.\n Reuter\n&#3;</BODY>",
        )
        + sgml_doc(2, text_type=' TYPE="BRIEF"', body="<TITLE>ONLY A TITLE</TITLE>", tags="")
        + sgml_doc(
            3, text_type=' TYPE="UNPROC"', body="raw\ttable &#127;1,2\n", tags="<D>a</D><D>b</D>"
        )
    )
    assert [d["text"] for d in docs] == [
        "A & B <ABC>\nUp 5 pct.\n Reuter",
        "ONLY A TITLE",
        "raw\ttable 1,2",
    ]
    assert [d["topics"] for d in docs] == [["earn"], [], ["a", "b"]]
    assert [d["line"] for d in docs] == [1, 11, 18]


def test_read_reuters_sgml_tiny(tmp_path):
    write(
        tmp_path / "reut2-000.sgm",
        "<!DOCTYPE lewis>\n" + sgml_doc(2) + sgml_doc(1, lewis="TEST", tags=""),
    )
    write(
        tmp_path / "reut2-001.sgm", (sgml_doc(3, body="<BODY>M\xfcller</BODY>")).encode("latin-1")
    )
    write(tmp_path / "reut2-002.sgm", sgml_doc(4, topics="NO") + sgml_doc(5, topics="BYPASS"))
    r = read_reuters_sgml(tmp_path)
    assert (r.train.ids, r.test.ids, r.split) == ([2, 3], [1], "modapte")
    assert (
        r.train.texts == ["T\nB", "Müller"]
        and r.test.topics == [[]]
        and r.train.topic_names == ["earn"]
    )
    assert read_reuters_sgml(tmp_path, require_topics=True).test.ids == []
    assert read_reuters_sgml(tmp_path, "modlewis").train.ids == [2, 3, 4]
    assert read_reuters_sgml(tmp_path, "modhayes").train.ids == [2, 1, 3, 4, 5]


def test_read_reuters_sgml_bad_input(tmp_path):
    with pytest.raises(DataFileError, match="does not exist or is not a folder"):
        read_reuters_sgml(tmp_path / "nope")
    with pytest.raises(DataFileError, match=r"holds no reut2-\*.sgm files"):
        read_reuters_sgml(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"`split` must be one of 'modapte', 'modlewis', 'modhayes', got 'modapt' \(did you mean `modapte`\?\)",
    ):
        read_reuters_sgml(tmp_path, split="modapt")
    with pytest.raises(TypeError, match="`require_topics` must be True or False"):
        read_reuters_sgml(tmp_path, require_topics="yes")
    path = write(tmp_path / "reut2-000.sgm", sgml_doc(1) + sgml_doc(2)[:-20])
    with pytest.raises(
        DataError,
        match=r"reut2-000.sgm': 2 <REUTERS> elements open but 1 close; the file is truncated",
    ):
        read_reuters_sgml(tmp_path)
    write(path, sgml_doc(1) + "\n" + sgml_doc("x"))
    with pytest.raises(
        DataError, match=r"element at line 9 has no numeric NEWID attribute \(got 'x'\)"
    ):
        read_reuters_sgml(tmp_path)
    write(path, sgml_doc(1))
    write(tmp_path / "reut2-001.sgm", sgml_doc(1))
    with pytest.raises(
        DataError, match=r"reut2-001.sgm': NEWID 1 at line 1 already appeared in .*reut2-000.sgm"
    ):
        read_reuters_sgml(tmp_path)
    write(tmp_path / "reut2-001.sgm", "<!DOCTYPE lewis>\n")
    with pytest.raises(DataError, match="holds no <REUTERS> documents"):
        read_reuters_sgml(tmp_path)


@pytest.fixture(scope="module")
def reuters_dir():
    path = DATA / "reuters21578"
    assert path.is_dir(), f"Reuters-21578 SGML files not found at {path} (set RNNLAB_DATA)"
    return path


def test_reuters_modapte_counts(reuters_dir):
    r = read_reuters_sgml(reuters_dir)
    assert (len(r.train), len(r.test)) == (9603, 3299)
    assert r.train.ids == sorted(r.train.ids) and r.train.ids[:3] == [1, 5, 6]
    assert r.train.texts[0].startswith(
        "BAHIA COCOA REVIEW\nShowers continued throughout the week in\n"
    )
    assert r.train.topics[0] == ["cocoa"] and len(r.train.topic_names) == 118
    assert all(r.train.texts) and all(r.test.texts)
    assert not any("&lt;" in t or "\x03" in t for t in r.train.texts + r.test.texts)
    r = read_reuters_sgml(reuters_dir, require_topics=True)
    assert (len(r.train), len(r.test)) == (7775, 3019)
    assert all(r.train.topics) and all(r.test.topics)


def test_reuters_other_split_counts(reuters_dir):
    # The figures of the distribution's README, section VIII.
    r = read_reuters_sgml(reuters_dir, "modlewis")
    assert (len(r.train), len(r.test)) == (13625, 6188)
    r = read_reuters_sgml(reuters_dir, "modhayes")
    assert (len(r.train), len(r.test)) == (20856, 722) and len(r.train.topic_names) == 120
