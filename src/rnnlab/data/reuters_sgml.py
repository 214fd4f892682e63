"""Reader for the raw Reuters-21578 distribution (22 `reut2-*.sgm` SGML files).

Each `<REUTERS TOPICS=.. LEWISSPLIT=.. CGISPLIT=.. NEWID=..>` element gives one
document: its text is the TITLE and the BODY (a "BRIEF" story has only a title,
an "UNPROC" one only raw text), with SGML entities (`&lt;`, `&#3;`) decoded and
control characters (the `&#2;`/`&#3;` start/end marks) removed.

The splits are those of the distribution's README, section VIII:
- "modapte": train LEWISSPLIT="TRAIN", test "TEST", both TOPICS="YES"
  (9,603 / 3,299 documents; 7,775 / 3,019 with `require_topics=True`).
- "modlewis": as ModApte but TOPICS="YES" or "NO" (BYPASS left out).
- "modhayes": CGISPLIT="TRAINING-SET" / "PUBLISHED-TESTSET".
The README asks that test documents without topics be kept when comparing
with published results, so `require_topics` is off by default.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import DataError, DataFileError, InvalidTypeError, check_choice

SPLITS = ("modapte", "modlewis", "modhayes")

_ATTR = re.compile(r'(\w+)="([^"]*)"')
_D = re.compile(r"<D>(.*?)</D>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
# C0 controls and DEL, except tab and newline: wire-service framing, not text.
_CONTROLS = {c: None for c in [*range(9), *range(11, 32), 127]}


@dataclass
class TopicDataset:
    """Multi-label documents (one split of Reuters-21578).

    Attributes:
        texts: n texts (title, newline, body).
        topics: n lists of topic names (possibly empty), in SGML order.
        ids: n NEWID numbers.
        topic_names: all topics of the corpus (both splits), sorted.
    """

    texts: list[str]
    topics: list[list[str]]
    ids: list[int]
    topic_names: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class ReutersSplit:
    """The train and test `TopicDataset` of one Reuters-21578 split."""

    train: TopicDataset
    test: TopicDataset
    split: str


def _clean(sgml: str) -> str:
    return html.unescape(sgml).translate(_CONTROLS).strip()


def _between(text: str, open_tag: str, close_tag: str) -> str | None:
    """The text between the first `open_tag` and the next `close_tag`, or None."""
    i = text.find(open_tag)
    if i < 0:
        return None
    i += len(open_tag)
    j = text.find(close_tag, i)
    return text[i:j] if j >= 0 else None


def _decode(data: bytes) -> str:
    # The files are ASCII apart from a few stray bytes (one 0xFC in reut2-017);
    # latin-1 maps every byte, so nothing is lost and nothing fails.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_sgml(text: str, where: str = "SGML") -> list[dict]:
    """Parse the `<REUTERS>` documents of one SGML file's text.

    Returns:
        One dict per document: attrs (TOPICS, LEWISSPLIT, CGISPLIT, NEWID, ...),
        text, topics.

    >>> doc = parse_sgml('<REUTERS TOPICS="YES" NEWID="7"><TOPICS><D>earn</D></TOPICS><TEXT>'
    ...                  '<TITLE>A &lt;B&gt;</TITLE><BODY>Up 5 pct.&#3;</BODY></TEXT></REUTERS>')
    >>> doc[0]["text"], doc[0]["topics"], doc[0]["attrs"]["NEWID"]
    ('A <B>\\nUp 5 pct.', ['earn'], '7')
    """
    docs = []
    line, pos, start = 1, 0, text.find("<REUTERS")
    while start >= 0:
        head_end = text.find(">", start)
        stop = text.find("</REUTERS>", head_end)
        if head_end < 0 or stop < 0:
            break
        line += text.count("\n", pos, start)
        pos = start
        attrs = dict(_ATTR.findall(text, start, head_end))
        inner = text[head_end + 1 : stop]
        if "NEWID" not in attrs or not attrs["NEWID"].isdigit():
            raise DataError(
                f"{where}: the <REUTERS> element at line {line} has no numeric NEWID "
                f"attribute (got {attrs.get('NEWID')!r}); the file is damaged"
            )
        topics = [_clean(t) for t in _D.findall(_between(inner, "<TOPICS>", "</TOPICS>") or "")]
        parts = []
        text_tag = inner.find("<TEXT")
        if text_tag >= 0:
            open_end = inner.find(">", text_tag)
            content = _between(inner[open_end:], ">", "</TEXT>") or ""
            if 'TYPE="UNPROC"' in inner[text_tag:open_end]:
                parts.append(_TAG.sub("", content))
            else:
                parts += [
                    _between(content, "<TITLE>", "</TITLE>"),
                    _between(content, "<BODY>", "</BODY>"),
                ]
        body = "\n".join(p for p in (_clean(p) for p in parts if p) if p)
        docs.append({"attrs": attrs, "text": body, "topics": topics, "line": line})
        start = text.find("<REUTERS", stop)
    opened = len(re.findall(r"<REUTERS\b", text))
    if opened != len(docs):
        raise DataError(
            f"{where}: {opened} <REUTERS> elements open but {len(docs)} close; "
            "the file is truncated or damaged"
        )
    return docs


def _in_split(attrs: dict, split: str) -> str | None:
    """'train', 'test' or None (unused) for one document's attributes."""
    if split == "modhayes":
        return {"TRAINING-SET": "train", "PUBLISHED-TESTSET": "test"}.get(attrs.get("CGISPLIT", ""))
    allowed = ("YES",) if split == "modapte" else ("YES", "NO")
    if attrs.get("TOPICS") not in allowed:
        return None
    return {"TRAIN": "train", "TEST": "test"}.get(attrs.get("LEWISSPLIT", ""))


