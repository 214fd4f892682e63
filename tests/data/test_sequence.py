"""pad_sequences / to_categorical: pinned Keras semantics, edge cases, parity with Keras."""

import numpy as np
import pytest

from rnnlab import pad_sequences, to_categorical
from rnnlab.errors import DataError


def test_pad_defaults_pre_pad_pre_truncate_int32():
    out = pad_sequences([[1, 2, 3, 4], [5], []], maxlen=3)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[2, 3, 4], [0, 0, 5], [0, 0, 0]])


def test_pad_post_and_truncate_post_and_value():
    out = pad_sequences([[1, 2, 3, 4], [5]], maxlen=3, padding="post", truncating="post", value=-1)
    np.testing.assert_array_equal(out, [[1, 2, 3], [5, -1, -1]])


def test_pad_maxlen_none_uses_longest_and_float_dtype():
    out = pad_sequences([[1.5], [2.5, 3.5]], dtype="float32")
    assert out.shape == (2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.0, 1.5], [2.5, 3.5]])


def test_pad_vector_items_keep_their_shape():
    out = pad_sequences([[[1, 2]], [[3, 4], [5, 6]]])
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 2]])


def test_pad_empty_input_and_all_empty_sequences():
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], []]).shape == (2, 0)


def test_pad_string_value_needs_object_dtype():
    with pytest.raises(TypeError, match="dtype=object"):
        pad_sequences([["a"]], value="x")
    out = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["<pad>", "a"], ["b", "c"]]


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"maxlen": 0}, ValueError, "`maxlen` must be a positive integer, got 0"),
        ({"maxlen": 2.5}, TypeError, "`maxlen` must be"),
        ({"padding": "left"}, ValueError, "`padding` must be one of 'pre', 'post', got 'left'"),
        ({"truncating": "middle"}, ValueError, "`truncating` must be one of"),
    ],
)
def test_pad_argument_errors_name_the_argument(kwargs, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        pad_sequences([[1, 2]], **kwargs)


def test_pad_rejects_non_sequences_clearly():
    with pytest.raises(TypeError, match="item 1 is int"):
        pad_sequences([[1], 5])
    with pytest.raises(TypeError, match="list of sequences"):
        pad_sequences("abc")
    with pytest.raises(DataError, match="sequence 1 has items of shape"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


def test_to_categorical_infers_max_plus_one_and_drops_trailing_axis():
    out = to_categorical(np.array([[0], [3]]))
    assert out.shape == (2, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(1), [0, 3])


def test_to_categorical_explicit_num_classes_keeps_width():
    assert to_categorical([0, 1], num_classes=46).shape == (2, 46)


@pytest.mark.parametrize(
    "y, kwargs, error, text",
    [
        ([0, 5], {"num_classes": 3}, DataError, "does not fit `num_classes`=3"),
        ([-1, 0], {}, DataError, "labels >= 0"),
        ([0.5], {}, DataError, "non-integer"),
        (["a"], {}, TypeError, "integer class labels"),
        ([0], {"num_classes": 0}, ValueError, "`num_classes` must be a positive integer"),
    ],
)
def test_to_categorical_errors(y, kwargs, error, text):
    with pytest.raises(error, match=text):
        to_categorical(y, **kwargs)


def _keras():
    import keras  # KERAS_BACKEND=torch is set by conftest

    return keras


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 4, 9])
def test_pad_matches_keras(padding, truncating, maxlen):
    rng = np.random.RandomState(0)
    seqs = [list(rng.randint(1, 100, size=n)) for n in (0, 1, 3, 5, 8)]
    ours = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=7)
    theirs = _keras().utils.pad_sequences(
        seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=7
    )
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_matches_keras():
    y = np.array([3, 0, 2, 2, 45])
    np.testing.assert_array_equal(to_categorical(y), _keras().utils.to_categorical(y))
    np.testing.assert_array_equal(
        to_categorical(y, 50), _keras().utils.to_categorical(y, num_classes=50)
    )
