"""Loading the C time loops of the LSTM and SimpleRNN kernels (`_native_loops.c`), or why not.

The extension is compiled when the package is installed (setup.py, a plain C
file: no torch headers, so no build-time torch). It needs one thing at run
time: the BLAS `sgemm_` that torch itself links, found by name in torch's own
library. `loops()` returns the ready module, or None (with the reason in
`unavailable_reason()`), and `lstm_kernel.py` then runs its Python loops,
which compute the same numbers. The C loops are used only when they agree
with torch on a small product at load time, so a BLAS with another calling
convention can never give wrong numbers.

`RNNLAB_NATIVE=0` in the environment turns the C loops off (benchmarks and
tests compare both ways).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
from pathlib import Path
from types import ModuleType

import torch

_reason: str | None = None


def _find_sgemm() -> int | None:
    """Address of `sgemm_` in torch's CPU library, or None."""
    lib_dir = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll"):
        path = lib_dir / name
        if not path.exists():
            continue
        try:
            lib = ctypes.CDLL(str(path))  # already loaded by torch: this only looks it up
            return ctypes.cast(lib.sgemm_, ctypes.c_void_p).value
        except (OSError, AttributeError):
            return None
    return None


def _agrees_with_torch(module: ModuleType) -> bool:
    """Run the forward loop on one tiny case and compare with the same step in torch."""
    g = torch.Generator().manual_seed(0)
    T, B, u = 1, 2, 3
    act = torch.randn(4, T, B, u, generator=g)
    rk = torch.randn(4, u, u, generator=g)
    rm = torch.rand(4, B, u, generator=g)
    hs, cs = torch.zeros(T + 1, B, u), torch.zeros(T + 1, B, u)
    hs[0], cs[0] = torch.randn(B, u, generator=g), torch.randn(B, u, generator=g)
    hm = torch.empty(4, B, u)
    z = act[:, 0] + torch.bmm(hs[0] * rm, rk)
    o, i, f = torch.sigmoid(z[:3])
    c = f * cs[0] + i * torch.tanh(z[3])
    expected = o * torch.tanh(c)
    module.lstm_forward(T, B, u, T * B * u, B * u, 0, *pointers(act, rk, rm, hs, cs, hm, None))
    return torch.allclose(hs[1], expected, atol=1e-5) and torch.allclose(cs[1], c, atol=1e-5)


@functools.cache
def loops() -> ModuleType | None:
    """The C loops, ready to call, or None when they cannot be used here."""
    global _reason
    if os.environ.get("RNNLAB_NATIVE", "1") == "0":
        _reason = "turned off by RNNLAB_NATIVE=0"
        return None
    try:
        # By name: the extension is built at install time and may be missing.
        _native_loops = importlib.import_module("rnnlab.nn.paths._native_loops")
    except ImportError as exc:
        _reason = f"the extension was not built at install time ({exc})"
        return None
    address = _find_sgemm()
    if not address:
        _reason = "torch's library exports no sgemm_ (a torch build without MKL/BLAS symbols)"
        return None
    _native_loops.set_sgemm(address)
    try:
        agrees = _agrees_with_torch(_native_loops)
    except TypeError as exc:  # a stale build whose functions take other arguments
        _reason = f"the built extension does not match this rnnlab; reinstall it ({exc})"
        return None
    if not agrees:
        _reason = "the C loop disagreed with torch on a check product (BLAS convention?)"
        return None
    _reason = None
    return _native_loops


def pointers(*tensors: torch.Tensor | None) -> list[int]:
    """Data addresses for the C loops, which read every buffer as contiguous; None gives 0 (NULL)."""
    assert all(t is None or t.is_contiguous() for t in tensors)
    return [0 if t is None else t.data_ptr() for t in tensors]


def unavailable_reason() -> str | None:
    """Why `loops()` is None (None when the C loops are in use)."""
    loops()
    return _reason
