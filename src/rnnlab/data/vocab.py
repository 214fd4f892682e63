"""A word <-> id vocabulary with the Keras IMDB/Reuters id layout, fitted on training text only.

Ids follow the Keras dataset convention: 0 is padding, then reserved ids
(start 1, oov 2, 3 unused by default), then the words by descending training
frequency: the word of rank r (1 = most frequent) gets id `r + index_from`.
Frequency ties keep first-occurrence order, exactly as the Keras 2
`Tokenizer` does (insertion-ordered counts, then a stable sort).

`num_words` caps ids the way `keras.datasets.imdb.load_data` does: a word
whose id is `>= num_words` becomes `oov_id` (or is dropped when `oov_id` is
None). Unknown words are treated the same way.

A vocabulary carries its `Tokenizer`, so `encode` takes raw text and a saved
vocabulary file is all that prediction needs.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from rnnlab.atomic import write_text_atomic
from rnnlab.data.tokenize import Tokenizer
from rnnlab.errors import (
    DataError,
    DataFileError,
    InvalidTypeError,
    InvalidValueError,
    check_int,
    check_type,
    suggest,
)

FORMAT = "rnnlab.vocabulary"
VERSION = 1
_KEYS = (
    "format",
    "version",
    "tokenizer",
    "index_from",
    "start_id",
    "oov_id",
    "num_words",
    "words",
    "counts",
)


class Vocabulary:
    """Words ranked by frequency, mapped to ids `rank + index_from`.

    Args:
        words: the words, most frequent first (rank 1 first); unique, non-empty.
        tokenizer: how `encode` splits raw text; default `Tokenizer()` (Keras rule).
        index_from: ids `1..index_from` are reserved; words start at `index_from + 1`.
        start_id: id put before every encoded sequence, or None for none.
        oov_id: id for unknown (and capped) words, or None to drop them.
        num_words: keep only ids `< num_words` (Keras `load_data` semantics), or None.
        counts: optional training counts, one per word (kept for inspection and JSON).

    Id 0 is always padding (what `pad_sequences` pads with); it is never a word.

    >>> v = Vocabulary.fit(["the cat sat", "the dog sat", "the end"])
    >>> v.words
    ('the', 'sat', 'cat', 'dog', 'end')
    >>> v.encode(["The cat ate!"])
    [[1, 4, 6, 2]]
    >>> v.decode([1, 4, 6, 2])
    '<start> the cat <oov>'
    """

    PAD = "<pad>"
    START = "<start>"
    OOV = "<oov>"
    UNUSED = "<unused>"
    pad_id = 0

    def __init__(
        self,
        words: Sequence[str],
        *,
        tokenizer: Tokenizer | None = None,
        index_from: int = 3,
        start_id: int | None = 1,
        oov_id: int | None = 2,
        num_words: int | None = None,
        counts: Sequence[int] | None = None,
    ) -> None:
        if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
            raise InvalidTypeError(f"`words` must be a sequence of str, got {type(words).__name__}")
        words = tuple(words)
        seen: dict[str, int] = {}
        for i, w in enumerate(words):
            if not isinstance(w, str) or not w:
                raise DataError(f"`words` must hold non-empty strings, got {w!r} at rank {i + 1}")
            if w in seen:
                raise DataError(
                    f"`words` must be unique, got {w!r} at ranks {seen[w] + 1} and {i + 1}; "
                    "each word needs exactly one id"
                )
            seen[w] = i
        tokenizer = Tokenizer() if tokenizer is None else tokenizer
        self.tokenizer = check_type("tokenizer", tokenizer, Tokenizer)
        self.index_from = check_int("index_from", index_from, minimum=0)
        self.start_id = self._check_reserved("start_id", start_id)
        self.oov_id = self._check_reserved("oov_id", oov_id)
        if start_id is not None and start_id == oov_id:
            raise InvalidValueError(
                f"`start_id` and `oov_id` must differ, both are {start_id}; pass None to drop one"
            )
        self.num_words = check_int(
            "num_words", num_words, minimum=self.index_from + 1, allow_none=True
        )
        if counts is not None:
            counts = tuple(counts)
            if len(counts) != len(words):
                raise DataError(
                    f"`counts` must have one entry per word ({len(words)}), got {len(counts)}"
                )
            for i, c in enumerate(counts):
                check_int(f"counts[{i}]", c, minimum=0)
            counts = tuple(int(c) for c in counts)
        self.words: tuple[str, ...] = words
        self.counts: tuple[int, ...] | None = counts
        stop = len(words)
        if num_words is not None:
            stop = max(0, min(stop, num_words - 1 - self.index_from))
        # Only kept words are in the lookup table; everything else falls to oov_id.
        self._ids = {w: r + 1 + self.index_from for r, w in enumerate(words[:stop])}

    def _check_reserved(self, name: str, value: int | None) -> int | None:
        if value is None:
            return None
        check_int(name, value, minimum=1)
        if value > self.index_from:
            raise InvalidValueError(
                f"`{name}` must be a reserved id in [1, index_from={self.index_from}], "
                f"got {value}; "
                f"raise `index_from` or pass {name}=None"
            )
        return int(value)

    # ------------------------------------------------------------------ building

    @classmethod
    def fit(
        cls,
        texts: Iterable[str | Sequence[str]],
        *,
        tokenizer: Tokenizer | None = None,
        max_tokens: int | None = None,
        min_freq: int = 1,
        index_from: int = 3,
        start_id: int | None = 1,
        oov_id: int | None = 2,
        num_words: int | None = None,
    ) -> Vocabulary:
        """Count the tokens of the training texts and rank them.

        Fit on the training split only: words seen only in validation or test
        data must stay unknown, or the evaluation leaks.

        Args:
            texts: raw texts (tokenized with `tokenizer`) or token lists.
            tokenizer: the rule for raw texts; stored in the vocabulary.
            max_tokens: keep only the `max_tokens` most frequent words.
            min_freq: keep only words seen at least this often.
            index_from, start_id, oov_id, num_words: as in `Vocabulary`.

        Returns:
            The vocabulary, words by descending count, ties in first-seen order.

        >>> Vocabulary.fit([["b", "a"], ["a", "c", "b"]], min_freq=2).words
        ('b', 'a')
        """
        tokenizer = Tokenizer() if tokenizer is None else tokenizer
        check_type("tokenizer", tokenizer, Tokenizer)
        check_int("max_tokens", max_tokens, minimum=1, allow_none=True)
        check_int("min_freq", min_freq, minimum=1)
        if isinstance(texts, (str, bytes)):
            raise InvalidTypeError(
                "`texts` must be a list of texts, got a single str; wrap it in a list"
            )
        counter: Counter[str] = Counter()
        n = 0
        for n, item in enumerate(texts, 1):
            counter.update(_tokens(tokenizer, item, n - 1, "texts"))
        if n == 0:
            raise DataError("`texts` must hold at least one text to fit a vocabulary, got none")
        counter.pop("", None)
        # sorted() is stable and a Counter keeps first-seen order: ties stay in that order.
        ranked = sorted(counter.items(), key=lambda kv: -kv[1])
        if min_freq > 1:
            ranked = [kv for kv in ranked if kv[1] >= min_freq]
        if max_tokens is not None:
            ranked = ranked[:max_tokens]
        if not ranked:
            raise DataError(
                f"no token of the {n} texts reaches `min_freq`={min_freq} "
                f"(most frequent count {max(counter.values(), default=0)}); lower `min_freq`"
                if counter
                else f"the {n} texts hold no tokens; check the texts and the tokenizer"
            )
        return cls(
            [w for w, _ in ranked],
            tokenizer=tokenizer,
            index_from=index_from,
            start_id=start_id,
            oov_id=oov_id,
            num_words=num_words,
            counts=[c for _, c in ranked],
        )

    @classmethod
    def from_word_index(
        cls,
        word_index: Mapping[str, int] | str | os.PathLike[str],
        *,
        tokenizer: Tokenizer | None = None,
        index_from: int = 3,
        start_id: int | None = 1,
        oov_id: int | None = 2,
        num_words: int | None = None,
    ) -> Vocabulary:
        """Build a vocabulary from a Keras word index (word -> rank, ranks 1..N).

        Args:
            word_index: the mapping, or the path of its JSON file
                (e.g. `imdb_word_index.json`).
            tokenizer, index_from, start_id, oov_id, num_words: as in `Vocabulary`.
                Keras `load_data` defaults are index_from=3, start_id=1, oov_id=2;
                the raw ranks stored in `imdb.npz` are index_from=0, no start, unknown
                words dropped.

        >>> Vocabulary.from_word_index({"the": 1, "a": 2}).encode_one("A the")
        [1, 5, 4]
        """
        where = "`word_index`"
        if isinstance(word_index, (str, os.PathLike)):
            where = f"word index file {os.fspath(word_index)!r}"
            word_index = _read_json(word_index, "word index")
        if not isinstance(word_index, Mapping):
            raise DataError(f"{where} must map words to ranks, got {type(word_index).__name__}")
        by_rank: dict[int, str] = {}
        for word, rank in word_index.items():
            if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
                raise DataError(f"{where}: ranks must be integers >= 1, got {rank!r} for {word!r}")
            if rank in by_rank:
                raise DataError(
                    f"{where}: duplicate id {rank} for {by_rank[rank]!r} and {word!r}; "
                    "each rank must belong to one word"
                )
            by_rank[rank] = word
        for r in range(1, len(by_rank) + 1):
            if r not in by_rank:
                raise DataError(
                    f"{where}: ranks must run 1..{len(by_rank)} without gaps, rank {r} is missing"
                )
        return cls(
            [by_rank[r] for r in range(1, len(by_rank) + 1)],
            tokenizer=tokenizer,
            index_from=index_from,
            start_id=start_id,
            oov_id=oov_id,
            num_words=num_words,
        )

    # ------------------------------------------------------------------ using

    @property
    def word_index(self) -> dict[str, int]:
        """Keras-style word -> rank (1 = most frequent), all words, ignoring `num_words`."""
        return {w: r for r, w in enumerate(self.words, 1)}

    @property
    def size(self) -> int:
        """Number of ids that can occur (max id + 1): the `Embedding` input size."""
        full = self.index_from + 1 + len(self.words)
        return full if self.num_words is None else min(full, self.num_words)

    def __len__(self) -> int:
        """Number of words (reserved ids not counted)."""
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def token_id(self, word: str) -> int | None:
        """The id `encode` gives `word`: its id, else `oov_id` (None when dropped)."""
        return self._ids.get(word, self.oov_id)

    def encode_one(self, text: str | Sequence[str]) -> list[int]:
        """Encode one text (or token list) to ids; see `encode`."""
        return self.encode([text])[0]

    def encode(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        """Encode texts (raw, or already tokenized) to id lists.

        Args:
            texts: n raw texts, or n token lists.

        Returns:
            n lists of int ids: `[start_id]` (if set), then one id per token,
            unknown and capped tokens as `oov_id` or left out when it is None.
        """
        if isinstance(texts, (str, bytes)):
            raise InvalidTypeError(
                "`texts` must be a list of texts, got a single str; use encode_one(text)"
            )
        get, tok, start, oov = self._ids.get, self.tokenizer, self.start_id, self.oov_id
        out: list[list[int]] = []
        for i, item in enumerate(texts):
            tokens = _tokens(tok, item, i, "texts")
            # Word ids are >= 1, so filter(None) drops exactly the misses.
            ids = filter(None, map(get, tokens)) if oov is None else map(get, tokens, repeat(oov))
            if start is None:
                out.append(list(ids))
            else:
                row = [start]
                row.extend(ids)
                out.append(row)
        return out

    def ids_to_tokens(self, ids: Iterable[int], skip_padding: bool = True) -> list[str]:
        """Map ids back to words; reserved ids become `<pad>`, `<start>`, `<oov>`, `<unused>`."""
        words, base, out = self.words, self.index_from + 1, []
        for pos, i in enumerate(ids):
            try:
                i = int(i)
            except (TypeError, ValueError):
                raise InvalidTypeError(
                    f"`ids` must hold integers, got {i!r} at position {pos}"
                ) from None
            if i >= base and i - base < len(words):
                out.append(words[i - base])
            elif i == 0:
                if not skip_padding:
                    out.append(self.PAD)
            elif i == self.start_id:
                out.append(self.START)
            elif i == self.oov_id:
                out.append(self.OOV)
            elif 0 < i < base:
                out.append(self.UNUSED)
            else:
                raise DataError(
                    f"`ids` must be in [0, {base + len(words) - 1}] for this vocabulary, "
                    f"got {i} at position {pos}; was it encoded with another vocabulary?"
                )
        return out

    def decode(self, ids: Iterable[int], skip_padding: bool = True) -> str:
        """The words of `ids` joined by spaces (see `ids_to_tokens`)."""
        return " ".join(self.ids_to_tokens(ids, skip_padding=skip_padding))

    # ------------------------------------------------------------------ saving

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict holding everything; `Vocabulary.from_dict` inverts it."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "tokenizer": self.tokenizer.to_dict(),
            "index_from": self.index_from,
            "start_id": self.start_id,
            "oov_id": self.oov_id,
            "num_words": self.num_words,
            "words": list(self.words),
            "counts": None if self.counts is None else list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Rebuild a vocabulary from `to_dict` output, validating every field."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise DataError(
                f"not an rnnlab vocabulary: `format` must be {FORMAT!r}, got {got!r}; "
                "a Keras word index loads with Vocabulary.from_word_index"
            )
        if data.get("version") != VERSION:
            raise DataError(
                f"vocabulary `version` must be {VERSION} for this rnnlab, got "
                f"{data.get('version')!r}; another rnnlab version wrote it: use that version, "
                "or fit the vocabulary again"
            )
        unknown = [k for k in data if k not in _KEYS]
        if unknown:
            raise DataError(f"unknown vocabulary field `{unknown[0]}`{suggest(unknown[0], _KEYS)}")
        missing = [k for k in _KEYS if k not in data]
        if missing:
            raise DataError(f"vocabulary fields missing: {', '.join(missing)}")
        if not isinstance(data["words"], list):
            got = type(data["words"]).__name__
            raise DataError(f"vocabulary `words` must be a list, got {got}")
        try:
            tokenizer = Tokenizer.from_dict(data["tokenizer"])
            return cls(
                data["words"],
                tokenizer=tokenizer,
                index_from=data["index_from"],
                start_id=data["start_id"],
                oov_id=data["oov_id"],
                num_words=data["num_words"],
                counts=data["counts"],
            )
        except DataError:
            raise
        except (TypeError, ValueError) as exc:
            raise DataError(f"invalid vocabulary: {exc}") from None

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON, atomically (a temp file, then `os.replace`).

        Returns:
            The path written.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise DataFileError(
                f"cannot write vocabulary to {str(path)!r}: directory {str(path.parent)!r} "
                "does not exist; create it first"
            )
        return write_text_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a vocabulary written by `to_json`; a damaged file raises DataFileError."""
        data = _read_json(path, "vocabulary")
        try:
            return cls.from_dict(data)
        except DataError as exc:
            raise DataFileError(f"vocabulary file {os.fspath(path)!r}: {exc}") from None

    # ------------------------------------------------------------------ misc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Vocabulary({len(self.words)} words, index_from={self.index_from}, "
            f"start_id={self.start_id}, oov_id={self.oov_id}, num_words={self.num_words})"
        )


def _tokens(tokenizer: Tokenizer, item: Any, i: int, name: str) -> Iterable[str]:
    """Tokens of one text or token list (the item at index `i` of argument `name`)."""
    if isinstance(item, str):
        return tokenizer._iter_tokens(item)
    if isinstance(item, (list, tuple)):
        return item
    raise InvalidTypeError(
        f"`{name}` must hold str texts or token lists, got {type(item).__name__} "
        f"at index {i}: {item!r:.60}"
    )


def _read_json(path: str | os.PathLike[str], what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(
            f"{what} file {str(path)!r} does not exist"
            + ("" if not path.exists() else " as a file (it is a directory)")
            + "; check the path"
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{what} file {str(path)!r} is not UTF-8 text (byte {exc.start}); is it the right file?"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"{what} file {str(path)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); the file is damaged or not a {what} file"
        ) from None
