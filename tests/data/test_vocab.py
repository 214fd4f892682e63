"""Vocabulary: Keras ranking and id layout, num_words cap, JSON round trip and corrupt files."""

import json
import os
import random
from collections import OrderedDict
from pathlib import Path

import pytest

from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError, DataFileError

DATA = Path(os.environ.get("RNNLAB_DATA", "RNNLAB_DATA is not set"))


def keras_word_index(texts):
    """keras-preprocessing `Tokenizer.fit_on_texts` ranking, transcribed."""
    word_counts = OrderedDict()
    for text in texts:
        for w in Tokenizer()(text):
            word_counts[w] = word_counts.get(w, 0) + 1
    wcounts = list(word_counts.items())
    wcounts.sort(key=lambda x: x[1], reverse=True)
    return {w: i for i, (w, _) in enumerate(wcounts, 1)}


def test_ranking_matches_keras_tokenizer_with_ties():
    rng = random.Random(1)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    vocab = Vocabulary.fit(texts)
    assert vocab.word_index == keras_word_index(texts)
    counts = vocab.counts
    assert list(counts) == sorted(counts, reverse=True) and len(set(counts)) < len(counts)  # ties


def test_ties_keep_first_occurrence_order():
    vocab = Vocabulary.fit(["c b a", "a b c d", "d"])  # every word twice
    assert vocab.words == ("c", "b", "a", "d")
    assert vocab.counts == (2, 2, 2, 2)


def test_min_freq_and_max_tokens():
    texts = ["a a a b b c", "d a b"]
    assert Vocabulary.fit(texts).words == ("a", "b", "c", "d")
    assert Vocabulary.fit(texts, min_freq=2).words == ("a", "b")
    assert Vocabulary.fit(texts, max_tokens=3).words == ("a", "b", "c")
    assert Vocabulary.fit(texts, max_tokens=1, min_freq=3).counts == (4,)
    with pytest.raises(
        DataError, match=r"no token of the 2 texts reaches `min_freq`=9 \(most frequent count 4\)"
    ):
        Vocabulary.fit(texts, min_freq=9)
    with pytest.raises(DataError, match="hold no tokens"):
        Vocabulary.fit(["...", "!"])
    with pytest.raises(DataError, match="at least one text"):
        Vocabulary.fit([])
    with pytest.raises(TypeError, match="got a single str"):
        Vocabulary.fit("a b c")
    with pytest.raises(ValueError, match="`min_freq` must be a positive integer, got 0"):
        Vocabulary.fit(texts, min_freq=0)


def test_fit_on_token_lists_uses_them_verbatim():
    vocab = Vocabulary.fit([["B", "a"], ["a", ""]])
    assert vocab.words == ("a", "B")  # no lowering, empty token ignored


def test_keras_id_layout_and_encode():
    vocab = Vocabulary.fit(["the cat sat", "the dog sat", "the end"])
    assert vocab.words == ("the", "sat", "cat", "dog", "end")
    assert vocab.size == 9 and len(vocab) == 5
    assert vocab.encode(["The cat ate!", ""]) == [[1, 4, 6, 2], [1]]
    assert vocab.encode_one(["sat", "zzz"]) == [1, 5, 2]
    assert vocab.token_id("dog") == 7 and vocab.token_id("zzz") == 2
    assert "dog" in vocab and "zzz" not in vocab


def test_no_start_and_drop_unknown():
    vocab = Vocabulary.fit(["a b c"], start_id=None, oov_id=None, index_from=0)
    assert vocab.encode(["c x a", "x"]) == [[3, 1], []]
    vocab = Vocabulary.fit(["a b c"], start_id=None, oov_id=1, index_from=1)
    assert vocab.encode(["c x"]) == [[4, 1]]


