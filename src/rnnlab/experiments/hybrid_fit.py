"""Fitting a `HybridClassifier`: NBSVM on the recurrent model's training rows, the blend on validation.

After the recurrent part is trained (and its best epoch restored on validation),
`fit_hybrid`:

1. reads each padded training row's real tokens (exactly what both parts see);
2. fits NBSVM's word n-grams on the rows the recurrent part trained on and
   chooses their order (uni+bigrams or up to trigrams), weighting (binary, or idf at
   unit length), C and beta by accuracy on
   the validation rows (by cross-validation over every training row when there are
   fewer than `CROSS_VALIDATE_BELOW` validation rows);
3. chooses the blend of the two parts' logits on the same validation rows
   (`rnnlab.models.hybrid.select_blend`), with that NBSVM;
4. refits NBSVM with the chosen settings on every training row, and keeps it.

The test set is never read. The recurrent part chose its epoch on the same
validation rows, which flatters it a little in the blend.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from rnnlab.engine.inference import class_probabilities, predict_logits
from rnnlab.errors import DataError
from rnnlab.experiments.baselines import (
    NBSVM,
    NBSVM_BETAS,
    NBSVM_C_GRIDS,
    NBSVM_WEIGHTINGS,
    IdNgrams,
)
from rnnlab.models.classifier import RecurrentClassifier
from rnnlab.models.hybrid import HybridClassifier, NgramScorer, scorer_from_nbsvm, select_blend


def row_tokens(x: np.ndarray) -> list[list[int]]:
    """The real (non-padding) ids of each padded row, in order."""
    return [row[row != 0].tolist() for row in np.asarray(x)]


NGRAM_ORDERS = (2, 3)  # uni+bigrams, or up to trigrams: validation chooses
# Below this many validation rows one row moves accuracy by more than 0.2 % and the grid's
# settings tie or flip by chance: the n-gram part's settings are then chosen by
# cross-validation over every training row (about 5x as many voters), not by those rows alone.
CROSS_VALIDATE_BELOW = 500
CV_FOLDS = 5
# Fewer training nonzeros than this (summed over orders and folds, times the weightings) fit
# faster in this process than worker processes start: the grid then runs here.
PARALLEL_ABOVE = 5_000_000


def fit_nbsvm(
    fit_docs: list[list[int]],
    y_fit: np.ndarray,
    val_docs: list[list[int]],
    y_val: np.ndarray,
    seed: int,
    min_df: int = 2,
    orders: Sequence[int] = NGRAM_ORDERS,
    cross_validate_below: int = CROSS_VALIDATE_BELOW,
    weightings: Sequence[str] = NBSVM_WEIGHTINGS,
) -> tuple[IdNgrams, NBSVM, dict[str, Any]]:
    """NBSVM fitted on ``fit_docs``, its n-gram order, weighting, C and beta chosen on held-out rows.

    The held-out rows are ``val_docs``; with fewer than ``cross_validate_below`` of them,
    each setting is scored instead by stratified `CV_FOLDS`-fold cross-validation over
    ``fit_docs`` and ``val_docs`` together (never the test set). Selection is by mean
    held-out accuracy; ties, common on a few hundred rows, go to the larger mean clipped
    margin (how surely the right class wins), not to the first setting of the grid;
    exact ties go to the lower order, binary weighting and the smaller C. The grid's fits
    are independent: on large corpora they run in as many processes as torch has threads
    (`PARALLEL_ABOVE`), with the same results as in one.
    """
    folds = _selection_folds(fit_docs, y_fit, val_docs, y_val, seed, cross_validate_below)
    settings, tasks, costs, nonzeros = [], [], [], 0
    fitted = {}  # order -> (n-grams, training counts) of ``fit_docs``, when it is a fold
    for order in orders:
        for docs_in, y_in, docs_out, y_out in folds:
            ngrams = IdNgrams(min_df=min_df, order=order)
            x_in = ngrams.fit_transform(docs_in)
            if x_in.shape[1] == 0:
                raise DataError(
                    f"no word or bigram occurs in {min_df} of the {len(docs_in)} training "
                    "documents: the hybrid model's linear part has no feature; use more data or "
                    "model_kind=recurrent"
                )
            if docs_in is fit_docs:
                fitted[order] = ngrams, x_in
            x_out = ngrams.transform(docs_out)
            nonzeros += x_in.nnz
            for weighting in weightings:
                for rank, c in enumerate(NBSVM_C_GRIDS[weighting]):
                    settings.append((order, weighting, c))
                    tasks.append(
                        delayed(_scores_by_beta)(x_in, y_in, x_out, y_out, weighting, c, seed)
                    )
                    costs.append(x_in.nnz * (1 + rank))  # the solver takes longer as C grows
    # One fit per setting and fold, each on its own: as many processes as training's threads,
    # the costliest first so that no long fit starts last; the results keep the grid's order.
    jobs = torch.get_num_threads() if nonzeros * len(weightings) >= PARALLEL_ABOVE else 1
    dispatch = np.argsort(costs, kind="stable")[::-1]
    results: list[Any] = [None] * len(tasks)
    for i, by_beta in zip(dispatch, Parallel(n_jobs=jobs)(tasks[i] for i in dispatch), strict=True):
        results[i] = by_beta
    scores: dict[tuple[int, str, float, float], list[tuple[float, float]]] = {}
    for (order, weighting, c), by_beta in zip(settings, results, strict=True):
        for beta, score in zip(NBSVM_BETAS, by_beta, strict=True):
            scores.setdefault((order, weighting, c, beta), []).append(score)
    # max() keeps the first of exact ties; the grid runs from the lower order, binary, smaller C.
    order, weighting, c, beta = max(scores, key=lambda k: tuple(np.mean(scores[k], axis=0)))
    if order not in fitted:
        ngrams = IdNgrams(min_df=min_df, order=order)
        fitted[order] = ngrams, ngrams.fit_transform(fit_docs)
    ngrams, x_fit = fitted[order]
    model = NBSVM(C=c, beta=beta, seed=seed, weighting=weighting).fit(x_fit, y_fit)
    # On the validation rows, as the blend sees it (fitted on ``fit_docs`` only) ...
    on_validation, _ = _accuracy_and_margin(model, ngrams.transform(val_docs), y_val, beta)
    info = {
        "order": order,
        "weighting": weighting,
        "C": c,
        "beta": beta,
        "validation_accuracy": on_validation,
        # ... and the mean held-out accuracy the setting was chosen by.
        "selection_accuracy": float(np.mean(scores[order, weighting, c, beta], axis=0)[0]),
        "selected_on": "validation"
        if len(folds) == 1
        else f"{len(folds)}-fold cross-validation over the training rows",
        "features": x_fit.shape[1],
    }
    return ngrams, model, info


def _selection_folds(
    fit_docs: list[list[int]],
    y_fit: np.ndarray,
    val_docs: list[list[int]],
    y_val: np.ndarray,
    seed: int,
    cross_validate_below: int,
) -> list[tuple[list[list[int]], np.ndarray, list[list[int]], np.ndarray]]:
    """``(train docs, labels, held-out docs, labels)`` for each round of the n-gram part's selection."""
    docs, y = [*fit_docs, *val_docs], np.r_[y_fit, y_val]
    counts = np.sort(np.unique(y, return_counts=True)[1])
    # Every fold's training rows must hold two classes at least: the second-largest class
    # bounds the number of folds.
    k = min(CV_FOLDS, int(counts[-2])) if len(counts) > 1 else 0
    if len(val_docs) >= cross_validate_below or k < 2:
        return [(fit_docs, y_fit, val_docs, y_val)]
    with warnings.catch_warnings():
        # Classes smaller than k are spread as far as they go; scikit-learn warns about them.
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(docs, y))
    return [
        ([docs[i] for i in train], y[train], [docs[i] for i in held], y[held])
        for train, held in splits
    ]


