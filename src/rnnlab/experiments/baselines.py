"""The strongest linear baseline: tf-idf word uni+bigrams, a linear SVM, logistic regression and NBSVM.

What a recurrent model has to beat is not a weak bag of words but what a few lines of
scikit-learn give. On the training part only:

- features: word unigrams and bigrams (over token ids: id ``12`` then id ``45`` is the
  bigram ``"12 45"``), kept when they occur in at least 2 training documents, tf-idf with
  sublinear tf (SVM, logistic regression) or binarized (NBSVM);
- models: `LinearSVC`, `LogisticRegression` (liblinear, one-vs-rest for many classes) and
  NBSVM (Wang & Manning 2012: a linear SVM on binarized n-grams scaled by their
  log-count ratio, its weights interpolated towards their mean magnitude by ``beta``);
- selection: C (and NBSVM's beta) by accuracy on a stratified, seeded validation split
  of the training part; then each model is refitted on the whole training part with its
  chosen settings and scored once on the test set. The baseline's line is the model
  strongest on VALIDATION, never the best on test.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from rnnlab.errors import DataError, InvalidValueError, check_choice
from rnnlab.experiments.evaluation import classification_metrics
from rnnlab.experiments.splits import stratified_split
from rnnlab.models.ngram_keys import check_key_range, check_order, ngram_offsets

MODELS = ("svm", "logreg", "nbsvm")  # also the order that breaks ties on validation
# C grids around each model's usual optimum: tf-idf rows have unit norm, so an SVM wants
# C near 1 and logistic regression C near 10; NBSVM's scaled binary rows have norms in
# the tens, so its C is smaller (the 46 Reuters topics choose 0.001, so 0.0003 is there
# to show the optimum is inside the grid).
GRIDS: dict[str, tuple[float, ...]] = {
    "svm": (0.1, 0.3, 1.0, 3.0),
    "logreg": (1.0, 10.0, 100.0),
    "nbsvm": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
}
# NBSVM's interpolation: the paper uses 0.25; refitting is not needed to try others.
NBSVM_BETAS = (0.25, 0.5, 1.0)
NBSVM_WEIGHTINGS = ("binary", "idf")
# Unit-length idf rows are far shorter than binary ones scaled by ratios: C near 1.
NBSVM_C_GRIDS = {"binary": GRIDS["nbsvm"], "idf": (0.3, 1.0, 3.0, 10.0)}
VALIDATION_FRACTION = 0.2
MIN_DF = 2


def _id_arrays(docs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, document index of each id) of a list of token-id documents."""
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    # One pass over the Python ints: three times faster than an array per document.
    flat = np.fromiter(itertools.chain.from_iterable(docs), np.int64, int(lengths.sum()))
    return flat, np.repeat(np.arange(len(docs)), lengths)


