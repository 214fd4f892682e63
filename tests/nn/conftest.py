"""Shared fixtures for the layer tests."""

import pytest

from rnnlab.nn.paths import lstm_kernel


@pytest.fixture
def no_lstm_kernel(monkeypatch):
    """Route every LSTM to torch's fused kernel or the generic loop, never rnnlab's LSTM kernel.

    Float32 LSTM training takes the kernel by default; tests of the fused path
    and of the loop itself switch it off.
    """
    monkeypatch.setattr(lstm_kernel, "USE_LSTM_KERNEL", False)
