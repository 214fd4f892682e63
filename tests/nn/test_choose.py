"""The path chooser's decisions (`paths/choose.py`), pinned as a table of facts -> path.

Each row gives the facts of one forward (what differs from a float32 training
forward on CPU with the C loops built, no dropout and no mask) and what each
`implementation` does with them: the path it runs, or "!" and part of the
error it raises.
"""

import pytest
import torch

from rnnlab.nn.paths.choose import IMPLEMENTATIONS, PathFacts, choose_path, torch_kernel

ACTIVATIONS = {
    "simple_rnn": {"activation": "tanh", "recurrent_activation": None},
    "lstm": {"activation": "tanh", "recurrent_activation": "sigmoid"},
    "gru": {"activation": "tanh", "recurrent_activation": "sigmoid"},
    "custom": {"activation": "tanh", "recurrent_activation": None},
}
INFER = {"backprop": False}
F64 = {"dtype": torch.float64}
NO_C = {"native": False}
CUDA = {"device": "cuda"}
HOLES = {"mask": "holes"}
BLOCKS = {"mask": "blocks"}
NO_FUSED_RD = "!recurrent dropout is active"
NO_FUSED_HOLES = "!the mask has gaps inside a row"
NO_KERNEL_CUDA = "!rnnlab's kernels run on CPU only, got device type 'cuda'"