class IdNgrams:
    """Word n-gram counts (uni+bigrams by default) of token-id documents; fitted on training documents.

    The same features as ``CountVectorizer(ngram_range=(1, order), min_df=2,
    token_pattern=r"\\S+")`` over the ids joined by spaces, computed on integer keys
    (`rnnlab.models.ngram_keys`) instead of strings, so 25,000 IMDB reviews take
    seconds rather than a minute.

    >>> ngrams = IdNgrams().fit([[5, 6, 7], [5, 6], [7, 8]])
    >>> ngrams.feature_names()
    ['5', '6', '7', '5 6']
    >>> ngrams.transform([[5, 6, 5, 6, 9]]).toarray().tolist()
    [[2.0, 2.0, 0.0, 2.0]]
    >>> IdNgrams(order=3).fit([[5, 6, 7], [5, 6, 7, 8]]).feature_names()
    ['5', '6', '7', '5 6', '6 7', '5 6 7']
    """

    def __init__(self, min_df: int = MIN_DF, order: int = 2):
        self.min_df, self.order = min_df, check_order(order)

    def _keys(self, docs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """(document index, key) of every n-gram, unigrams first.

        N-grams holding an id the fit never saw (>= V) are dropped: their keys would alias.
        """
        v = self.num_ids_
        flat, rows = _id_arrays(docs)
        known = flat < v
        all_rows, all_keys = [rows[known]], [flat[known]]
        for n, offset in enumerate(ngram_offsets(v, self.order)[1:], start=2):
            span = len(flat) - n + 1
            if span <= 0:
                break
            ok = (rows[n - 1 :] == rows[:span]) & known[:span]
            key = flat[:span].copy()
            for k in range(1, n):
                ok &= known[k : k + span]
                key = key * v + flat[k : k + span]
            all_rows.append(rows[:span][ok])
            all_keys.append(offset + key[ok])
        return np.concatenate(all_rows), np.concatenate(all_keys)

    def _raw_counts(self, docs: Sequence[Sequence[int]]) -> sparse.csr_matrix:
        """Counts with the n-gram keys as columns, one entry per (document, n-gram) seen."""
        rows, keys = self._keys(docs)
        v = self.num_ids_
        width = ngram_offsets(v, self.order + 1)[-1]  # every key of this order is below
        counts = sparse.coo_matrix(
            (np.ones(len(keys)), (rows, keys)), shape=(len(docs), width)
        ).tocsr()
        counts.sum_duplicates()  # also sorts each row's keys
        return counts

    def _fitted_columns(self, raw: sparse.csr_matrix) -> sparse.csr_matrix:
        """``raw`` restricted to the fitted n-grams, each key replaced by its column."""
        keys, n_uni = raw.indices.astype(np.int64), self.num_unigrams_
        columns = np.full(len(keys), -1, dtype=np.int64)
        # Unigrams through a table (ids are small); longer n-grams by binary search in the sorted keys.
        table = np.full(self.num_ids_, -1, dtype=np.int64)
        table[self.keys_[:n_uni]] = np.arange(n_uni)
        uni = keys < self.num_ids_
        columns[uni] = table[keys[uni]]
        longer, long_keys = self.keys_[n_uni:], keys[~uni]
        found = np.searchsorted(longer, long_keys)
        found[found == len(longer)] = 0
        hit = longer[found] == long_keys if len(longer) else np.zeros(len(long_keys), bool)
        columns[~uni] = np.where(hit, n_uni + found, -1)
        keep = columns >= 0
        n = raw.shape[0]
        rows = np.repeat(np.arange(n), np.diff(raw.indptr))
        indptr = np.r_[0, np.cumsum(np.bincount(rows[keep], minlength=n))]
        # Columns rise with the keys, so each row stays sorted.
        return sparse.csr_matrix(
            (raw.data[keep], columns[keep], indptr), shape=(n, len(self.keys_))
        )

    def _fit_raw(self, docs: Sequence[Sequence[int]]) -> sparse.csr_matrix:
        flat, _ = _id_arrays(docs)
        self.num_ids_ = int(flat.max()) + 1 if len(flat) else 1
        check_key_range(self.num_ids_, self.order)
        raw = self._raw_counts(docs)
        seen = np.sort(raw.indices)  # one entry per (document, n-gram): these count documents
        starts = np.flatnonzero(np.r_[True, seen[1:] != seen[:-1]]) if len(seen) else seen
        df = np.diff(np.r_[starts, len(seen)])
        self.keys_ = seen[starts][df >= self.min_df].astype(np.int64)  # unigrams, then bigrams
        self.num_unigrams_ = int(np.searchsorted(self.keys_, self.num_ids_))
        return raw

    def fit(self, docs: Sequence[Sequence[int]]) -> IdNgrams:
        self._fit_raw(docs)
        return self

    def transform(self, docs: Sequence[Sequence[int]]) -> sparse.csr_matrix:
        """(n, features) float64 counts; n-grams not fitted are dropped."""
        return self._fitted_columns(self._raw_counts(docs))

    def fit_transform(self, docs: Sequence[Sequence[int]]) -> sparse.csr_matrix:
        return self._fitted_columns(self._fit_raw(docs))

    def feature_names(self) -> list[str]:
        v, offsets = self.num_ids_, ngram_offsets(self.num_ids_, self.order)
        names = []
        for key in self.keys_.tolist():
            n = int(np.searchsorted(offsets, key, side="right"))
            rest, ids = key - offsets[n - 1], []
            for _ in range(n):
                rest, last = divmod(rest, v)
                ids.append(last)
            names.append(" ".join(map(str, reversed(ids))))
        return names


class NBSVM:
    """Wang & Manning's (2012) NBSVM: a linear SVM on binarized n-grams scaled by log-count ratios.

    For each class (one-vs-rest; one classifier for two classes), with ``p`` and ``q``
    the smoothed (``alpha``) feature counts of its documents and of the others, the
    features are scaled by ``r = log((p / |p|_1) / (q / |q|_1))``, an L2-regularised
    squared-hinge SVM is fitted on them, and its weights are interpolated
    ``w' = (1 - beta) * mean(|w|) + beta * w``. ``beta`` only changes the weights
    afterwards, so `predict` takes it and one fit serves every beta.

    ``weighting="idf"`` scales each binarized row by the features' smoothed inverse
    document frequencies and to unit length (scikit-learn's ``TfidfTransformer`` over
    binary counts) before the ratios: long documents no longer get larger scores for
    their length alone, and rare n-grams weigh more. Its C is on another scale
    (`NBSVM_C_GRIDS`).
    """

    def __init__(
        self,
        C: float = 1.0,
        beta: float = 0.25,
        alpha: float = 1.0,
        seed: int = 0,
        weighting: str = "binary",
    ):
        check_choice("weighting", weighting, NBSVM_WEIGHTINGS)
        self.C, self.beta, self.alpha, self.seed = C, beta, alpha, seed
        self.weighting = weighting

    def _weighted(self, binary: sparse.csr_matrix) -> sparse.csr_matrix:
        if self.weighting == "binary":
            return binary
        return normalize(binary @ sparse.diags(self.idf_))

    def fit(self, x: sparse.csr_matrix, y: np.ndarray) -> NBSVM:
        binary = (x > 0).astype(np.float64)
        # The ratios come from the binary counts either way; ``weighting`` changes the rows.
        documents = binary.shape[0]
        self.idf_ = np.log((1 + documents) / (1 + np.asarray(binary.sum(0)).ravel())) + 1
        x = self._weighted(binary)
        self.classes_ = np.unique(y)
        positives = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        ratios, weights, bias = [], [], []
        self.converged_ = True
        for c in positives:
            p = self.alpha + np.asarray(binary[y == c].sum(0)).ravel()
            q = self.alpha + np.asarray(binary[y != c].sum(0)).ravel()
            r = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(C=self.C, dual=True, random_state=self.seed, max_iter=2000)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                svm.fit(x @ sparse.diags(r), (y == c).astype(np.int64))
            self.converged_ &= not any(w.category is ConvergenceWarning for w in caught)
            ratios.append(r)
            weights.append(svm.coef_.ravel())
            bias.append(svm.intercept_[0])
        self.ratios_, self.weights_ = np.array(ratios), np.array(weights)
        self.intercept_ = np.array(bias)
        return self

    def decision_function(self, x: sparse.csr_matrix, beta: float | None = None) -> np.ndarray:
        beta = self.beta if beta is None else beta
        w = self.weights_
        w = (1 - beta) * np.abs(w).mean(1, keepdims=True) + beta * w
        x = self._weighted((x > 0).astype(np.float64))
        scores = x @ (self.ratios_ * w).T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, x: sparse.csr_matrix, beta: float | None = None) -> np.ndarray:
        scores = self.decision_function(x, beta)
        if len(self.classes_) == 2:
            return self.classes_[(scores > 0).astype(np.int64)]
        return self.classes_[scores.argmax(1)]


