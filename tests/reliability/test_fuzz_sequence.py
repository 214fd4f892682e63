"""Fuzzing `pad_sequences` and `to_categorical` against Keras 3 on random ragged inputs.

For every input and argument combination drawn here:

- where Keras returns an array, ours returns the same shape, dtype and values
  (NaN where Keras has NaN), except for the inputs refused on purpose, listed in
  `refused_on_purpose` (documented in `rnnlab.data.sequence`);
- where Keras raises (any exception), ours raises an `RnnlabError`;
- ours never raises anything else.

Keras runs on its torch backend (KERAS_BACKEND=torch, set by tests/conftest.py).
Where keras does not import, the comparison properties are skipped (reported
as skipped); the error properties below them run regardless.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rnnlab.data.sequence import pad_sequences, to_categorical
from rnnlab.errors import RnnlabError
from tests.reliability.fuzzing import bounded

NUMBER = st.one_of(
    st.integers(-300, 300),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0, 1, -1, 2**31, -(2**31) - 1, 2**63, 255, 256]),
)
VECTOR = st.lists(st.integers(-5, 5), min_size=2, max_size=2)
ODD_ITEM = st.sampled_from(["a", "12", None, b"x", [1, 2, 3], [], (1,), 3 + 1j])


@st.composite
def sequences(draw):
    """Ragged lists: plain numbers, or vector items, with now and then an odd sequence or item."""
    kind = draw(st.sampled_from(["ints", "numbers", "vectors", "arrays", "odd"]))
    n = draw(st.integers(0, 6))
    if kind == "ints":
        seqs = [draw(st.lists(st.integers(-300, 300), max_size=8)) for _ in range(n)]
    elif kind == "numbers":
        seqs = [draw(st.lists(NUMBER, max_size=8)) for _ in range(n)]
    elif kind == "vectors":
        seqs = [draw(st.lists(VECTOR, max_size=5)) for _ in range(n)]
    elif kind == "arrays":
        seqs = [np.array(draw(st.lists(st.integers(0, 99), max_size=8)), dtype=np.int64)]
        seqs *= max(n, 1)
    else:
        seqs = [draw(st.lists(st.one_of(NUMBER, ODD_ITEM), max_size=5)) for _ in range(n)]
        if draw(st.booleans()):
            seqs.append(draw(st.sampled_from([5, None, "abc", 2.5, {"a": 1}])))
    return seqs


PAD_KWARGS = st.fixed_dictionaries(
    {},
    optional={
        "maxlen": st.one_of(
            st.none(),
            st.integers(-2, 10),
            st.sampled_from([np.int64(3), 2.0, True, "4"]),
        ),
        "dtype": st.sampled_from(
            ["int32", "int64", "float32", "float64", "uint8", "int8", "bool", "float16"]
            + [object, "U4", "complex64", "bogus", np.int16, None]
        ),
        "padding": st.sampled_from(["pre", "post", "middle", None, 1]),
        "truncating": st.sampled_from(["pre", "post", "both", None]),
        "value": st.one_of(
            NUMBER, st.sampled_from(["x", None, True, 0.5, float("nan"), [1, 2], 2**40])
        ),
    },
)


def refused_on_purpose(sequences, kwargs):
    """Inputs Keras mangles or accepts by accident and rnnlab refuses (see the module doc)."""
    maxlen = kwargs.get("maxlen")
    if maxlen is not None and (isinstance(maxlen, (bool, float, str)) or maxlen < 1):
        return True  # maxlen=0 / negative slice whole sequences; True/2.0 are not lengths
    if kwargs.get("padding", "pre") not in ("pre", "post"):
        return True  # Keras only notices a bad side when a sequence needs it
    if kwargs.get("truncating", "pre") not in ("pre", "post"):
        return True
    return False


def _outcome(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's cast warnings: both sides get the same
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the property sorts the exceptions
            return exc


def _same_array(ours, theirs):
    assert isinstance(ours, np.ndarray), ours
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours, theirs)
    if theirs.dtype.kind in "fc":
        np.testing.assert_array_equal(ours, theirs)  # NaN == NaN here
    else:
        assert ours.tolist() == theirs.tolist()


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@bounded(600)
@given(seqs=sequences(), kwargs=PAD_KWARGS)
def test_pad_sequences_agrees_with_keras_or_refuses_with_a_project_error(keras, seqs, kwargs):
    theirs = _outcome(keras.utils.pad_sequences, seqs, **kwargs)
    ours = _outcome(pad_sequences, seqs, **kwargs)
    if isinstance(ours, Exception) and not isinstance(ours, RnnlabError):
        raise ours
    if refused_on_purpose(seqs, kwargs):
        assert isinstance(ours, RnnlabError), ours
        return
    if isinstance(theirs, np.ndarray):
        assert not isinstance(ours, Exception), f"refused what Keras pads: {ours}"
        _same_array(ours, theirs)
    else:
        if len(seqs) == 0 and kwargs.get("maxlen") is None and isinstance(ours, np.ndarray):
            # Keras fails on np.max([]); ours pads nothing to (0, 0), as for all-empty input.
            assert ours.shape == (0, 0)
            return
        assert isinstance(ours, RnnlabError), f"Keras raised {theirs!r}, rnnlab returned {ours!r}"


LABELS = st.one_of(
    st.lists(st.integers(0, 60), max_size=10),
    st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=1), max_size=6),  # (n, 1)
    st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=2), max_size=4),  # (n, 2)
    st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0]), max_size=6),
    st.lists(st.booleans(), max_size=5),
)
ODD_LABELS = st.one_of(
    st.lists(st.integers(-5, 5), max_size=6),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    st.lists(st.sampled_from(["a", "1", None, 1.5, [1, 2], 2**70]), max_size=4),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3),  # ragged
    st.sampled_from([None, "abc", 7, np.array([2, 0], dtype=np.uint64), {1: 2}]),
)
NUM_CLASSES = st.one_of(
    st.none(), st.integers(-1, 70), st.sampled_from([np.int32(5), 3.0, True, "4", 2**40])
)


@bounded(400)
@given(y=LABELS, num_classes=NUM_CLASSES)
def test_to_categorical_agrees_with_keras_or_refuses_with_a_project_error(keras, y, num_classes):
    assume(not isinstance(num_classes, int) or num_classes < 1000)
    theirs = _outcome(keras.utils.to_categorical, y, num_classes)
    ours = _outcome(to_categorical, y, num_classes)
    if isinstance(ours, Exception) and not isinstance(ours, RnnlabError):
        raise ours
    if isinstance(theirs, np.ndarray) and not isinstance(ours, RnnlabError):
        _same_array(ours, theirs)
        return
    if isinstance(theirs, np.ndarray):
        # Refused on purpose: num_classes 0 / negative / a float or bool (Keras infers or
        # crashes later), labels that do not fit num_classes (Keras writes past the row).
        flat = np.asarray(y).reshape(-1)
        assert num_classes is not None and (
            not isinstance(num_classes, (int, np.integer))
            or isinstance(num_classes, bool)
            or num_classes < 1
            or (flat.size and flat.max() >= num_classes)
        ), f"refused what Keras encodes: {ours}"
        return
    if len(np.asarray(y).reshape(-1)) == 0 and num_classes is None:
        assert ours.shape[-1] == 0  # Keras fails on max([]); ours gives zero columns
        return
    assert isinstance(ours, RnnlabError), f"Keras raised {theirs!r}, rnnlab returned {ours!r}"


@bounded(300)
@given(y=st.one_of(LABELS, ODD_LABELS), num_classes=NUM_CLASSES)
def test_to_categorical_never_raises_a_bare_numpy_error(y, num_classes):
    result = _outcome(to_categorical, y, num_classes)
    if isinstance(result, Exception) and not isinstance(result, RnnlabError):
        raise result
    if isinstance(result, np.ndarray):
        assert result.dtype == np.float64 and set(np.unique(result)) <= {0.0, 1.0}
        assert (result.sum(axis=-1) == 1).all()


@bounded(300)
@given(seqs=sequences(), kwargs=PAD_KWARGS)
def test_pad_sequences_never_raises_a_bare_numpy_error(seqs, kwargs):
    result = _outcome(pad_sequences, seqs, **kwargs)
    if isinstance(result, Exception) and not isinstance(result, RnnlabError):
        raise result
    if isinstance(result, np.ndarray):
        maxlen = kwargs.get("maxlen")
        assert result.shape[0] == len(seqs)
        if maxlen is not None:
            assert result.shape[1] == maxlen


# Regressions: what the fuzzers found (each raised a bare NumPy error, or disagreed with Keras).


def test_regression_dtype_none_takes_the_dtype_of_value_as_keras_does():
    out = pad_sequences([[1.5, 2.5], []], dtype=None, value=0)
    assert out.dtype == np.int64 and out.tolist() == [[1, 2], [0, 0]]
    assert pad_sequences([[1]], dtype=None).dtype == np.float64  # value 0.0


@pytest.mark.parametrize(
    "seqs, kwargs, cls, message",
    [
        ([[0, [1, 2, 3]]], {}, "DataError", "sequence 0 cannot be padded"),
        ([[None]], {}, "DataError", "sequence 0 cannot be padded: NumPy cannot store it as int32"),
        ([[1], [2**31]], {}, "DataError", "sequence 1 cannot be padded"),
        ([[1]], {"value": 2**31}, "InvalidValueError", "`value` 2147483648 cannot fill"),
        ([[1]], {"value": None}, "InvalidValueError", "`value` None cannot fill"),
        ([[1]], {"dtype": "bogus"}, "InvalidTypeError", "`dtype` must be a NumPy dtype"),
        ([{"a": 1}], {}, "InvalidTypeError", "item 0 is a dict, which cannot be sliced"),
    ],
)
def test_regression_pad_sequences_refuses_with_project_errors(seqs, kwargs, cls, message):
    with pytest.raises(RnnlabError, match=message) as info:
        pad_sequences(seqs, **kwargs)
    assert type(info.value).__name__ == cls


@pytest.mark.parametrize(
    "y, num_classes, message",
    [
        ([0], 2**40, "1 labels x 1099511627776 classes is too large a one-hot array"),
        ([[1], [1, 2]], None, "`y` must be an array of integer class labels"),
        (np.array([2**64 - 1], dtype=np.uint64), None, "too large for a class index"),
    ],
)
def test_regression_to_categorical_refuses_with_project_errors(y, num_classes, message):
    with pytest.raises(RnnlabError, match=message):
        to_categorical(y, num_classes)
