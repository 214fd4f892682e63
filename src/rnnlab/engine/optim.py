"""Optimisers: `make_optimizer` (by name, Keras defaults, fastest kernel) and `build_optimizer`.

`build_optimizer` is the one builder every trainer of rnnlab calls.

Keras and torch disagree on defaults (Adam epsilon 1e-7 vs 1e-8, RMSprop rho
0.9 vs 0.99, SGD learning rate 0.01 vs none, ...). ``defaults="keras"`` (the
default, since rnnlab reproduces Keras tutorials) takes Keras' values,
``defaults="torch"`` torch's. Explicit keyword arguments always win.

One difference remains with ``defaults="keras"``: Keras adds epsilon to
sqrt(v) *before* the bias correction (the paper's "epsilon hat"), torch after,
so the two Adams differ slightly in the first steps when v is tiny.

Implementation. torch has three Adam kernels: a per-tensor loop ("single"),
"foreach" (multi-tensor) and "fused". On CPU torch defaults to the slowest,
the per-tensor loop. Measured here (2-core CPU, torch 2.13.0+cpu) on a
2.95M-parameter Embedding + LSTM + Linear model, ms per `step()`, median of 7
runs of 50 steps, with ``python -m rnnlab.engine.optim``:

    adam               single 7.98   foreach 5.44   fused 0.98
    sgd (momentum 0.9) single 1.17   foreach 1.22   fused 0.71
    adagrad            single 1.87   foreach 2.38   fused 0.74

The machine is shared and noisy (a second run gave Adam 6.94 / 3.01 / 0.97),
but fused won every comparison in every run, by 3x or more for Adam.
So ``implementation="auto"`` picks "fused" wherever torch has it (Adam,
AdamW, SGD, Adagrad) and "foreach" otherwise (RMSprop). Fused kernels refuse
sparse gradients (``nn.Embedding(sparse=True)``); pass
``implementation="foreach"`` or ``"single"`` for those.

>>> opt = make_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))])
>>> g = opt.param_groups[0]
>>> g["lr"], g["betas"], g["eps"], g["fused"]
(0.001, (0.9, 0.999), 1e-07, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice, check_positive

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

# Keras 3 defaults, in torch's argument names.
KERAS_DEFAULTS: dict[str, dict[str, Any]] = {
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    "sgd": {"lr": 0.01, "momentum": 0.0},
    "rmsprop": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7},
    "adagrad": {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7},
}
TORCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "adam": {},
    "adamw": {},
    "sgd": {"lr": 0.01},  # torch has no SGD default; Keras' value
    "rmsprop": {},
    "adagrad": {},
}
_FUSED = ("adam", "adamw", "sgd", "adagrad")


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    lr: float | None = None,
    *,
    defaults: str = "keras",
    implementation: str = "auto",
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """Build a torch optimiser by name.

    Args:
        name: 'adam', 'adamw', 'sgd', 'rmsprop' or 'adagrad'.
        params: parameters or parameter groups, as for any torch optimiser.
        lr: learning rate; default that of ``defaults``.
        defaults: 'keras' (Keras 3 values) or 'torch'.
        implementation: 'auto' (fastest measured: see the module docstring),
            'fused', 'foreach' or 'single'.
        **kwargs: any other argument of the torch class (``betas``, ``momentum``, ...).

    Returns:
        The optimiser.
    """
    name = check_choice("name", name.lower() if isinstance(name, str) else name, list(OPTIMIZERS))
    check_choice("defaults", defaults, ("keras", "torch"))
    check_choice("implementation", implementation, ("auto", "fused", "foreach", "single"))
    param_list: list[Any] = list(params)
    options = dict((KERAS_DEFAULTS if defaults == "keras" else TORCH_DEFAULTS)[name])
    if lr is not None:
        options["lr"] = check_positive("lr", lr, integer=False, allow_zero=True)
    options.update(kwargs)
    if "fused" in options or "foreach" in options:
        raise InvalidTypeError(
            "choose the kernel with `implementation=`, not `fused=` / `foreach=`"
        )
    if implementation == "auto":
        implementation = "fused" if name in _FUSED else "foreach"
    if implementation == "fused" and name not in _FUSED:
        raise InvalidValueError(
            f"torch has no fused '{name}'; use implementation='foreach' or 'single'"
        )
    if implementation == "fused":
        options["fused"] = True
    else:
        options["foreach"] = implementation == "foreach"
    return OPTIMIZERS[name](param_list, **options)


def build_optimizer(
    optimizer: Any,
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    lr: float | None = None,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """The one optimiser builder: whatever names an optimiser, made into one.

    Args:
        optimizer: a name for `make_optimizer` ('adam', 'sgd', ...), a torch
            optimiser class or any callable ``params, **settings -> optimiser``,
            or a ready optimiser (then ``lr`` and settings must be left out).
        params: the parameters (or parameter groups) to optimise.
        lr: the learning rate, when given.
        **kwargs: settings of the optimiser (``weight_decay=0.01``, ``eps=1e-7``).
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        if lr is not None or kwargs:
            raise InvalidValueError(
                "`lr` and optimiser settings apply only to an optimiser given by name or "
                "class; set them on your optimiser"
            )
        return optimizer
    if isinstance(optimizer, str):
        return make_optimizer(optimizer, params, lr, **kwargs)
    if callable(optimizer):
        settings = dict(kwargs) if lr is None else {**kwargs, "lr": lr}
        built = optimizer(list(params), **settings)
        if not isinstance(built, torch.optim.Optimizer):
            raise InvalidTypeError(
                f"`optimizer` must build a torch optimiser, got {type(built).__name__}"
            )
        return built
    raise InvalidTypeError(
        "`optimizer` must be a name ('adam', 'sgd', ...), a torch optimiser, a torch optimiser "
        f"class or a callable params -> optimiser, got {type(optimizer).__name__} {optimizer!r}"
    )


def _benchmark(steps: int = 50, repeats: int = 7) -> None:  # pragma: no cover - a measurement
    import statistics
    import time

    torch.manual_seed(0)
    model = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(22000, 128),
            "lstm": torch.nn.LSTM(128, 128, batch_first=True),
            "out": torch.nn.Linear(128, 46),
        }
    )
    params = list(model.parameters())
    print(
        f"{sum(p.numel() for p in params):,} parameters, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("adam", {}),
        ("sgd", {"momentum": 0.9}),
        ("adagrad", {}),
    )
    for name, extra in cases:
        opts = {
            impl: make_optimizer(name, params, implementation=impl, **extra)
            for impl in ("single", "foreach", "fused")
        }
        times: dict[str, list[float]] = {impl: [] for impl in opts}
        for _ in range(repeats):  # interleaved, so machine drift hits all three alike
            for impl, opt in opts.items():
                for _ in range(5):
                    opt.step()
                start = time.perf_counter()
                for _ in range(steps):
                    opt.step()
                times[impl].append((time.perf_counter() - start) / steps * 1e3)
        print(
            name,
            "  ".join(f"{impl} {statistics.median(t):.2f}" for impl, t in times.items()),
            "ms/step",
        )


if __name__ == "__main__":  # pragma: no cover
    _benchmark()
