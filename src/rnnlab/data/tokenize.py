"""Text -> token lists, reproducing Keras's text preprocessing exactly by default.

`Tokenizer()` is `keras.preprocessing.text.text_to_word_sequence` with its
defaults: lowercase, map every character of `KERAS_FILTERS` to the split
character, split on that character, drop empty tokens. Note what that rule
does *not* do, on purpose, because Keras does not: the apostrophe is kept
("it's"), and only the split character separates tokens, so a carriage
return or a no-break space stays inside a token.

`lower="ascii"` lowercases A-Z only, as Python 2 `str.lower()` did on byte
strings; that is how the Keras IMDB arrays were made ("É" stays "É").

A `token_pattern` regex (like scikit-learn's `CountVectorizer`) replaces the
filters-and-split rule entirely.

The work is done by `str.lower`, one `str.translate` with a table built once,
`str.split` and `filter`: no Python loop runs per character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnlab.errors import (
    ConfigError,
    InvalidTypeError,
    InvalidValueError,
    check_choice,
    check_type,
    suggest,
)

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
"""The Keras default filter set: ASCII punctuation except the apostrophe, plus tab and newline."""

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # what str.split() splits ASCII text on


@dataclass(frozen=True)
class Tokenizer:
    """A text -> tokens rule; frozen, validated, serialisable with `to_dict`.

    Args:
        lower: True (Unicode `str.lower`, the Keras default), False, or
            "ascii" (A-Z only, as the Keras IMDB arrays were made).
        filters: characters mapped to `split` before splitting; default the
            Keras set `KERAS_FILTERS`. Ignored-with-an-error when
            `token_pattern` is set: pass one rule or the other.
        split: the separator (non-empty); tokens are the non-empty pieces.
        token_pattern: a regex whose matches are the tokens (after lowering),
            e.g. r"(?u)\\b\\w\\w+\\b" as in `CountVectorizer`; at most one
            capturing group, whose text is then the token.

    >>> Tokenizer()("Hello, World! It's 9:30.")
    ['hello', 'world', "it's", '9', '30']
    >>> Tokenizer(lower="ascii")("ÉCOLE Normale")
    ['École', 'normale']
    >>> Tokenizer(token_pattern=r"\\b\\w\\w+\\b")("a bb, ccc")
    ['bb', 'ccc']
    """

    lower: bool | str = True
    filters: str = KERAS_FILTERS
    split: str = " "
    token_pattern: str | None = None
    _table: dict[int, Any] = field(init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _btable: bytes | None = field(init=False, repr=False, compare=False)
    _bsplit_ok: re.Pattern[bytes] | bool | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.lower is True or self.lower is False or self.lower == "ascii"):
            check_choice("lower", self.lower, (True, False, "ascii"))
            raise InvalidTypeError(f"`lower` must be True, False or 'ascii', got {self.lower!r}")
        check_type("filters", self.filters, str, "a string of characters")
        check_type("split", self.split, str, "a non-empty string")
        if not self.split:
            raise InvalidValueError("`split` must be a non-empty string, got ''")
        regex = None
        if self.token_pattern is not None:
            check_type("token_pattern", self.token_pattern, str, "a regex string or None")
            if self.filters != KERAS_FILTERS or self.split != " ":
                raise InvalidValueError(
                    "`token_pattern` replaces `filters` and `split`, so they cannot be set "
                    f"together, got token_pattern={self.token_pattern!r} with "
                    f"filters={self.filters!r}, split={self.split!r}; pass one rule or the other"
                )
            try:
                regex = re.compile(self.token_pattern)
            except re.error as exc:
                raise InvalidValueError(
                    f"`token_pattern` must be a valid regular expression, got "
                    f"{self.token_pattern!r}: {exc}"
                ) from None
            if regex.groups > 1:
                raise InvalidValueError(
                    f"`token_pattern` must have at most one capturing group, got "
                    f"{regex.groups} in {self.token_pattern!r}; use (?:...) for the others"
                )
        # With a pattern the table only lowers; the pattern does the rest.
        table: dict[int, Any] = {} if regex else {ord(c): self.split for c in self.filters}
        if self.lower is not False:
            # Keras lowers first and filters second, so a filtered lowercase
            # letter also removes its uppercase form. With lower=True the text
            # is lowered before the table on non-ASCII text, and on ASCII text
            # str.lower is exactly this A-Z mapping, so one table serves both.
            for upper, low in _ASCII_LOWER.items():
                table[upper] = table.get(low, low)
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_btable", None)
        object.__setattr__(self, "_bsplit_ok", None)
        ascii_rule = len(self.split) == 1 and self.split.isascii() and self.filters.isascii()
        if regex is None and ascii_rule:
            # Fast path: translate bytes instead of str. The table touches only
            # ASCII bytes, and every byte of a multi-byte UTF-8 character is
            # >= 0x80, so translating the UTF-8 encoding is exact.
            btable = bytearray(range(256))
            for code, repl in table.items():
                btable[code] = repl if isinstance(repl, int) else ord(repl)
            object.__setattr__(self, "_btable", bytes(btable))
            if self.split == " ":
                # str.split() (no argument) also drops empty tokens and is
                # faster, but it splits on all whitespace; it is exact only
                # when no whitespace other than " " survives the table.
                other = [c for c in _ASCII_SPACE if btable[ord(c)] != ord(" ")]
                pattern = "[" + "".join(f"\\x{ord(c):02x}" for c in other) + "]"
                split_ok = re.compile(pattern.encode()) if other else False
                object.__setattr__(self, "_bsplit_ok", split_ok)

    def __call__(self, text: str) -> list[str]:
        """Tokenize one text. Same as `tokenize`."""
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        """Split one text into tokens.

        Args:
            text: the text.

        Returns:
            The tokens, in order; empty tokens never appear.
        """
        if not isinstance(text, str):
            raise InvalidTypeError(f"`text` must be a str, got {type(text).__name__} {text!r:.60}")
        return list(self._iter_tokens(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize each text; returns one token list per text."""
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidTypeError(
                    f"`texts` must hold str, got {type(text).__name__} at index {i}: {text!r:.60}"
                )
            out.append(list(self._iter_tokens(text)))
        return out

    def _iter_tokens(self, text: str) -> Iterable[str]:
        """The tokens of `text` as a C-level iterator (callers know `text` is a str)."""
        btable = self._btable
        if btable is not None:
            if text.isascii():
                data = text.encode("ascii").translate(btable)
                other = self._bsplit_ok
                if other is False or (other is not None and not other.search(data)):
                    return iter(data.decode("ascii").split())
                return filter(None, data.decode("ascii").split(self.split))
            if self.lower is True:
                text = text.lower()
            data = text.encode("utf-8", "surrogatepass").translate(btable)
            return filter(None, data.decode("utf-8", "surrogatepass").split(self.split))
        if self.lower is True:
            text = text.lower()
        if self._regex is not None:
            if self.lower == "ascii":
                text = text.translate(self._table)
            return iter(self._regex.findall(text))
        return filter(None, text.translate(self._table).split(self.split))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict; `Tokenizer.from_dict` inverts it."""
        return {
            "lower": self.lower,
            "filters": self.filters,
            "split": self.split,
            "token_pattern": self.token_pattern,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from `to_dict` output; unknown keys are refused.

        >>> Tokenizer.from_dict(Tokenizer(lower="ascii").to_dict()) == Tokenizer(lower="ascii")
        True
        """
        if not isinstance(data, Mapping):
            raise InvalidTypeError(f"tokenizer settings must be a dict, got {type(data).__name__}")
        known = ("lower", "filters", "split", "token_pattern")
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"unknown tokenizer setting `{key}`{suggest(key, known)}; "
                    f"allowed: {', '.join(known)}"
                )
        return cls(**dict(data))


def text_to_word_sequence(
    text: str, filters: str = KERAS_FILTERS, lower: bool | str = True, split: str = " "
) -> list[str]:
    """Drop-in replacement for `keras.preprocessing.text.text_to_word_sequence`.

    Removed from Keras 3; this is the Keras 2 function, plus `lower="ascii"`.

    >>> text_to_word_sequence("The cat\\tsat...on the MAT!")
    ['the', 'cat', 'sat', 'on', 'the', 'mat']
    """
    return Tokenizer(lower=lower, filters=filters, split=split).tokenize(text)
