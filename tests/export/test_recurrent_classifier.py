"""The ONNX graph of a RecurrentClassifier computes rnnlab's probabilities, for every model kind.

Parity is onnxruntime against `Pipeline.predict_proba_encoded` within 1e-5 and
the same labels, on batches that mix lengths 1 to the time axis (0 too where
the model masks), at the export's maxlen and at a shorter and a longer time axis.
"""

import itertools

import numpy as np
import pytest
import torch

from rnnlab.errors import InvalidValueError
from rnnlab.export.registry import exporter_for
from rnnlab.export.runtime import run

CELLS = ("simple_rnn", "simple_rnn_relu", "lstm", "gru", "gru_reset_before")
MASKS = ("off", "post", "pre")  # 'off': the tutorials (every step runs, padding included)
POOLINGS = ("last", "max", "mean")
INPUTS = ("embedding", "raw")
MAXLEN = 9
TIMES = (MAXLEN, 4, 13)  # the export's maxlen, and time axes it never saw


def case(cell, mask, bidirectional, pooling, input, stacked):
    return {
        "cell": cell,
        "mask": mask != "off",
        "padding": "pre" if mask == "pre" else "post",
        "bidirectional": bidirectional,
        "pooling": pooling,
        "input": input,
        "units": (6, 5) if stacked else (6,),
    }


def structure_matrix():
    """Every cell x mask x direction; poolings, inputs and depths rotate so that each pair
    of settings (cell and pooling, mask and pooling, cell and input, ...) occurs."""
    out = []
    for (c, cell), (m, mask), b in itertools.product(enumerate(CELLS), enumerate(MASKS), (0, 1)):
        out.append(
            case(
                cell,
                mask,
                bool(b),
                POOLINGS[(c + m + b) % 3],
                INPUTS[(c + b) % 2],
                stacked=(m + b) % 2 == 1,
            )
        )
    return out


def pooling_matrix():
    """Every pooling x mask x input for the LSTM (the tutorial cell)."""
    return [
        case("lstm", mask, i % 2 == 1, pooling, input, stacked=i % 3 == 0)
        for i, (pooling, mask, input) in enumerate(itertools.product(POOLINGS, MASKS, INPUTS))
    ]


MATRIX = structure_matrix() + pooling_matrix()


def case_id(c):
    mask = f"mask-{c['padding']}" if c["mask"] else "nomask"
    return "-".join(
        [
            c["cell"],
            "bi" if c["bidirectional"] else "uni",
            mask,
            c["pooling"],
            c["input"],
            "x".join(map(str, c["units"])),
        ]
    )