def test_num_words_cap_follows_keras_load_data():
    words = [f"w{i}" for i in range(1, 11)]
    text = " ".join(words + ["unknown"])
    for num_words, oov in [(6, 2), (8, None), (100, 2)]:
        vocab = Vocabulary(words, num_words=num_words, oov_id=oov)
        full = [1] + [r + 3 for r in range(1, 11)]
        # keras.datasets.imdb.load_data: ids outside [0, num_words) become oov (or go)
        expected = [w if w < num_words else oov for w in full] + ([oov] if oov else [])
        expected = [w for w in expected if w is not None]
        assert vocab.encode_one(text) == expected
        assert vocab.size == min(num_words, 14)


def test_from_word_index_dict_and_errors(tmp_path):
    vocab = Vocabulary.from_word_index({"b": 2, "a": 1})
    assert vocab.words == ("a", "b") and vocab.encode_one("b a c") == [1, 5, 4, 2]
    with pytest.raises(DataError, match=r"duplicate id 1 for 'a' and 'b'"):
        Vocabulary.from_word_index({"a": 1, "b": 1})
    with pytest.raises(DataError, match=r"ranks must run 1..2 without gaps, rank 2 is missing"):
        Vocabulary.from_word_index({"a": 1, "b": 3})
    with pytest.raises(DataError, match=r"ranks must be integers >= 1, got True for 'a'"):
        Vocabulary.from_word_index({"a": True})
    with pytest.raises(DataError, match=r"ranks must be integers >= 1, got 0"):
        Vocabulary.from_word_index({"a": 0})
    with pytest.raises(DataError, match="must map words to ranks, got list"):
        Vocabulary.from_word_index(["a"])
    with pytest.raises(DataFileError, match="does not exist"):
        Vocabulary.from_word_index(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,')
    with pytest.raises(DataFileError, match=r"is not valid JSON \(line 1, column 9"):
        Vocabulary.from_word_index(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match=r"word index file .*bad.json' must map words to ranks"):
        Vocabulary.from_word_index(bad)


def test_real_imdb_word_index():
    path = DATA / "imdb_word_index.json"
    vocab = Vocabulary.from_word_index(path, tokenizer=Tokenizer(lower="ascii"), num_words=10000)
    assert len(vocab) == 88584 and vocab.words[:4] == ("the", "and", "a", "of")
    assert vocab.encode_one("The and.") == [1, 4, 5]
    assert vocab.size == 10000
    assert vocab.decode(vocab.encode_one("this film was just brilliant")) == (
        "<start> this film was just brilliant"
    )


def test_constructor_validation():
    with pytest.raises(DataError, match=r"`words` must be unique, got 'a' at ranks 1 and 3"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(DataError, match=r"non-empty strings, got '' at rank 2"):
        Vocabulary(["a", ""])
    with pytest.raises(
        ValueError, match=r"`start_id` must be a reserved id in \[1, index_from=0\], got 1"
    ):
        Vocabulary(["a"], index_from=0)
    with pytest.raises(ValueError, match="`start_id` and `oov_id` must differ, both are 2"):
        Vocabulary(["a"], start_id=2, oov_id=2)
    with pytest.raises(ValueError, match="`num_words` must be an integer >= 4, got 3"):
        Vocabulary(["a"], num_words=3)
    with pytest.raises(TypeError, match="`tokenizer` must be Tokenizer, got str"):
        Vocabulary(["a"], tokenizer="keras")
    with pytest.raises(DataError, match=r"`counts` must have one entry per word \(1\), got 2"):
        Vocabulary(["a"], counts=[1, 2])
    with pytest.raises(TypeError, match="`texts` must be a list of texts, got a single str"):
        Vocabulary(["a"]).encode("a b")
    with pytest.raises(
        TypeError, match=r"`texts` must hold str texts or token lists, got int at index 1"
    ):
        Vocabulary(["a"]).encode(["a", 5])


def test_decode():
    vocab = Vocabulary(["x", "y"])
    assert vocab.decode([0, 0, 1, 5, 4, 2, 3]) == "<start> y x <oov> <unused>"
    assert vocab.ids_to_tokens([0, 4], skip_padding=False) == ["<pad>", "x"]
    with pytest.raises(
        DataError, match=r"`ids` must be in \[0, 5\] for this vocabulary, got 6 at position 1"
    ):
        vocab.decode([4, 6])
    with pytest.raises(TypeError, match="`ids` must hold integers, got 'a' at position 0"):
        vocab.decode(["a"])


def test_json_round_trip_is_atomic(tmp_path):
    vocab = Vocabulary.fit(
        ["b a a", "é c"], tokenizer=Tokenizer(lower="ascii", filters=".,"), num_words=6, oov_id=None
    )
    path = vocab.to_json(tmp_path / "vocab.json")
    again = Vocabulary.from_json(path)
    assert again == vocab and again.counts == (2, 1, 1, 1)
    assert again.encode(["A, b. É"]) == vocab.encode(["A, b. É"]) == [[1, 4, 5]]
    assert Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab
    assert os.listdir(tmp_path) == ["vocab.json"]  # no temp file left behind

    # A failed write leaves the old file intact and no temp file.
    before = path.read_bytes()

    class Boom:
        def to_dict(self):
            return {"x": object()}  # not JSON-serialisable

    with pytest.raises(TypeError):
        Vocabulary.to_json(Boom(), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["vocab.json"]
    with pytest.raises(DataFileError, match="directory .* does not exist"):
        vocab.to_json(tmp_path / "missing" / "v.json")


def _write(tmp_path, data):
    path = tmp_path / "v.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda d: {"the": 1, "and": 2},
            r"not an rnnlab vocabulary: `format` must be 'rnnlab.vocabulary', got None; a Keras word index loads with Vocabulary.from_word_index",
        ),
        (lambda d: [1, 2], r"not an rnnlab vocabulary"),
        (lambda d: {**d, "version": 2}, r"`version` must be 1 for this rnnlab, got 2"),
        (
            lambda d: {**d, "words": ["a", "b", "a"]},
            r"`words` must be unique, got 'a' at ranks 1 and 3",
        ),
        (
            lambda d: {**d, "word": []},
            r"unknown vocabulary field `word` \(did you mean `words`\?\)",
        ),
        (
            lambda d: {k: v for k, v in d.items() if k != "oov_id"},
            r"vocabulary fields missing: oov_id",
        ),
        (lambda d: {**d, "words": "ab"}, r"`words` must be a list, got str"),
        (lambda d: {**d, "start_id": 7}, r"invalid vocabulary: `start_id` must be a reserved id"),
        (
            lambda d: {**d, "tokenizer": {"lower": "maybe"}},
            r"invalid vocabulary: `lower` must be one of",
        ),
        (lambda d: {**d, "counts": [1]}, r"`counts` must have one entry per word"),
    ],
)
def test_corrupt_json_content(tmp_path, change, match):
    good = Vocabulary.fit(["a b"]).to_dict()
    path = _write(tmp_path, change(good))
    with pytest.raises(DataFileError, match=match) as info:
        Vocabulary.from_json(path)
    assert "v.json" in str(info.value)


def test_damaged_json_files(tmp_path):
    good = json.dumps(Vocabulary.fit(["a b"]).to_dict())
    with pytest.raises(
        DataFileError, match=r"is not valid JSON .*damaged or not a vocabulary file"
    ):
        Vocabulary.from_json(_write(tmp_path, good[: len(good) // 2]))
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataFileError, match=r"is not UTF-8 text \(byte 0\)"):
        Vocabulary.from_json(path)
    with pytest.raises(DataFileError, match="does not exist as a file"):
        Vocabulary.from_json(tmp_path)
    with pytest.raises(DataError, match="not an rnnlab vocabulary"):
        Vocabulary.from_dict({"format": "something"})
