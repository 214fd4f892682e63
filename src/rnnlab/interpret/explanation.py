"""`explain`: per-token attributions of one prediction of a saved model, as JSON-ready data.

What is explained is one class's score in logit space: for a softmax model the
class's logit; for a one-logit (sigmoid) model the logit itself for class 1
and its negative for class 0 (log p1/p0 and log p0/p1), so a positive
attribution always pushes towards the explained class. By default the class
is the predicted one.

- Models with an embedding layer (``module.embedding``, as `RecurrentClassifier`
  and imported Keras models have): integrated gradients over the embedding
  vectors, from a baseline of zero vectors at the token positions (the start
  token and the padding keep their own vectors, so they get nothing). The
  attributions add up to F(input) - F(baseline); the result reports both
  sides of that check ('completeness').
- Models without one (``input='raw'``: ids fed as numbers): occlusion, each
  token's attribution being F(input) - F(input without it).

The function prints nothing and writes nothing (the HTTP service calls it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.engine.inference import class_probabilities
from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice, check_int, suggest
from rnnlab.interpret.integrated_gradients import RULES, integrated_gradients
from rnnlab.interpret.occlusion import MODES, occlusion
from rnnlab.interpret.tokens import align
from rnnlab.pipeline import Pipeline

METHODS = ("auto", "integrated_gradients", "occlusion")
BASELINE = (
    "zero embedding vectors at the token positions; the start token and the padding "
    "keep their own vectors"
)


def explain(
    pipeline: Pipeline,
    text: Any,
    target: str | int | None = None,
    steps: int = 64,
    *,
    method: str = "auto",
    occlusion_mode: str = "drop",
    rule: str = "gauss_legendre",
) -> dict[str, Any]:
    """Explain one prediction of ``pipeline`` on ``text``: which tokens pushed it, and how much.

    Args:
        pipeline: a loaded model (`rnnlab.load`).
        text: one input: a text for raw-text models, ids / numbers (a list, or a
            string "12 7 431") for sequence models.
        target: the class to explain, by label name (or index when an int);
            default the predicted class.
        steps: integration points of integrated gradients.
        method: 'auto' (integrated gradients when the model has an embedding
            layer, else occlusion), 'integrated_gradients' or 'occlusion'.
        occlusion_mode: 'drop', 'pad' or 'oov' (see `rnnlab.interpret.occlusion`).
        rule: 'gauss_legendre' or 'trapezoid' (integrated gradients).

    Returns:
        A JSON-ready dict: ``label`` (predicted), ``probabilities`` (label -> p),
        ``target``, ``method``, ``space`` ('logit'), ``score`` (F(input)),
        ``tokens`` (``{"token", "id", "position", "attribution"}`` each, in input
        order; position and attribution are None for a token the model does not
        see: truncated away, or an unknown word the vocabulary drops), and for
        integrated gradients ``steps``, ``rule``, ``baseline`` and
        ``completeness`` (``sum``, ``difference`` = F(input) - F(baseline),
        ``error``, ``baseline_score``); for occlusion ``occlusion``.
    """
    if not isinstance(pipeline, Pipeline):
        raise InvalidTypeError(
            f"`pipeline` must be an rnnlab Pipeline (rnnlab.load(...)), got "
            f"{type(pipeline).__name__}"
        )
    check_choice("method", method, METHODS)
    check_choice("occlusion_mode", occlusion_mode, MODES)
    check_choice("rule", rule, RULES)
    check_int("steps", steps, minimum=2 if rule == "trapezoid" else 1)
    module = pipeline.module
    aligned = align(pipeline.inputs, text)
    logits = torch.from_numpy(pipeline.predict_logits(aligned.tensors))
    probabilities = class_probabilities(logits)[0]
    predicted = int(probabilities.argmax())
    k = predicted if target is None else _class_index(pipeline.labels, target)
    one_logit = logits.shape[-1] == 1

    def score(out: torch.Tensor) -> torch.Tensor:
        out = out.reshape(len(out), -1)
        if one_logit:
            return out[:, 0] if k == 1 else -out[:, 0]
        return out[:, k]

    embedding = getattr(module, "embedding", None)
    if method == "auto":
        method = "integrated_gradients" if isinstance(embedding, nn.Module) else "occlusion"
    result: dict[str, Any] = {
        "label": pipeline.labels[predicted],
        "probabilities": {n: float(p) for n, p in zip(pipeline.labels, probabilities)},
        "target": pipeline.labels[k],
        "method": method,
        "space": "logit",
    }
    seen = [t for t in aligned.tokens if t.position is not None]
    if method == "integrated_gradients":
        if not isinstance(embedding, nn.Module):
            why = (
                "its n-gram part has no gradient through the embeddings"
                if hasattr(module, "ngrams")
                else "it reads ids as numbers (input='raw')"
            )
            raise InvalidValueError(
                "integrated gradients need every part of the score to flow through an "
                f"embedding layer (`module.embedding`), and this model's does not: {why}; "
                "use method='occlusion'"
            )
        per_step, f_input, f_baseline = integrated_gradients(
            module,
            embedding,
            aligned.tensors,
            [t.position for t in seen],
            score,
            steps=steps,
            rule=rule,
        )
        values = [float(per_step[t.position]) for t in seen]
        total = float(np.sum(values))
        result.update(
            score=f_input,
            steps=steps,
            rule=rule,
            baseline=BASELINE,
            completeness={
                "sum": total,
                "difference": f_input - f_baseline,
                "error": total - (f_input - f_baseline),
                "baseline_score": f_baseline,
            },
        )
    else:
        changes, f_input = occlusion(module, pipeline.inputs, aligned, score, occlusion_mode)
        values = [float(v) for v in changes]
        result.update(score=f_input, occlusion=occlusion_mode)
    by_token = dict(zip(map(id, seen), values))
    result["tokens"] = [
        {"token": t.text, "id": t.id, "position": t.position, "attribution": by_token.get(id(t))}
        for t in aligned.tokens
    ]
    return result


def methods_for(module: nn.Module) -> tuple[str, ...]:
    """The explanation methods a module supports: integrated gradients only when every part of
    its score flows through ``module.embedding`` (not a hybrid's n-gram part, not raw ids)."""
    if isinstance(getattr(module, "embedding", None), nn.Module):
        return ("auto", "integrated_gradients", "occlusion")
    return ("auto", "occlusion")


def _class_index(labels: list[str], target: str | int) -> int:
    if isinstance(target, str):
        if target in labels:
            return labels.index(target)
        raise InvalidValueError(
            f"`target` {target!r} is not a class of this model{suggest(target, labels)}; "
            f"classes: {', '.join(labels)}"
        )
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if 0 <= int(target) < len(labels):
            return int(target)
        raise InvalidValueError(
            f"`target` index {target} is out of range: the model has {len(labels)} classes"
        )
    raise InvalidTypeError(
        f"`target` must be a label name or a class index, got {type(target).__name__}"
    )