def _make(model: str, c: float, seed: int, num_classes: int) -> Any:
    if model == "svm":
        # Dual: n-gram features far outnumber documents.
        return LinearSVC(C=c, dual=True, random_state=seed, max_iter=2000)
    if model == "logreg":
        # liblinear's dual solver, one-vs-rest: multinomial lbfgs took 5 minutes on the 46
        # Reuters topics at C=10 where this takes 15 s, for the same accuracy. At C=100 it
        # still wants minutes there; 100 passes (scikit-learn's default) give the same
        # validation accuracy, and `converged` says when they stopped it.
        logreg = LogisticRegression(
            C=c, solver="liblinear", dual=True, random_state=seed, max_iter=100
        )
        return logreg if num_classes <= 2 else OneVsRestClassifier(logreg)
    return NBSVM(C=c, seed=seed)


class _Features:
    """The features of one (training, evaluation) pair: n-grams and tf-idf fitted on training."""

    def __init__(self, train_docs, eval_docs):
        start = time.perf_counter()
        ngrams = IdNgrams()
        self.train_counts = ngrams.fit_transform(train_docs)
        if self.train_counts.shape[1] == 0:
            raise DataError(
                f"no word or bigram occurs in {MIN_DF} of the {len(train_docs)} training "
                "documents: the linear baseline has no feature; use more training data"
            )
        self.eval_counts = ngrams.transform(eval_docs)
        tfidf = TfidfTransformer(sublinear_tf=True)
        self.train_tfidf = tfidf.fit_transform(self.train_counts)
        self.eval_tfidf = tfidf.transform(self.eval_counts)
        self.num_features = self.train_counts.shape[1]
        self.seconds = time.perf_counter() - start

    def pair(self, model: str) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        if model == "nbsvm":  # NBSVM binarizes the counts itself
            return self.train_counts, self.eval_counts
        return self.train_tfidf, self.eval_tfidf


