"""The C time loops of the LSTM kernel (`_native_loops.c`, loaded by `native.py`).

The kernel's Python loops are the reference: both fill the same buffers, so
every output and gradient is compared within 1e-5 (float32), over batch sizes
that do and do not divide into the thread blocks, odd unit counts, masks with
holes, and saturating pre-activations.
"""

import pytest
import torch

from rnnlab.nn import LSTM
from rnnlab.nn.paths import lstm_kernel, native
from rnnlab.nn.paths.denormals import flush_denormals
from rnnlab.nn.paths.lstm_kernel import _LSTMRecurrence


def test_the_c_loops_are_built_and_in_use():
    # CI installs the package the way the README does: a silent build failure
    # would leave the Python loops in place and lose the speed.
    assert native.loops() is not None, native.unavailable_reason()
    assert native.unavailable_reason() is None


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def recurrence(
    shape,
    *,
    masked,
    input_dropout,
    scale=1.0,
    seed=0,
    input_masks=4,
    recurrent_dropout=True,
    sequences=True,
):
    """Arguments of `_LSTMRecurrence` for (T, B, n, u), float32 leaves."""
    T, B, n, u = shape
    g = torch.Generator().manual_seed(seed)

    def leaf(*s, k=1.0):
        return (torch.randn(*s, generator=g) * k).requires_grad_(True)

    keep = 0.75
    in_mask = None
    if input_dropout:
        in_mask = (torch.rand(input_masks, B, n, generator=g) < keep).float() / keep
    rm = (torch.rand(4, B, u, generator=g) < keep).float() / keep if recurrent_dropout else None
    sm = (torch.rand(T, B, 1, generator=g) > 0.3) if masked else None
    return (
        leaf(T, B, n, k=scale),
        leaf(n, 4 * u, k=0.3),
        leaf(4 * u),
        leaf(u, 4 * u, k=0.3),
        in_mask,
        rm,
        leaf(B, u),
        leaf(B, u),
        sm,
        sequences,
    )


def outputs_and_grads(args):
    hs, cT = _LSTMRecurrence.apply(*args)
    g = torch.Generator().manual_seed(1)
    loss = (hs * torch.randn(hs.shape, generator=g)).sum() + (
        cT * torch.randn(cT.shape, generator=g)
    ).sum()
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    return [hs.detach(), cT.detach(), *torch.autograd.grad(loss, leaves)]


def python_loops(monkeypatch):
    monkeypatch.setattr(lstm_kernel, "_native_loops", lambda like: None)


