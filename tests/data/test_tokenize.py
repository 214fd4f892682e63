"""Tokenizer: Keras `text_to_word_sequence` semantics, pinned by hand and by a reference."""

import dataclasses
import random

import pytest

from rnnlab.data.tokenize import KERAS_FILTERS, Tokenizer, text_to_word_sequence
from rnnlab.errors import ConfigError


def keras_reference(text, filters=KERAS_FILTERS, lower=True, split=" "):
    """The Keras 2 algorithm, transcribed (keras-preprocessing text.py, Python 3 branch).

    Keras 3.15 no longer ships `keras.preprocessing.text`, so this is the oracle,
    plus lower="ascii" (Python 2 byte-string lowering: A-Z only).
    """
    if lower is True:
        text = text.lower()
    elif lower == "ascii":
        text = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [t for t in text.split(split) if t]


def test_keras_filters_constant():
    assert KERAS_FILTERS == '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
    assert "'" not in KERAS_FILTERS


# (text, lower, expected): what Keras 2 `text_to_word_sequence` returns, by hand.
TRICKY = [
    ("Hello, World!", True, ["hello", "world"]),
    ("It's  a\ttest\n", True, ["it's", "a", "test"]),
    ("don't-stop...now", True, ["don't", "stop", "now"]),
    ("<br /><br />Great film", True, ["br", "br", "great", "film"]),
    ("C++ & C# (2004)", True, ["c", "c", "2004"]),
    ("e-mail@site.com", True, ["e", "mail", "site", "com"]),
    ("a\rb c", True, ["a\rb", "c"]),  # \r is not a Keras filter and not the split char
    ("x\xa0y z", True, ["x\xa0y", "z"]),  # nor is a no-break space
    ("tab\x0bvtab", True, ["tab\x0bvtab"]),
    ("", True, []),
    ("   ...  !!! ", True, []),
    ("ÉCOLE Normale", True, ["école", "normale"]),
    ("ÉCOLE Normale", "ascii", ["École", "normale"]),
    ("ÉCOLE Normale", False, ["ÉCOLE", "Normale"]),
    ("İstanbul", True, ["i\u0307stanbul"]),  # Unicode lowering can lengthen a string
    ("STRASSE Straße", "ascii", ["strasse", "straße"]),
    ("naïve café—good", True, ["naïve", "café—good"]),  # em dash is no filter
    ("emoji 😀!yes", True, ["emoji", "😀", "yes"]),
    ("'quoted' \"double\"", True, ["'quoted'", "double"]),
]


@pytest.mark.parametrize("text, lower, expected", TRICKY)
def test_pinned_tricky_strings(text, lower, expected):
    assert Tokenizer(lower=lower)(text) == expected
    assert keras_reference(text, lower=lower) == expected
    assert text_to_word_sequence(text, lower=lower) == expected


def test_custom_filters_and_split():
    assert Tokenizer(filters="", lower=False)("Hi, there!") == ["Hi,", "there!"]
    assert Tokenizer(split="|", filters=",")("a,b|c||d") == ["a", "b", "c", "d"]
    assert Tokenizer(split="--", filters="x")("axb--c") == ["a", "b", "c"]
    # Keras lowers before filtering: a filtered "a" also removes "A"; an
    # uppercase filter never matches after lowering.
    assert Tokenizer(filters="a")("bAnAnA") == ["b", "n", "n"]
    assert Tokenizer(filters="A")("bAnAnA") == ["banana"]
    assert Tokenizer(filters="A", lower=False)("bAnAnA") == ["b", "n", "n"]


def test_matches_reference_on_random_strings():
    alphabet = list("aZz '.,!-_\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028éÉİKß<>/0\ud800\U0001f600") + [
        "  ",
        "A",
    ]
    rng = random.Random(0)
    settings = [
        (KERAS_FILTERS, " "),
        ("aA", " "),
        ("", " "),
        (KERAS_FILTERS, "z"),
        ("«»", " "),
        (KERAS_FILTERS + "\r\x0b", " "),
        ("xy", "--"),
    ]
    for lower in (True, False, "ascii"):
        for filters, split in settings:
            tok = Tokenizer(lower=lower, filters=filters, split=split)
            for _ in range(400):
                s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
                assert tok(s) == keras_reference(s, filters, lower, split), (
                    lower,
                    filters,
                    split,
                    s,
                )


def test_token_pattern_matches_count_vectorizer():
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer().build_analyzer()
    tok = Tokenizer(token_pattern=r"(?u)\b\w\w+\b")
    for text, _, _ in TRICKY:
        assert tok(text) == analyzer(text), text
    assert Tokenizer(token_pattern=r"(\w+)@", lower=False)("Bob@x ann@y") == ["Bob", "ann"]
    assert Tokenizer(token_pattern=r"\S+", lower="ascii")("ÉA b") == ["Éa", "b"]


def test_tokenize_many_and_call():
    tok = Tokenizer()
    assert tok.tokenize_many(["A b", "", "c."]) == [["a", "b"], [], ["c"]]
    assert tok.tokenize("A b") == tok("A b")
    with pytest.raises(TypeError, match=r"`texts` must hold str, got int at index 1"):
        tok.tokenize_many(["a", 3])
    with pytest.raises(TypeError, match=r"`text` must be a str, got bytes"):
        tok(b"abc")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"lower": "yes"}, ValueError, r"`lower` must be one of True, False, 'ascii', got 'yes'"),
        ({"lower": 1}, TypeError, r"`lower` must be True, False or 'ascii', got 1"),
        ({"split": ""}, ValueError, r"`split` must be a non-empty string, got ''"),
        ({"filters": None}, TypeError, r"`filters` must be a string of characters, got NoneType"),
        (
            {"token_pattern": r"\w+", "filters": ""},
            ValueError,
            r"`token_pattern` replaces `filters`",
        ),
        ({"token_pattern": "("}, ValueError, r"`token_pattern` must be a valid regular expression"),
        ({"token_pattern": r"(a)(b)"}, ValueError, r"at most one capturing group, got 2"),
    ],
)
def test_invalid_settings(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Tokenizer(**kwargs)


def test_frozen_and_round_trip():
    tok = Tokenizer(lower="ascii", filters="!?", split="_")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tok.lower = True
    again = Tokenizer.from_dict(tok.to_dict())
    assert again == tok and again("A!b_c") == tok("A!b_c") == ["a", "b", "c"]
    assert Tokenizer.from_dict(Tokenizer(token_pattern=r"\w+").to_dict()).token_pattern == r"\w+"
    with pytest.raises(
        ConfigError, match=r"unknown tokenizer setting `filter` \(did you mean `filters`\?\)"
    ):
        Tokenizer.from_dict({"filter": ""})
    with pytest.raises(TypeError, match="must be a dict"):
        Tokenizer.from_dict(["lower"])