def _fit(model: str, c: float, seed: int, x, y, num_classes: int) -> tuple[Any, bool]:
    """The fitted model and whether its solver converged."""
    estimator = _make(model, c, seed, num_classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(x, y)
    converged = not any(w.category is ConvergenceWarning for w in caught)
    return estimator, converged and getattr(estimator, "converged_", True)


def _select(model: str, features: _Features, y_fit, y_val, seed: int, num_classes: int):
    """(C, beta or None, validation accuracy): the first best on the grid, smaller C first."""
    x_fit, x_val = features.pair(model)
    best: tuple[float, float, float | None] = (-1.0, 0.0, None)
    for c in GRIDS[model]:
        estimator, _ = _fit(model, c, seed, x_fit, y_fit, num_classes)
        for beta in NBSVM_BETAS if model == "nbsvm" else (None,):
            pred = estimator.predict(x_val, beta) if beta is not None else estimator.predict(x_val)
            accuracy = float((pred == y_val).mean())
            if accuracy > best[0]:
                best = (accuracy, c, beta)
    return best[1], best[2], best[0]


def _as_ids(train_docs, test_docs):
    """Token-id documents as they are; raw texts through rnnlab's tokenizer and a vocabulary
    fitted on the training texts only."""
    texts = [isinstance(d, str) for d in (*train_docs[:1], *test_docs[:1])]
    if not any(texts):
        return train_docs, test_docs
    from rnnlab.data.tokenize import Tokenizer
    from rnnlab.data.vocab import Vocabulary

    vocab = Vocabulary.fit(train_docs, tokenizer=Tokenizer())
    return vocab.encode(train_docs), vocab.encode(test_docs)


def strongest_linear_baseline(
    train_docs: Sequence[Sequence[int]] | Sequence[str],
    y_train: Sequence[int] | np.ndarray,
    test_docs: Sequence[Sequence[int]] | Sequence[str],
    y_test: Sequence[int] | np.ndarray,
    seed: int = 0,
    models: Sequence[str] = MODELS,
    validation_fraction: float = VALIDATION_FRACTION,
) -> dict[str, Any]:
    """Fit every model on the training part, select on validation, score once on test.

    Args:
        train_docs, test_docs: token-id lists (the unpadded ids a network sees, e.g.
            `PreparedData.seq_train`), or raw texts (tokenized with rnnlab's Keras rule).
        y_train, y_test: class indices.
        seed: draws the validation split and seeds the solvers.
        models: some of ``"svm"``, ``"logreg"``, ``"nbsvm"``.
        validation_fraction: the share of the training part held out to choose C.

    Returns:
        The line to report, the model strongest on validation: ``model``, ``C``,
        ``beta`` (NBSVM), ``validation_accuracy``, test ``accuracy`` and ``macro_f1``,
        ``seconds`` (features, fit and predict on the whole training part and the test
        set); under ``models`` the same for every model (with ``selection_seconds`` and
        ``converged``); ``validation`` (the split) and ``features`` (n-grams kept).
    """
    models = tuple(models)
    if not models:
        raise InvalidValueError("`models` must name at least one of " + ", ".join(MODELS))
    for model in models:
        check_choice("models", model, MODELS)
    train_docs, test_docs = _as_ids(list(train_docs), list(test_docs))
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    if len(train_docs) != len(y_train) or len(test_docs) != len(y_test):
        raise DataError(
            f"{len(train_docs)} training and {len(test_docs)} test documents but "
            f"{len(y_train)} and {len(y_test)} labels: pass one label per document"
        )
    num_classes = len(np.unique(y_train))
    if num_classes < 2:
        raise DataError(
            f"the training labels hold {num_classes} class: a classifier needs at least 2"
        )
    fit_rows, val_rows = stratified_split(
        y_train, validation_fraction, seed, name="validation_fraction"
    )
    selection = _Features([train_docs[i] for i in fit_rows], [train_docs[i] for i in val_rows])
    final = _Features(train_docs, test_docs)
    report: dict[str, dict[str, Any]] = {}
    for model in models:
        start = time.perf_counter()
        c, beta, val_accuracy = _select(
            model, selection, y_train[fit_rows], y_train[val_rows], seed, num_classes
        )
        selection_seconds = selection.seconds + time.perf_counter() - start
        start = time.perf_counter()
        x_train, x_test = final.pair(model)
        estimator, converged = _fit(model, c, seed, x_train, y_train, num_classes)
        pred = estimator.predict(x_test, beta) if beta is not None else estimator.predict(x_test)
        seconds = final.seconds + time.perf_counter() - start
        report[model] = {
            "C": c,
            **({"beta": beta} if model == "nbsvm" else {}),
            "validation_accuracy": val_accuracy,
            **classification_metrics(y_test, pred),
            "seconds": seconds,
            "selection_seconds": selection_seconds,
            "converged": converged,
        }
    chosen = max(models, key=lambda m: (report[m]["validation_accuracy"], -models.index(m)))
    return {
        "model": chosen,
        **{k: v for k, v in report[chosen].items() if k != "selection_seconds"},
        "selected_on": "validation accuracy",
        "models": report,
        "validation": {
            "fraction": validation_fraction,
            "seed": seed,
            "train": int(len(fit_rows)),
            "validation": int(len(val_rows)),
        },
        "features": int(final.num_features),
    }


def settings(line: dict[str, Any]) -> str:
    """'C=0.3', or 'C=0.01 beta=0.25' for NBSVM: the settings chosen on validation."""
    text = f"C={line['C']:g}"
    return text + (f" beta={line['beta']:g}" if line.get("beta") is not None else "")


def describe(line: dict[str, Any]) -> str:
    """'svm C=0.3' or 'nbsvm C=0.01 beta=0.25': the selected model and its settings."""
    return f"{line['model']} {settings(line)}"


__all__ = [
    "GRIDS",
    "MODELS",
    "NBSVM",
    "IdNgrams",
    "describe",
    "settings",
    "strongest_linear_baseline",
]