@pytest.mark.parametrize("shape", [(80, 32, 16, 16), (5, 3, 4, 5), (1, 1, 2, 17), (9, 7, 3, 33)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("input_dropout", [False, True])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_c_loops_equal_python_loops(
    shape, masked, input_dropout, num_threads, threads, monkeypatch
):
    threads(num_threads)
    args = recurrence(shape, masked=masked, input_dropout=input_dropout)
    fast = outputs_and_grads(args)
    python_loops(monkeypatch)
    reference = outputs_and_grads(args)
    for a, b in zip(fast, reference, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("c_loops", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("input_masks", [0, 1, 4])
@pytest.mark.parametrize("recurrent_dropout", [False, True])
@pytest.mark.parametrize("sequences", [True, False])
def test_chunks_of_steps_equal_one_pass(
    c_loops, masked, input_masks, recurrent_dropout, sequences, threads, monkeypatch
):
    # Long sequences run in chunks of steps (10 steps: chunks of 3, 3, 3 and 1), the
    # states and gradients handed from chunk to chunk; the reference is one pass of
    # the Python loops.
    threads(2)
    args = recurrence(
        (10, 5, 4, 6),
        masked=masked,
        input_dropout=input_masks > 0,
        input_masks=max(input_masks, 1),
        recurrent_dropout=recurrent_dropout,
        sequences=sequences,
    )
    python_loops(monkeypatch)
    reference = outputs_and_grads(args)
    if c_loops:
        monkeypatch.undo()
    monkeypatch.setattr(lstm_kernel, "chunk_steps", lambda T, B, n, u: 3)
    for a, b in zip(outputs_and_grads(args), reference, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_chunk_steps_keep_tutorial_sequences_whole_and_split_long_ones():
    budget = lstm_kernel.CHUNK_BYTES
    step = 16 * 32 * 128  # bytes of one step of a 4-gate float32 buffer, batch 32, 128 units
    assert lstm_kernel.chunk_steps(80, 32, 128, 128) == 80  # the IMDB tutorial: one chunk
    whole = 2 * budget // step  # the longest sequence kept whole
    assert lstm_kernel.chunk_steps(whole, 32, 128, 128) == whole
    assert lstm_kernel.chunk_steps(whole + 1, 32, 128, 128) == budget // step
    long = lstm_kernel.chunk_steps(1280, 32, 128, 128)
    assert 16 <= long < 1280 and long * step <= budget
    assert lstm_kernel.chunk_steps(5, 10**6, 512, 512) == 1


def test_last_state_only_gives_the_gradients_of_the_last_step():
    # sequences=False returns h_T alone; its gradients equal those of a loss on h_T
    # taken from the full sequence.
    full = recurrence((7, 3, 4, 5), masked=True, input_dropout=True)
    last = full[:-1] + (False,)
    hs, _ = lstm_kernel._LSTMRecurrence.apply(*full)
    hT, _ = lstm_kernel._LSTMRecurrence.apply(*last)
    torch.testing.assert_close(hT, hs[-1])
    leaves = [a for a in full if isinstance(a, torch.Tensor) and a.requires_grad]
    w = torch.randn(hT.shape, generator=torch.Generator().manual_seed(2))
    g_full = torch.autograd.grad((hs[-1] * w).sum(), leaves)
    g_last = torch.autograd.grad((hT * w).sum(), leaves)
    for a, b in zip(g_last, g_full, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_saturated_gates_stay_exact(monkeypatch):
    # Pre-activations in the hundreds drive exp to its clamps and tanh to +-1.
    args = recurrence((6, 4, 3, 8), masked=True, input_dropout=False, scale=300.0)
    fast = outputs_and_grads(args)
    assert fast[0].abs().max() > 0.9
    python_loops(monkeypatch)
    for a, b in zip(fast, outputs_and_grads(args), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_gate_activations_match_torch_over_their_range():
    # With h0 = 0 the recurrent product vanishes: one step turns the buffer of
    # pre-activations into sigmoid (o, i, f) and tanh (c) in place. One value a row.
    z = torch.linspace(-120, 120, 4001)
    z = torch.cat([z, torch.logspace(-8, 1, 200), -torch.logspace(-8, 1, 200)])
    B = z.numel()
    act = z.repeat(4, 1).view(4, 1, B, 1).clone()
    buffers = [act, torch.zeros(4, 1, 1), torch.ones(4, B, 1), torch.zeros(2, B, 1)]
    buffers += [torch.zeros(2, B, 1), torch.empty(4, B, 1)]
    native.loops().lstm_forward(1, B, 1, B, B, 0, *(t.data_ptr() for t in buffers), 0)
    sig, tanh = torch.sigmoid(z.double()), torch.tanh(z.double())
    for gate in range(3):
        torch.testing.assert_close(act[gate].flatten().double(), sig, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(act[3].flatten().double(), tanh, atol=1e-7, rtol=1e-6)


def test_layer_trains_the_same_with_either_loops(monkeypatch):
    """A few Adam steps of the IMDB-shaped layer give the same weights both ways."""

    def train():
        torch.manual_seed(0)
        layer = LSTM(12, input_size=6, dropout=0.2, recurrent_dropout=0.2, return_sequences=True)
        opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
        x = torch.randn(8, 20, 6, generator=torch.Generator().manual_seed(1))
        for _ in range(5):
            opt.zero_grad()
            layer(x).square().mean().backward()
            opt.step()
        assert layer.last_path == "kernel"
        return [p.detach().clone() for p in layer.parameters()]

    fast = train()
    python_loops(monkeypatch)
    for a, b in zip(fast, train(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_unavailable_loops_say_why(monkeypatch):
    monkeypatch.setenv("RNNLAB_NATIVE", "0")
    native.loops.cache_clear()
    try:
        assert native.loops() is None
        assert "RNNLAB_NATIVE=0" in native.unavailable_reason()
    finally:
        monkeypatch.delenv("RNNLAB_NATIVE")
        native.loops.cache_clear()
    assert native.loops() is not None


def test_subnormals_are_flushed_in_every_pool_thread(threads):
    # A long sequence's gradients vanish through the subnormal range; torch's parallel
    # ops and its BLAS run half their work on the pool's other thread, which
    # torch.set_flush_denormal alone leaves slow (that made 1280-step passes 1.3x
    # slower per token).
    threads(2)
    x = torch.full((1 << 20,), 1e-30)  # x * 1e-10 is subnormal: 1e-40

    def subnormals():
        return int(torch.count_nonzero(x * 1e-10))

    assert subnormals() == x.numel()
    with flush_denormals():
        assert subnormals() == 0
    assert subnormals() == x.numel()
