"""The scikit-learn contract: estimator checks, clone, params routing, Pipeline, grid search, CV.

Checks that cannot apply, and why (``expected_failed_checks`` below):

- check_do_not_raise_errors_in_init_or_set_params (Sequence- and ModelClassifier):
  the check derives parameter names from the ``__init__`` signature, which for
  an estimator with routed ``**kwargs`` includes the literal name ``kwargs``,
  and passes ``set_params(kwargs=...)``. rnnlab refuses unknown names in
  ``set_params`` at once, with a suggestion (as ``BaseEstimator.set_params``
  does), so that call raises. The rest of the check (no error in ``__init__``
  or ``set_params`` for odd *values*) is run by `test_no_errors_in_init_or_set_params`.
- TextClassifier: its input is raw strings, so it declares
  ``input_tags.two_d_array=False, string=True`` and scikit-learn runs none of
  its array-based checks on it (only ``check_estimator_cloneable``). The
  checks that do not depend on the input type are run on it directly in
  `test_text_classifier_api_checks`; its fit/predict behaviour on text is
  tested in test_text_classifier.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnlab import ModelClassifier, SequenceClassifier, TextClassifier
from rnnlab.errors import ConfigError
from rnnlab.models import RecurrentClassifier

# A build_fn that scikit-learn can clone and pickle: it learns num_classes from fit.
TINY_RNN = functools.partial(RecurrentClassifier, vocab_size=1, input="raw", units=(8,))
FAST = {"epochs": 6, "batch_size": 16, "lr": 0.02, "random_state": 0}

ESTIMATORS = [
    SequenceClassifier(module__units=(8,), module__embedding_dim=4, **FAST),
    ModelClassifier(TINY_RNN, **FAST),
    TextClassifier(module__units=(8,), module__embedding_dim=4, **FAST),
]

_ROUTED_KWARGS = (
    "the check passes set_params(kwargs=...), the name of the **kwargs of __init__; rnnlab "
    "refuses unknown parameter names at set_params time (see the module docstring)"
)


def expected_failed_checks(estimator):
    if isinstance(estimator, (SequenceClassifier, ModelClassifier)):
        return {"check_do_not_raise_errors_in_init_or_set_params": _ROUTED_KWARGS}
    return {}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [SequenceClassifier, ModelClassifier, TextClassifier])
def test_no_errors_in_init_or_set_params(cls):
    # check_do_not_raise_errors_in_init_or_set_params without the `kwargs` pseudo-name.
    names = cls._get_param_names()
    for value in [-1, 3.0, "helloworld", np.array([1.0, 4.0]), [1], {}, []]:
        params = {k: value for k in names}
        est = cls(**params)
        est.set_params(**params)
        assert est.get_params()["epochs"] is value


@pytest.mark.parametrize(
    "check",
    [
        ec.check_no_attributes_set_in_init,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_parameters_default_constructible,
        ec.check_estimator_repr,
        ec.check_estimator_cloneable,
        ec.check_estimator_tags_renamed,
        ec.check_valid_tag_types,
        ec.check_mixin_order,
        ec.check_estimators_unfitted,
    ],
    ids=lambda c: c.__name__,
)
def test_text_classifier_api_checks(check):
    check("TextClassifier", TextClassifier(module__units=(4,), epochs=1))


def test_text_classifier_declares_string_input():
    tags = TextClassifier().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array


# ---------------------------------------------------------------- params routing


def test_module_params_in_get_params_and_clone():
    est = SequenceClassifier(epochs=3, module__units=(64,), module__cell="gru", optimizer__eps=1e-8)
    params = est.get_params(deep=True)
    assert params["module__units"] == (64,) and params["module__cell"] == "gru"
    assert params["optimizer__eps"] == 1e-8 and params["epochs"] == 3
    assert est.module__units == (64,)
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert "module__units=(64,)" in repr(est)


def test_set_params_routes_and_returns_self():
    est = SequenceClassifier()
    assert est.set_params(module__units=(4,), epochs=2, optimizer__weight_decay=0.1) is est
    assert est.get_params()["module__units"] == (4,) and est.epochs == 2
    assert est.get_params()["optimizer__weight_decay"] == 0.1


@pytest.mark.parametrize(
    "name, hint",
    [
        ("epoch", "did you mean `epochs`?"),
        ("module__unit", "did you mean `module__units`?"),
        ("modul__units", "did you mean `module__units`?"),
        ("optimizer__betas2", "did you mean `optimizer__betas`?"),
        ("module__bogus", "`module__bogus`: `bogus` is not a setting of `module`"),
    ],
)
def test_unknown_param_name_suggests(name, hint):
    with pytest.raises(ConfigError, match="valid parameters: batch_size") as info:
        SequenceClassifier().set_params(**{name: 1})
    assert hint in str(info.value)


def test_owned_module_args_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match="`module__num_classes` cannot be set: it is the number"):
        SequenceClassifier().set_params(module__num_classes=3)
    with pytest.raises(ConfigError, match="`module__input` cannot be set: a TextClassifier"):
        TextClassifier().set_params(module__input="raw")


def test_unknown_constructor_param_fails_at_fit():
    est = SequenceClassifier(epoch=2)  # __init__ only stores
    assert est.get_params()["epoch"] == 2
    with pytest.raises(ConfigError, match="did you mean `epochs`"):
        est.fit([[1, 2], [3, 4]], [0, 1])


def test_owned_module_args_are_refused_at_fit():
    with pytest.raises(ConfigError, match="`module__padding` cannot be set"):
        SequenceClassifier(module__padding="post").fit([[1, 2], [3, 4]], [0, 1])


def test_model_classifier_routes_build_fn_names():
    est = ModelClassifier(TINY_RNN)
    est.set_params(module__cell="gru", build_fn__dropout=0.1)
    with pytest.raises(ConfigError, match="did you mean `module__cell`"):
        est.set_params(module__cel="gru")


# ------------------------------------------------------- meta-estimators


def _sequences(n=40, seed=0):
    """Class 1 sequences contain token 7, class 0 ones do not."""
    rng = np.random.RandomState(seed)
    X, y = [], []
    for i in range(n):
        seq = list(rng.randint(1, 7, size=rng.randint(3, 7)))
        if i % 2:
            seq[rng.randint(len(seq))] = 7
        X.append(seq)
        y.append(i % 2)
    return X, np.array(y)


def test_grid_search_over_module_units():
    X, y = _sequences()
    est = SequenceClassifier(epochs=1, batch_size=8, module__embedding_dim=4, random_state=0)
    grid = GridSearchCV(est, {"module__units": [(4,), (8,)]}, cv=2, error_score="raise")
    grid.fit(X, y)
    assert grid.best_params_["module__units"] in [(4,), (8,)]
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.best_estimator_.module_config_["units"] == list(grid.best_params_["module__units"])


def test_cross_val_score():
    X, y = _sequences()
    est = SequenceClassifier(
        epochs=1, batch_size=8, module__units=(4,), module__embedding_dim=4, random_state=0
    )
    scores = cross_val_score(est, X, y, cv=2, error_score="raise")
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()


def test_pipeline_function_transformer_before_sequence_classifier():
    # A transformer in front: word lists -> ids; the classifier sees ragged id lists.
    words = {"a": 1, "b": 2, "c": 3, "z": 4}
    X = [["a", "b"], ["z", "c", "a"], ["b"], ["z"], ["a", "c", "b"], ["z", "z"]] * 3
    y = [0, 1, 0, 1, 0, 1] * 3
    to_ids = FunctionTransformer(lambda docs: [[words[w] for w in d] for d in docs])
    pipe = make_pipeline(
        to_ids,
        SequenceClassifier(
            epochs=2, batch_size=6, module__units=(4,), module__embedding_dim=4, random_state=0
        ),
    )
    pipe.set_params(sequenceclassifier__module__units=(6,))
    pipe.fit(X, y)
    assert pipe[-1].module_config_["units"] == [6]
    assert pipe.predict([["z", "a"]]).shape == (1,)
    assert 0 <= pipe.score(X, y) <= 1


def test_pipeline_with_text_classifier_and_grid_search():
    texts = ["good film", "bad film", "good fun", "bad dull", "fun good", "dull bad"] * 2
    y = ["pos", "neg"] * 6
    pipe = make_pipeline(
        FunctionTransformer(lambda t: [s.replace("!", "") for s in t]),
        TextClassifier(
            epochs=1, batch_size=4, module__units=(4,), module__embedding_dim=4, random_state=0
        ),
    )
    grid = GridSearchCV(
        pipe, {"textclassifier__module__cell": ["lstm", "gru"]}, cv=2, error_score="raise"
    )
    grid.fit(texts, y)
    assert set(grid.predict(["good!", "bad"])) <= {"pos", "neg"}
