"""The one inference path: inputs -> logits in batches, and logits -> class probabilities.

`Trainer.predict`, the scikit-learn estimators and `Pipeline` (what `rnnlab
predict`, `evaluate` and a saved model run) all call these two functions, so the
batching, the eval-mode switch and the binary one-logit convention live here
only.

The binary convention: a two-class model has one output, the logit of class 1
(Keras's Dense(1, sigmoid)); its probabilities are ``[1 - sigmoid, sigmoid]``.
More outputs are one logit per class and go through softmax.

>>> import numpy as np
>>> class_probabilities(np.array([[0.0], [2.0]])).round(3).tolist()
[[0.5, 0.5], [0.119, 0.881]]
>>> class_probabilities(np.array([[0.0, 0.0]])).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy.special import expit, softmax
from torch import nn

from rnnlab.engine.buckets import cut_to_longest
from rnnlab.errors import InvalidValueError, check_int

ForwardFn = Callable[[tuple[torch.Tensor, ...]], torch.Tensor]


def batched_logits(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, ...]],
    device: torch.device | None = None,
    forward: ForwardFn | None = None,
) -> torch.Tensor:
    """Run ``model`` over input batches in eval mode, without gradients: (n, ...) CPU tensor.

    Args:
        model: any module; its training mode is restored afterwards.
        batches: tuples of input tensors, each called as ``model(*inputs)``.
        device: where the inputs go (default: where the model's parameters are).
        forward: replaces ``model(*inputs)`` (the Trainer passes its `predict_step`).

    Returns:
        The outputs of every batch, concatenated; half-precision outputs become float32.
    """
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    step = forward if forward is not None else (lambda inputs: model(*inputs))
    chunks = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for inputs in batches:
                out = step(tuple(t.to(device) for t in inputs))
                chunks.append(out.detach().cpu())
    finally:
        model.train(was_training)
    if not chunks:
        raise InvalidValueError("no inputs to predict: pass at least one sample")
    out = torch.cat(chunks)
    return out.float() if out.dtype in (torch.bfloat16, torch.float16) else out


def predict_logits(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    batch_size: int = 256,
    device: torch.device | None = None,
    order_invariant: bool = True,
) -> np.ndarray:
    """(n, n_logits) float32 logits of in-memory inputs, in batches of ``batch_size``.

    With ``order_invariant`` the samples run in a canonical order (sorted by their
    bytes), so a sample's logits do not depend on the order or company it comes
    in, bit for bit: float32 matrix products may round differently with the batch a
    sample lands in (scikit-learn checks order invariance to 1e-9).

    A model that masks its padding (a ``cuts_padding`` attribute naming the padding
    side, as `RecurrentClassifier` has with ``mask``) and inputs ``(ids, lengths)``
    run sorted by length first, each batch cut to its longest row: long padded
    inputs (800-token reviews, most far shorter) then cost their real steps only.
    """
    step = check_int("batch_size", batch_size, minimum=1)
    n = int(inputs[0].shape[0])
    if n == 0:
        raise InvalidValueError("no inputs to predict: pass at least one sample")
    padding = _cut_padding(model, inputs)
    lengths = inputs[1].cpu().numpy() if padding is not None else None
    if order_invariant:
        order = _canonical_order(inputs, lengths)
    else:
        order = np.arange(n) if lengths is None else np.argsort(lengths, kind="stable")
    index = torch.from_numpy(order)
    ordered = tuple(t[index] for t in inputs)
    batches: Iterable[tuple[torch.Tensor, ...]] = (
        tuple(t[lo : lo + step] for t in ordered) for lo in range(0, n, step)
    )
    if padding is not None:  # rows of like length together, each batch cut to its longest
        batches = ((cut_to_longest(ids, lens, padding), lens) for ids, lens in batches)
    logits = batched_logits(model, batches, device).float().reshape(n, -1).numpy()
    result = np.empty_like(logits)
    result[order] = logits
    return result


def class_probabilities(logits: np.ndarray | torch.Tensor, multi_label: bool = False) -> np.ndarray:
    """(n, 1) binary or (n, k) logits -> (n, classes) float64 probabilities (see the module doc).

    ``multi_label``: k independent yes/no outputs (a sigmoid each, Keras's
    Dense(k, sigmoid) under binary cross-entropy): (n, k) probabilities of "yes".
    """
    z = np.asarray(logits.detach().cpu() if isinstance(logits, torch.Tensor) else logits)
    z = z.astype(np.float64).reshape(len(z), -1)
    if multi_label:
        return expit(z)
    if z.shape[1] == 1:
        return np.column_stack([expit(-z[:, 0]), expit(z[:, 0])])
    return softmax(z, axis=1)


def class_indices(logits: np.ndarray) -> np.ndarray:
    """The most likely class of each row; for one logit, its sign (exact at any magnitude)."""
    z = np.asarray(logits).reshape(len(logits), -1)
    return (z[:, 0] > 0).astype(np.int64) if z.shape[1] == 1 else z.argmax(axis=1)


def _cut_padding(model: nn.Module, inputs: Sequence[torch.Tensor]) -> str | None:
    """The padding side batches of ``inputs`` may be cut on for ``model``, or None."""
    padding = getattr(model, "cuts_padding", None)
    if padding is None or len(inputs) != 2 or inputs[0].dim() != 2 or inputs[1].dim() != 1:
        return None
    return str(padding)


def _canonical_order(
    inputs: Sequence[torch.Tensor], lengths: np.ndarray | None = None
) -> np.ndarray:
    """A permutation sorting the samples by their bytes (by ``lengths`` first, when given):
    the same rows in any order sort alike."""
    n = int(inputs[0].shape[0])
    if n < 2:
        return np.arange(n)
    rows = np.ascontiguousarray(
        np.concatenate(
            [np.ascontiguousarray(t.cpu().numpy()).reshape(n, -1).view(np.uint8) for t in inputs],
            axis=1,
        )
    )
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    order = np.argsort(keys, kind="stable")
    if lengths is None:
        return order
    return order[np.argsort(lengths[order], kind="stable")]
