"""Fuzzing the tokenizer and the vocabulary: any Unicode text, any rule, exact round trips.

The properties, stated exactly:

- `Tokenizer` turns any str (lone surrogates, every whitespace, every script)
  into the tokens of the Keras 2 rule written out plainly below (lower, map each
  filter character to `split`, split on `split`, drop empty pieces); with
  ``lower="ascii"`` only A-Z are lowered. No token is empty.
- `Vocabulary.fit(texts)` then `ids_to_tokens(encode_one(text))` gives
  ``[<start>] + tokens(text)`` with every token that has no id replaced by
  ``<oov>`` (a word has no id when it was not in the fitted texts, or when its id
  reaches `num_words`); with ``oov_id=None`` those tokens are left out instead.
  `decode` is that list joined by single spaces.
- Every id `encode` gives lies in ``[0, vocab.size)``.
- `to_dict` -> JSON text -> `from_dict` gives an equal vocabulary that encodes alike.
"""

import json

from hypothesis import given
from hypothesis import strategies as st

from rnnlab.data.tokenize import KERAS_FILTERS, Tokenizer
from rnnlab.data.vocab import Vocabulary
from tests.reliability.fuzzing import bounded

# Every code point, lone surrogates included (st.characters leaves them out by default).
ANY_CHAR = st.one_of(st.characters(codec=None), st.characters(categories=["Cs"]))
# Texts that exercise the rule: ASCII words and punctuation, every whitespace,
# letters whose lowercase changes length ("İ") or is ASCII ("K", the Kelvin sign).
TRICKY = st.sampled_from(
    list("aAzZ09 '")
    + list(KERAS_FILTERS)
    + list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0")
    + ["\u2028", "\u3000", "İ", "K", "É", "ß", "\ud800", "\udfff", "\x00", "😀"]
)
TEXT = st.text(st.one_of(TRICKY, ANY_CHAR), max_size=60)


def keras_rule(text, lower=True, filters=KERAS_FILTERS, split=" "):
    """`keras.preprocessing.text.text_to_word_sequence` (Keras 2), plus lower='ascii'."""
    if lower is True:
        text = text.lower()
    elif lower == "ascii":
        text = text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [t for t in text.split(split) if t]


RULES = st.fixed_dictionaries(
    {
        "lower": st.sampled_from([True, False, "ascii"]),
        "filters": st.one_of(
            st.just(KERAS_FILTERS), st.text(st.one_of(TRICKY, ANY_CHAR), max_size=8)
        ),
        "split": st.one_of(
            st.just(" "), st.text(st.one_of(TRICKY, ANY_CHAR), min_size=1, max_size=3)
        ),
    }
)


@bounded(400)
@given(text=TEXT, rule=RULES)
def test_any_text_tokenizes_as_the_keras_rule_says(text, rule):
    tokenizer = Tokenizer(**rule)
    tokens = tokenizer(text)
    assert tokens == keras_rule(text, **rule)
    assert all(isinstance(t, str) and t for t in tokens)
    assert tokenizer.tokenize_many([text, text]) == [tokens, tokens]


@bounded(150)
@given(text=TEXT, pattern=st.sampled_from([r"\w+", r"(?u)\b\w\w+\b", r"[^ ]+", r"(\w)\w*"]))
def test_a_token_pattern_gives_the_regex_matches_of_the_lowered_text(text, pattern):
    import re

    assert Tokenizer(token_pattern=pattern)(text) == re.findall(pattern, text.lower())


def _vocab_cases():
    return st.fixed_dictionaries(
        {
            "texts": st.lists(TEXT, min_size=1, max_size=8),
            "index_from": st.integers(0, 5),
            "num_words": st.one_of(st.none(), st.integers(0, 40)),
            "drop_oov": st.booleans(),
            "no_start": st.booleans(),
        }
    )


def _build(case):
    index_from = case["index_from"]
    start = None if case["no_start"] or index_from < 1 else 1
    oov = None if case["drop_oov"] or index_from < 2 else 2
    num_words = case["num_words"]
    if num_words is not None:
        num_words = max(num_words, index_from + 1)
    return Vocabulary.fit(
        case["texts"], index_from=index_from, start_id=start, oov_id=oov, num_words=num_words
    )


@bounded(300)
@given(case=_vocab_cases(), probe=TEXT)
def test_encode_then_decode_gives_the_tokens_back_or_oov(case, probe):
    tokenizer = Tokenizer()
    if not any(tokenizer(t) for t in case["texts"]):
        return  # nothing to fit on: `fit` refuses it (tested below)
    vocab = _build(case)
    for text in [*case["texts"], probe]:
        ids = vocab.encode_one(text)
        assert all(0 <= i < vocab.size for i in ids), (ids, vocab.size)
        expected = [] if vocab.start_id is None else [Vocabulary.START]
        for token in tokenizer(text):
            if token in vocab:  # has an id below num_words
                expected.append(token)
            elif vocab.oov_id is not None:
                expected.append(Vocabulary.OOV)
        assert vocab.ids_to_tokens(ids) == expected
        assert vocab.decode(ids) == " ".join(expected)
    # Token lists bypass the tokenizer: the words below the cap come back exactly.
    kept = [w for w in vocab.words if w in vocab]
    if vocab.num_words is None:
        assert kept == list(vocab.words)
    skip = int(vocab.start_id is not None)
    assert vocab.ids_to_tokens(vocab.encode_one(kept))[skip:] == kept


@bounded(200)
@given(case=_vocab_cases(), probe=TEXT)
def test_a_vocabulary_survives_json(case, probe):
    if not any(Tokenizer()(t) for t in case["texts"]):
        return
    vocab = _build(case)
    back = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert back == vocab
    assert back.encode([probe, *case["texts"]]) == vocab.encode([probe, *case["texts"]])


@bounded(100)
@given(texts=st.lists(st.text(st.sampled_from(KERAS_FILTERS + " "), max_size=10), max_size=4))
def test_texts_without_a_token_are_refused_by_fit_with_a_data_error(texts):
    from rnnlab.errors import DataError

    try:
        Vocabulary.fit(texts)
    except DataError as exc:
        assert "no tokens" in str(exc) or "at least one text" in str(exc)
    else:
        raise AssertionError("fit accepted texts without a single token")