def _scores_by_beta(
    x_in: Any, y_in: np.ndarray, x_out: Any, y_out: np.ndarray, weighting: str, c: float, seed: int
) -> list[tuple[float, float]]:
    """Held-out (accuracy, margin) of NBSVM at ``c`` fitted on ``x_in``, for each beta."""
    model = NBSVM(C=c, seed=seed, weighting=weighting).fit(x_in, y_in)
    return [_accuracy_and_margin(model, x_out, y_out, beta) for beta in NBSVM_BETAS]


def _accuracy_and_margin(model: NBSVM, x: Any, y: np.ndarray, beta: float) -> tuple[float, float]:
    scores = model.decision_function(x, beta)
    if scores.ndim == 1:
        pred = model.classes_[(scores > 0).astype(np.int64)]
        margin = np.where(y == model.classes_[1], scores, -scores)
    else:
        columns = np.searchsorted(model.classes_, y)
        known = (columns < len(model.classes_)) & (
            model.classes_[columns.clip(max=len(model.classes_) - 1)] == y
        )
        own = np.where(known, scores[np.arange(len(y)), columns.clip(max=scores.shape[1] - 1)], -1)
        others = scores.copy()
        others[np.arange(len(y))[known], columns[known]] = -np.inf
        margin = own - others.max(1)
        pred = model.classes_[scores.argmax(1)]
    return float((pred == y).mean()), float(np.clip(margin, -1, 1).mean())


