"""Occlusion: how much the explained score falls when one token is taken out of the input.

For models without an embedding layer (the Reuters tutorial's, which read each
word id as a number) there are no vectors to integrate gradients over, so each
token is occluded in turn and the attribution is ``F(input) - F(occluded)``:

- 'drop': the token is removed and the rest padded again (the input as if the
  word were not there; the default);
- 'pad': its id is replaced by 0, the padding id;
- 'oov': its id is replaced by the vocabulary's out-of-vocabulary id.

One batch of forward passes, one row per token; no gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from rnnlab.engine.inference import predict_logits
from rnnlab.errors import InvalidValueError, check_choice
from rnnlab.input_encoder import InputEncoder
from rnnlab.interpret.tokens import Aligned, sequence_encoder

MODES = ("drop", "pad", "oov")
Score = Callable[[torch.Tensor], torch.Tensor]


def occlusion(
    module: torch.nn.Module,
    encoder: InputEncoder,
    aligned: Aligned,
    score: Score,
    mode: str = "drop",
) -> tuple[np.ndarray, float]:
    """(F(input) - F(input without token j) for each token j that has a step, F(input)).

    Tokens without a step (truncated away, dropped) are left out of the returned
    array, which follows the order of ``aligned.tokens``.
    """
    check_choice("occlusion", mode, MODES)
    replacement = 0
    if mode == "oov":
        vocab = encoder.vocabulary
        if vocab is None or vocab.oov_id is None:
            raise InvalidValueError(
                "occlusion='oov' needs a vocabulary with an oov id; this "
                "model has none: use 'drop' or 'pad'"
            )
        replacement = vocab.oov_id
    seq_encoder = sequence_encoder(encoder)
    base = aligned.sequence
    variants: list[Sequence[object]] = [base]
    index = 0
    for token in aligned.tokens:
        if token.id is None:
            continue
        k = index + aligned.first
        index += 1
        if token.position is None:
            continue
        if mode == "drop":
            variants.append(base[:k] + base[k + 1 :])
        else:
            variants.append(base[:k] + [replacement] + base[k + 1 :])
    tensors = seq_encoder.encode(variants)
    for mine, theirs in zip(tensors, aligned.tensors):
        # Row 0 is the input itself: it must be exactly what a prediction reads.
        assert torch.equal(mine[:1], theirs), "the occlusion encoder pads differently"
    logits = torch.from_numpy(predict_logits(module, tensors))
    scores = score(logits).double().numpy()
    return scores[0] - scores[1:], float(scores[0])