# (kind, facts, auto, fused, kernel, loop)
TABLE = [
    # LSTM: the kernel under recurrent dropout and in float32 training with the C loops.
    ("lstm", {}, "kernel", "fused", "kernel", "loop"),
    ("lstm", INFER, "fused", "fused", "kernel", "loop"),
    ("lstm", {"recurrent_masks": 4}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("lstm", {"recurrent_masks": 1}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("lstm", {"recurrent_masks": 4, **INFER}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("lstm", {"recurrent_masks": 2}, "loop", NO_FUSED_RD, "!1 or 4 recurrent masks", "loop"),
    ("lstm", BLOCKS, "kernel", "fused", "kernel", "loop"),
    ("lstm", {**BLOCKS, "return_state": True}, "kernel", "fused", "kernel", "loop"),
    ("lstm", {**BLOCKS, "return_state": True, **INFER}, "fused", "fused", "kernel", "loop"),
    ("lstm", HOLES, "kernel", NO_FUSED_HOLES, "kernel", "loop"),
    ("lstm", {**HOLES, **INFER}, "loop", NO_FUSED_HOLES, "kernel", "loop"),
    ("lstm", F64, "fused", "fused", "kernel", "loop"),
    ("lstm", {**F64, "recurrent_masks": 4}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("lstm", {**F64, **HOLES}, "loop", NO_FUSED_HOLES, "kernel", "loop"),
    ("lstm", NO_C, "fused", "fused", "kernel", "loop"),  # the kernel's Python loops
    ("lstm", {**NO_C, "recurrent_masks": 4}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("lstm", CUDA, "fused", "fused", NO_KERNEL_CUDA, "loop"),
    ("lstm", {**CUDA, "recurrent_masks": 4}, "loop", NO_FUSED_RD, NO_KERNEL_CUDA, "loop"),
    ("lstm", {**CUDA, **HOLES}, "loop", NO_FUSED_HOLES, NO_KERNEL_CUDA, "loop"),
    (
        "lstm",
        {"recurrent_activation": "hard_sigmoid"},
        "loop",
        "!recurrent_activation='sigmoid'",
        "!recurrent_activation='sigmoid'",
        "loop",
    ),
    ("lstm", {"activation": None}, "loop", "!activation='tanh'", "!activation='tanh'", "loop"),
    # SimpleRNN: the tanh kernel needs float32 and the C loops.
    ("simple_rnn", {}, "kernel", "fused", "kernel", "loop"),
    ("simple_rnn", INFER, "fused", "fused", "kernel", "loop"),
    ("simple_rnn", {"recurrent_masks": 1}, "kernel", NO_FUSED_RD, "kernel", "loop"),
    ("simple_rnn", HOLES, "kernel", NO_FUSED_HOLES, "kernel", "loop"),
    ("simple_rnn", {**HOLES, **INFER}, "loop", NO_FUSED_HOLES, "kernel", "loop"),
    ("simple_rnn", F64, "fused", "fused", "!float32 only", "loop"),
    ("simple_rnn", {**F64, "recurrent_masks": 1}, "loop", NO_FUSED_RD, "!float32 only", "loop"),
    ("simple_rnn", NO_C, "fused", "fused", "!needs its C loops", "loop"),
    ("simple_rnn", {**NO_C, "recurrent_masks": 1}, "loop", NO_FUSED_RD, "!C loops", "loop"),
    ("simple_rnn", CUDA, "fused", "fused", NO_KERNEL_CUDA, "loop"),
    ("simple_rnn", {"activation": "relu"}, "fused", "fused", "!got 'relu'", "loop"),
    (
        "simple_rnn",
        {"activation": "relu", "recurrent_masks": 1},
        "loop",
        NO_FUSED_RD,
        "!got 'relu'",
        "loop",
    ),
    (
        "simple_rnn",
        {"activation": "linear"},
        "loop",
        "!activation 'linear' is not 'tanh' or 'relu'",
        "!got 'linear'",
        "loop",
    ),
    # GRU: on CPU rnnlab's GRU kernel wherever torch's fused GRU could run.
    ("gru", {}, "kernel", "fused", "kernel", "loop"),
    ("gru", INFER, "kernel", "fused", "kernel", "loop"),
    ("gru", F64, "kernel", "fused", "kernel", "loop"),
    ("gru", NO_C, "kernel", "fused", "kernel", "loop"),
    ("gru", BLOCKS, "kernel", "fused", "kernel", "loop"),
    ("gru", HOLES, "loop", NO_FUSED_HOLES, "!valid steps contiguous", "loop"),
    ("gru", {"recurrent_masks": 3}, "loop", NO_FUSED_RD, "!no recurrent dropout", "loop"),
    ("gru", CUDA, "fused", "fused", NO_KERNEL_CUDA, "loop"),
    (
        "gru",
        {"reset_after": False},
        "loop",
        "!reset_after=False has no torch fused equivalent",
        "!reset_after=False",
        "loop",
    ),
    (
        "gru",
        {"recurrent_activation": "hard_sigmoid"},
        "loop",
        "!recurrent_activation='sigmoid'",
        "!recurrent_activation='sigmoid'",
        "loop",
    ),
    # A cell with its own step: only the loop knows its arithmetic.
    ("custom", {}, "loop", "!has no torch fused kernel", "!no kernel", "loop"),
    ("custom", INFER, "loop", "!has no torch fused kernel", "!no kernel", "loop"),
]


def facts_for(kind, overrides):
    return PathFacts(kind=kind, **{**ACTIVATIONS[kind], **overrides})


def row_id(row):
    kind, overrides = row[:2]
    parts = [f"{k}={v}" for k, v in overrides.items()]
    return "-".join([kind, *parts]).replace("torch.", "")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("row", TABLE, ids=row_id)
def test_decision_table(row, implementation):
    kind, overrides = row[:2]
    expected = dict(zip(IMPLEMENTATIONS, row[2:], strict=True))[implementation]
    facts = facts_for(kind, overrides)
    if expected.startswith("!"):
        with pytest.raises(ValueError) as info:
            choose_path(facts, implementation)
        message = str(info.value)
        assert message.startswith(f"implementation='{implementation}' cannot run this forward: ")
        assert expected[1:] in message
        return
    choice = choose_path(facts, implementation)
    assert choice.path == expected
    assert choice.reason and "\n" not in choice.reason
    if choice.path == "fused":
        kernel, _ = torch_kernel(
            kind, facts.activation, facts.recurrent_activation, facts.reset_after
        )
        assert choice.torch_kernel == kernel is not None
    else:
        assert choice.torch_kernel is None and not choice.packed


def test_every_requested_path_is_the_path_it_runs():
    """'fused', 'kernel' and 'loop' either run the path they name or raise."""
    for row in TABLE:
        for implementation in ("fused", "kernel", "loop"):
            try:
                choice = choose_path(facts_for(*row[:2]), implementation)
            except ValueError:
                continue
            assert choice.path == implementation, row


def test_the_mask_shape_matters_only_without_recurrent_dropout_on_a_torch_kernel_cell():
    """The layer leaves a mask unclassified (as 'holes') where its shape cannot change the
    decision: under recurrent dropout, and for cells torch has no fused kernel for."""
    checked = 0
    for kind, overrides, *_ in TABLE:
        facts = facts_for(kind, overrides)
        has_torch_kernel = (
            torch_kernel(kind, facts.activation, facts.recurrent_activation, facts.reset_after)[0]
            is not None
        )
        if facts.recurrent_masks == 0 and has_torch_kernel:
            continue
        for implementation in IMPLEMENTATIONS:
            outcomes = set()
            for mask in ("blocks", "holes"):
                try:
                    choice = choose_path(
                        facts_for(kind, {**overrides, "mask": mask}), implementation
                    )
                    outcomes.add((choice.path, choice.reason))
                except ValueError as exc:
                    outcomes.add(("error", str(exc)))
            assert len(outcomes) == 1, (kind, overrides, implementation, outcomes)
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize(
    ("kind", "overrides", "packed"),
    [
        ("lstm", {}, False),  # no mask: one kernel call
        ("lstm", BLOCKS, False),  # CPU: each row's block gathered to step 0
        ("lstm", {**BLOCKS, "return_state": True}, True),  # the final c needs packing
        ("gru", {**BLOCKS, "return_state": True}, False),  # only an LSTM has a c
        ("simple_rnn", {**BLOCKS, "return_state": True}, False),
        ("lstm", {**BLOCKS, **CUDA}, True),  # cuDNN packs well
        ("gru", {**BLOCKS, **CUDA}, True),
        ("gru", CUDA, False),
    ],
)
def test_fused_packs_a_masked_lstm_returning_c_and_every_masked_gpu_batch(kind, overrides, packed):
    choice = choose_path(facts_for(kind, overrides), "fused")
    assert choice.path == "fused" and choice.packed is packed


def test_torch_kernels():
    assert torch_kernel("simple_rnn", "tanh") == ("rnn_tanh", "")
    assert torch_kernel("simple_rnn", "relu") == ("rnn_relu", "")
    assert torch_kernel("simple_rnn", None)[0] is None
    assert torch_kernel("lstm", "tanh", "sigmoid") == ("lstm", "")
    assert torch_kernel("gru", "tanh", "sigmoid") == ("gru", "")
    assert torch_kernel("gru", "tanh", "sigmoid", reset_after=False)[0] is None
    assert torch_kernel("lstm", "relu", "sigmoid")[0] is None


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match="`implementation` must be one of"):
        choose_path(facts_for("lstm", {}), "fast")