def read_reuters_sgml(
    directory: str | os.PathLike[str], split: str = "modapte", require_topics: bool = False
) -> ReutersSplit:
    """Read Reuters-21578 from its SGML files into a train and a test split.

    Args:
        directory: the folder holding `reut2-000.sgm` .. `reut2-021.sgm`.
        split: "modapte" (the standard), "modlewis" or "modhayes".
        require_topics: drop documents with no topic (for training a classifier;
            results are then not comparable with the literature on the test side).

    Returns:
        The split; documents in file order (NEWID order).
    """
    check_choice("split", split, SPLITS)
    if not isinstance(require_topics, bool):
        raise InvalidTypeError(f"`require_topics` must be True or False, got {require_topics!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataFileError(
            f"Reuters-21578 folder {str(directory)!r} does not exist or is not a folder; "
            "point it at the folder holding reut2-000.sgm .. reut2-021.sgm"
        )
    files = sorted(directory.glob("reut2-*.sgm"))
    if not files:
        raise DataFileError(
            f"Reuters-21578 folder {str(directory)!r} holds no reut2-*.sgm files; "
            "is it the unpacked reuters21578 distribution?"
        )
    out: dict[str, tuple[list, list, list]] = {"train": ([], [], []), "test": ([], [], [])}
    names: set[str] = set()
    seen: dict[int, str] = {}
    for path in files:
        where = f"Reuters file {str(path)!r}"
        docs = parse_sgml(_decode(path.read_bytes()), where)
        if not docs:
            raise DataError(f"{where} holds no <REUTERS> documents; the file is damaged")
        for doc in docs:
            newid = int(doc["attrs"]["NEWID"])
            if newid in seen:
                raise DataError(
                    f"{where}: NEWID {newid} at line {doc['line']} already appeared in "
                    f"{seen[newid]}; remove the duplicate file"
                )
            seen[newid] = where
            part = _in_split(doc["attrs"], split)
            if part is None or (require_topics and not doc["topics"]):
                continue
            texts, topics, ids = out[part]
            texts.append(doc["text"])
            topics.append(doc["topics"])
            ids.append(newid)
            names.update(doc["topics"])
    topic_names = sorted(names)
    train, test = (TopicDataset(*out[p], topic_names=topic_names) for p in ("train", "test"))
    return ReutersSplit(train=train, test=test, split=split)
