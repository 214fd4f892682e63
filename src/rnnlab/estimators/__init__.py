"""scikit-learn estimators: `TextClassifier`, `SequenceClassifier`, `ModelClassifier`, and `load`.

All three follow the scikit-learn contract (clone, get_params / set_params,
Pipeline, GridSearchCV, cross_val_score) and route nested settings with
double underscores: ``SequenceClassifier(module__cell="gru", module__units=(64,),
optimizer__lr=1e-3)``. See docs/estimators.md.

>>> import rnnlab
>>> clf = rnnlab.SequenceClassifier(epochs=5, module__units=(64,))
>>> clf.get_params()["module__units"]
(64,)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab.estimators.base import REGISTRY, EstimatorBase
from rnnlab.estimators.model import ModelClassifier
from rnnlab.estimators.sequence import SequenceClassifier
from rnnlab.estimators.text import TextClassifier


def load(directory: str | Path, **params: Any) -> EstimatorBase:
    """Load any estimator saved with ``est.save(directory)``, as the class that saved it.

    Args:
        directory: the directory `save` wrote.
        **params: parameters JSON could not hold (``build_fn=`` for a
            ModelClassifier), or overrides (``device="cpu"``).

    Raises:
        ModelFileError: missing, truncated, tampered or incompatible files.
    """
    from rnnlab.estimators import persistence

    return persistence.load_estimator(directory, REGISTRY, None, params)


__all__ = ["ModelClassifier", "SequenceClassifier", "TextClassifier", "load"]
