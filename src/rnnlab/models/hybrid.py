"""`HybridClassifier`: a recurrent classifier and an NB-weighted n-gram linear model, blended.

The recurrent part reads word order; the linear part (NBSVM, Wang & Manning 2012:
binarized word n-grams, up to bigrams or trigrams, scaled by their naive-Bayes
log-count ratios, then a linear SVM) reads which words, pairs and triples occur.
Their logits are added with
weights chosen on the validation split (`select_blend`), so the blend can only
be as good as the better part where validation says so, and better where the
two disagree usefully (Mesnil et al. 2014 report about a point over NBSVM alone).

Both parts read the same padded ``(ids, lengths)`` tensors, so a hybrid model
saves, loads, predicts, evaluates and serves like any other `rnnlab.load` model.
The n-gram weights are buffers of the module: nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.errors import InvalidValueError, check_int
from rnnlab.models.classifier import RecurrentClassifier
from rnnlab.models.ngram_keys import check_key_range, check_order, ngram_offsets
from rnnlab.models.registry import register_model
from rnnlab.models.spec import ModelSpec

PADDING_ID = 0  # every rnnlab and Keras id encoding pads with 0, never a word


class NgramScorer(nn.Module):
    """A fitted linear model over the distinct word n-grams (up to ``order`` words) of padded ids.

    Unigram ``a``, bigram ``a b`` and trigram ``a b c`` (adjacent real tokens) count
    once per row, as NBSVM's binarized features; ids at or above ``num_ids`` (never
    seen when it was fitted) and n-grams it did not keep add nothing. Keys are those of
    `rnnlab.models.ngram_keys`; the buffer ``ngram_keys`` holds the kept ones of two or
    more words, sorted.

    With ``normalized``, each row's sum of weights is divided by the square root of its
    sum of ``*_norms`` (the squared idf of every n-gram it holds) before the bias: the
    score of a unit-length idf row, as NBSVM's ``weighting="idf"`` computes it.

    Shapes: ids (batch, time) int64 -> (batch, num_outputs) scores.
    """

    def __init__(
        self,
        num_ids: int,
        num_ngrams: int,
        num_outputs: int,
        order: int = 2,
        normalized: bool = False,
    ) -> None:
        super().__init__()
        check_int("num_ids", num_ids, minimum=1)
        check_int("num_ngrams", num_ngrams, minimum=0)
        check_int("num_outputs", num_outputs, minimum=1)
        check_order(order)
        check_key_range(num_ids, order)
        self.num_ids, self.order, self.normalized = num_ids, order, bool(normalized)
        self.register_buffer("unigram_weights", torch.zeros(num_ids, num_outputs))
        self.register_buffer("ngram_keys", torch.zeros(num_ngrams, dtype=torch.int64))
        self.register_buffer("ngram_weights", torch.zeros(num_ngrams, num_outputs))
        self.register_buffer("bias", torch.zeros(num_outputs))
        if self.normalized:
            self.register_buffer("unigram_norms", torch.zeros(num_ids))
            self.register_buffer("ngram_norms", torch.zeros(num_ngrams))

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(unigram, longer n-gram) rows to sum: the weights, then the norm when normalized."""
        if not self.normalized:
            return self.unigram_weights, self.ngram_weights
        return (
            torch.cat([self.unigram_weights, self.unigram_norms[:, None]], 1),
            torch.cat([self.ngram_weights, self.ngram_norms[:, None]], 1),
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        v = self.num_ids
        unigram_table, ngram_table = self.tables()
        real = (ids != PADDING_ID) & (ids >= 0) & (ids < v)
        unigrams, first = _distinct(torch.where(real, ids, -1))
        found = first & (unigrams >= 0)
        sums = (unigram_table[unigrams.clamp(min=0)] * found[..., None]).sum(1)
        longer = [torch.where(ok, key, -1) for key, ok in _longer_ngrams(ids, real, v, self.order)]
        # Rows too short for a bigram, or no n-gram kept: unigrams only.
        if self.ngram_keys.numel() and longer:
            keys, first = _distinct(torch.cat(longer, dim=1))
            at = torch.searchsorted(self.ngram_keys, keys.clamp(min=0)).clamp(
                max=self.ngram_keys.numel() - 1
            )
            hit = first & (keys >= 0) & (self.ngram_keys[at] == keys)
            sums = sums + (ngram_table[at] * hit[..., None]).sum(1)
        if self.normalized:
            # A row with no known n-gram sums to 0 and scores the bias.
            sums = sums[:, :-1] / sums[:, -1:].clamp(min=1e-12).sqrt()
        return self.bias + sums


def _longer_ngrams(
    ids: torch.Tensor, real: torch.Tensor, num_ids: int, order: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(keys, all-real mask) of the n-grams of 2..``order`` words at each step, by length."""
    out = []
    for n, offset in enumerate(ngram_offsets(num_ids, order)[1:], start=2):
        span = ids.shape[1] - n + 1
        if span <= 0:
            break
        key, ok = ids[:, :span], real[:, :span]
        for k in range(1, n):
            key, ok = key * num_ids + ids[:, k : k + span], ok & real[:, k : k + span]
        out.append((offset + key, ok))
    return out


def _distinct(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's keys sorted, and a mask of the first of every run of equal keys."""
    keys = keys.sort(dim=1).values
    first = torch.ones_like(keys, dtype=torch.bool)
    first[:, 1:] = keys[:, 1:] != keys[:, :-1]
    return keys, first


@register_model("HybridClassifier")
class HybridClassifier(nn.Module):
    """``recurrent_weight * recurrent(ids, lengths) + linear_weight * ngrams(ids)``.

    Args:
        recurrent: the `RecurrentClassifier`'s config (its ``config`` attribute).
        ngrams: `NgramScorer`'s sizes: ``num_ids``, ``num_ngrams``, ``num_outputs``, ``order``.
        recurrent_weight, linear_weight: the blend, chosen on validation.
    """

    def __init__(
        self,
        recurrent: dict[str, Any],
        ngrams: dict[str, Any],
        recurrent_weight: float = 1.0,
        linear_weight: float = 1.0,
    ) -> None:
        super().__init__()
        settings = dict(recurrent)
        sizes = {k: settings.pop(k) for k in ("vocab_size", "num_classes", "padding")}
        self.recurrent = RecurrentClassifier(ModelSpec(**settings), **sizes)
        self.ngrams = NgramScorer(**ngrams)
        outputs = 1 if sizes["num_classes"] == 2 else sizes["num_classes"]
        if self.ngrams.bias.numel() != outputs:
            raise InvalidValueError(
                f"the n-gram part scores {self.ngrams.bias.numel()} outputs but the recurrent "
                f"part has {outputs}: both must score the same classes"
            )
        self.recurrent_weight = float(recurrent_weight)
        self.linear_weight = float(linear_weight)
        self.config: dict[str, Any] = {
            "recurrent": dict(recurrent),
            "ngrams": dict(ngrams),
            "recurrent_weight": self.recurrent_weight,
            "linear_weight": self.linear_weight,
        }

    @property
    def cuts_padding(self) -> str | None:
        """As the recurrent part's: the n-gram part reads real (non-zero) ids only."""
        return self.recurrent.cuts_padding

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        deep = self.recurrent(ids, lengths)
        if self.linear_weight == 0.0:
            return self.recurrent_weight * deep
        return self.recurrent_weight * deep + self.linear_weight * self.ngrams(ids)


def scorer_from_nbsvm(ngrams: Any, nbsvm: Any, beta: float, num_classes: int) -> NgramScorer:
    """The fitted `IdNgrams` + `NBSVM` (at ``beta``) as an `NgramScorer` with equal scores.

    A class the linear part never saw in training (one-vs-rest had no positives) scores
    ``ABSENT_CLASS_SCORE`` there, below any margin it learned.
    """
    w = nbsvm.weights_
    w = (1 - beta) * np.abs(w).mean(1, keepdims=True) + beta * w
    learned = (nbsvm.ratios_ * w).T  # (features, fitted outputs): ratio-scaled, interpolated
    normalized = nbsvm.weighting == "idf"
    if normalized:
        learned = learned * nbsvm.idf_[:, None]
    keys = np.asarray(ngrams.keys_, np.int64)
    n_uni, v = int(ngrams.num_unigrams_), int(ngrams.num_ids_)
    outputs = 1 if num_classes == 2 else num_classes
    weights = np.zeros((len(keys), outputs))
    bias = np.full(outputs, ABSENT_CLASS_SCORE)
    columns = [0] if outputs == 1 else [int(c) for c in nbsvm.classes_]
    intercept = np.asarray(nbsvm.intercept_, np.float64)
    if outputs > 1 and len(columns) == 2:
        # Only two of the classes seen (`classes=` names more): NBSVM fitted one score for
        # the second against the first; give the two columns + and - half of it.
        learned = np.c_[-learned / 2, learned / 2]
        intercept = np.r_[-intercept / 2, intercept / 2]
    weights[:, columns] = learned
    bias[columns] = intercept
    scorer = NgramScorer(
        num_ids=v,
        num_ngrams=len(keys) - n_uni,
        num_outputs=outputs,
        order=int(ngrams.order),
        normalized=normalized,
    )
    with torch.no_grad():
        if normalized:
            norms = torch.from_numpy(nbsvm.idf_**2).float()
            scorer.unigram_norms[torch.from_numpy(keys[:n_uni])] = norms[:n_uni]
            scorer.ngram_norms.copy_(norms[n_uni:])
        scorer.unigram_weights[torch.from_numpy(keys[:n_uni])] = torch.from_numpy(
            weights[:n_uni]
        ).float()
        scorer.ngram_keys.copy_(torch.from_numpy(keys[n_uni:]))
        scorer.ngram_weights.copy_(torch.from_numpy(weights[n_uni:]).float())
        scorer.bias.copy_(torch.from_numpy(bias).float())
    return scorer


ABSENT_CLASS_SCORE = -10.0
BLEND_GRID = tuple(round(0.1 * k, 1) for k in range(11))  # the linear part's share


def select_blend(
    deep: np.ndarray, linear: np.ndarray, y: np.ndarray, grid: Sequence[float] = BLEND_GRID
) -> dict[str, float]:
    """The blend of validation logits with the best validation accuracy.

    Both parts' logits are first brought to one scale (divided by their standard
    deviation on validation), then mixed ``(1 - share) * deep + share * linear`` and
    scaled by the temperature that fits their probabilities to validation best (log
    loss; it moves no prediction). Ties in accuracy go to the larger share of the linear
    part: the recurrent part chose its epoch on these same rows, so its validation
    accuracy flatters it, and a tie is no evidence that mixing it in helps.

    Returns ``share``, ``accuracy`` (on validation), ``recurrent_weight`` and ``linear_weight``.
    """
    deep, linear = np.asarray(deep, np.float64), np.asarray(linear, np.float64)
    y = np.asarray(y, np.int64)
    s_deep, s_linear = deep.std() or 1.0, linear.std() or 1.0

    def mixed(share: float) -> np.ndarray:
        return (1 - share) * deep / s_deep + share * linear / s_linear

    accuracy_of = {share: float((_predicted(mixed(share)) == y).mean()) for share in grid}
    # Ties in accuracy (a few hundred rows give many) go to the larger linear share.
    share = max(grid, key=lambda sh: (accuracy_of[sh], sh))
    accuracy, logits = accuracy_of[share], mixed(share)
    temperature = min(TEMPERATURES, key=lambda t: _log_loss(logits * t, y))
    return {
        "share": share,
        "accuracy": accuracy,
        "recurrent_weight": temperature * (1 - share) / s_deep,
        "linear_weight": temperature * share / s_linear,
    }


TEMPERATURES = tuple(2.0 ** (k / 2) for k in range(-8, 13))


def _predicted(logits: np.ndarray) -> np.ndarray:
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(1)


def _log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    if logits.shape[1] == 1:
        z = logits[:, 0]
        return float(np.mean(np.logaddexp(0, z) - y * z))
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())