def batch_lengths(time, masked):
    lengths = [1, time, max(1, time // 2), max(1, time - 1), min(2, time), 1, time]
    return lengths + [0] if masked else lengths


def assert_parity(pipeline, session, make_inputs, times=TIMES):
    for seed, time in enumerate(times):
        values, lengths = make_inputs(
            pipeline, batch_lengths(time, pipeline.module.mask), time, seed
        )
        ours = pipeline.predict_proba_encoded(values, lengths)
        theirs = run(session, values, lengths)
        assert theirs.dtype == np.float32 and theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
        assert (theirs.argmax(1) == ours.argmax(1)).all()
        # The rows differ: a model that ignored its input would pass the comparison above.
        assert ours.std(axis=0).max() > 1e-3, ours


def test_the_matrix_covers_every_pair_of_settings():
    keys = [
        ("cell",),
        ("mask", "padding"),
        ("bidirectional",),
        ("pooling",),
        ("input",),
        ("units",),
    ]
    values = [{tuple(c[k] for k in key) for c in MATRIX} for key in keys]
    assert [len(v) for v in values] == [5, 3, 2, 3, 2, 2]
    for (i, a), (j, b) in itertools.combinations(enumerate(keys), 2):
        seen = {(tuple(c[k] for k in a), tuple(c[k] for k in b)) for c in MATRIX}
        assert len(seen) == len(values[i]) * len(values[j]), (a, b)


@pytest.mark.parametrize("settings", MATRIX, ids=[case_id(c) for c in MATRIX])
def test_onnx_matches_rnnlab(settings, make_pipeline, make_session, make_inputs):
    pipeline = make_pipeline(**settings, maxlen=MAXLEN)
    assert_parity(pipeline, make_session(pipeline), make_inputs)


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("kind", ["ids", "numbers"])
def test_binary_and_numbers_models(classes, kind, make_pipeline, make_session, make_inputs):
    pipeline = make_pipeline(
        "gru", mask=True, padding="pre", input="raw", classes=classes, kind=kind, maxlen=MAXLEN
    )
    session = make_session(pipeline)
    assert [i.name for i in session.get_inputs()] == [
        "values" if kind == "numbers" else "ids",
        "lengths",
    ]
    assert session.get_outputs()[0].shape == ["batch", classes]
    assert_parity(pipeline, session, make_inputs)


@pytest.mark.parametrize(
    ("cell", "activation", "recurrent_activation"),
    [
        ("lstm", "elu", "hard_sigmoid"),  # alphas: (1/6, 1, 1) per direction, betas: (0.5,)
        ("lstm", "softsign", "sigmoid"),
        ("gru", "linear", "hard_sigmoid"),
        ("gru_reset_before", "tanh", "hard_sigmoid"),
        ("simple_rnn", "linear", None),
        ("simple_rnn", "hard_sigmoid", None),
    ],
)
def test_other_keras_activations(
    cell, activation, recurrent_activation, make_pipeline, make_session, make_inputs
):
    pipeline = make_pipeline(
        cell,
        bidirectional=True,
        mask=True,
        activation=activation,
        recurrent_activation=recurrent_activation,
        maxlen=MAXLEN,
    )
    assert_parity(pipeline, make_session(pipeline), make_inputs)


@pytest.mark.parametrize("opset", [18, 21])
def test_later_opsets(opset, make_pipeline, make_session, make_inputs):
    # 18 moved the axes of ReduceMax / ReduceMean from an attribute to an input.
    for pooling in ("max", "mean"):
        pipeline = make_pipeline("lstm", mask=True, pooling=pooling, maxlen=MAXLEN)
        assert_parity(pipeline, make_session(pipeline, opset), make_inputs, times=(MAXLEN,))


def test_a_hand_computed_masked_simple_rnn(make_pipeline, make_session):
    """One unit, raw ids, pre-padding: the padded steps are skipped, not run on zeros."""
    pipeline = make_pipeline(
        "simple_rnn", mask=True, padding="pre", input="raw", units=(1,), classes=2
    )
    layer, head = pipeline.module.recurrent[0], pipeline.module.head
    w, u, b, a, c = 0.3, -0.8, 0.1, 1.7, -0.2
    with torch.no_grad():
        layer.set_keras_weights([np.array([[w]]), np.array([[u]]), np.array([b])])
        head.weight.fill_(a)
        head.bias.fill_(c)
    ids = np.array([[0, 0, 2, 3], [0, 0, 0, 5], [1, 2, 3, 4]])
    lengths = np.array([2, 1, 4])

    def expected(row):
        h = 0.0
        for x in row:
            h = np.tanh(w * x + u * h + b)
        p = 1 / (1 + np.exp(-(a * h + c)))
        return [1 - p, p]

    want = np.array([expected(r) for r in ([2, 3], [5], [1, 2, 3, 4])])
    got = run(make_session(pipeline), ids, lengths)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pipeline.predict_proba_encoded(ids, lengths), want, atol=1e-6)


def test_lengths_beyond_the_time_axis_are_clamped(make_pipeline, make_session, make_inputs):
    pipeline = make_pipeline("lstm", mask=True, padding="pre", pooling="mean")
    values, lengths = make_inputs(pipeline, [3, 5], 5)
    session = make_session(pipeline)
    np.testing.assert_array_equal(
        run(session, values, np.array([3, 99])), run(session, values, lengths)
    )


def test_negative_ids_fail_instead_of_wrapping(make_pipeline, make_session):
    pipeline = make_pipeline("gru")
    session = make_session(pipeline)
    with pytest.raises(Exception, match="out of bounds|out of data bounds|indices"):
        run(session, np.array([[1, -1, 3]]), np.array([3]))
    with pytest.raises(InvalidValueError, match=r"`ids` must be in \[0, 39\]"):
        pipeline.predict_proba_encoded(np.array([[1, -1, 3]]), np.array([3]))


@pytest.mark.parametrize(
    ("activation", "shown"), [("selu", "'selu'"), (torch.sin, "a custom callable")]
)
def test_activations_without_an_onnx_op_are_refused(activation, shown, make_pipeline):
    pipeline = make_pipeline("lstm", activation=activation)
    with pytest.raises(
        InvalidValueError, match=f"LSTM's activation is {shown}.*exportable: tanh, sigmoid, relu"
    ):
        exporter_for(pipeline)(pipeline, 17)