def fit_hybrid(
    recurrent: RecurrentClassifier,
    fit: tuple[np.ndarray, np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray, np.ndarray],
    seed: int = 0,
    min_df: int = 2,
    orders: Sequence[int] = NGRAM_ORDERS,
    weightings: Sequence[str] = NBSVM_WEIGHTINGS,
) -> tuple[HybridClassifier, dict[str, Any]]:
    """The trained ``recurrent`` model and an NBSVM, blended on validation.

    Args:
        recurrent: the trained recurrent part (its weights are copied, not retrained).
        fit, validation: ``(ids, lengths, labels)`` of the rows the recurrent part
            trained on and of the validation rows.

    Returns:
        The `HybridClassifier` and what was chosen: the linear part's n-gram ``order``,
        ``weighting``, ``C``, ``beta`` and validation accuracy, the blend's ``share`` of the linear part, its
        validation accuracy, and the seconds the linear part and the blend took.
    """
    start = time.perf_counter()
    (x_fit, _, y_fit), (x_val, len_val, y_val) = fit, validation
    y_fit, y_val = np.asarray(y_fit, np.int64), np.asarray(y_val, np.int64)
    if len(y_val) == 0:
        raise DataError("the hybrid model chooses its blend on validation rows: give some")
    fit_docs, val_docs = row_tokens(x_fit), row_tokens(x_val)
    ngrams, nbsvm, linear = fit_nbsvm(
        fit_docs, y_fit, val_docs, y_val, seed, min_df=min_df, orders=orders, weightings=weightings
    )
    num_classes = int(recurrent.config["num_classes"])
    if num_classes == 2 and len(np.unique(y_fit)) < 2:
        raise DataError("the hybrid model's linear part needs both classes in its training rows")
    # The blend is chosen with the linear part that has not seen the validation rows ...
    scorer = scorer_from_nbsvm(ngrams, nbsvm, linear["beta"], num_classes)
    ids_val = torch.as_tensor(np.asarray(x_val), dtype=torch.int64)
    deep = predict_logits(recurrent, (ids_val, torch.as_tensor(len_val)), batch_size=256)
    wide = _ngram_scores(scorer, x_val)
    blend = select_blend(deep, wide, y_val)
    # ... and the model keeps one refitted on every training row with the chosen settings.
    ngrams = IdNgrams(min_df=min_df, order=linear["order"])
    x_all = ngrams.fit_transform([*fit_docs, *val_docs])
    nbsvm = NBSVM(C=linear["C"], beta=linear["beta"], seed=seed, weighting=linear["weighting"]).fit(
        x_all, np.r_[y_fit, y_val]
    )
    scorer = scorer_from_nbsvm(ngrams, nbsvm, linear["beta"], num_classes)
    hybrid = HybridClassifier(
        recurrent=recurrent.config,
        ngrams={
            "num_ids": scorer.num_ids,
            "num_ngrams": int(scorer.ngram_keys.numel()),
            "num_outputs": int(scorer.bias.numel()),
            "order": scorer.order,
            "normalized": scorer.normalized,
        },
        recurrent_weight=blend["recurrent_weight"],
        linear_weight=blend["linear_weight"],
    )
    hybrid.recurrent.load_state_dict(recurrent.state_dict())
    hybrid.ngrams.load_state_dict(scorer.state_dict())
    hybrid.eval()
    info = {
        "linear": linear,
        "blend_share": blend["share"],
        "blend_validation_accuracy": blend["accuracy"],
        "seconds": time.perf_counter() - start,
    }
    return hybrid, info


def ngram_part_predictions(hybrid: HybridClassifier, ids: np.ndarray) -> np.ndarray:
    """The class each padded row gets from the hybrid's n-gram part alone (NBSVM, refitted)."""
    return class_probabilities(_ngram_scores(hybrid.ngrams, ids)).argmax(1)


def _ngram_scores(scorer: NgramScorer, ids: np.ndarray) -> np.ndarray:
    """``scorer``'s (rows, outputs) scores of padded ``ids``, 256 rows at a time."""
    rows = torch.as_tensor(np.asarray(ids), dtype=torch.int64).split(256)
    with torch.no_grad():
        return torch.cat([scorer(b.to(scorer.bias.device)).cpu() for b in rows]).numpy()
