"""Experiment wiring: configs, data preparation, runs, evaluation and the reproduction report.

The three steps read like the IMDB tutorial's data / model / run classes::

    from rnnlab.experiments import build_model, load_config, prepare_data, resolve_config, run

    cfg = load_config(resolve_config("imdb/lstm"))
    data = prepare_data(cfg.data)
    result = run(cfg, data, build_model(cfg, data), seed=0)

The names load on first use, so `import rnnlab.experiments.config` (YAML and
dataclasses only) does not pull in torch, scikit-learn or matplotlib.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    **dict.fromkeys(
        (
            "ExperimentConfig",
            "DataConfig",
            "TrainConfig",
            "PublishedResult",
            "load_config",
            "apply_overrides",
            "dump_config",
        ),
        "rnnlab.experiments.config",
    ),
    "ModelSpec": "rnnlab.models.spec",
    **dict.fromkeys(
        (
            "PreparedData",
            "prepare_data",
            "read_text_splits",
            "corpus_name",
            "validation_rows",
        ),
        "rnnlab.experiments.prepare",
    ),
    **dict.fromkeys(
        (
            "build_model",
            "make_trainer",
            "run",
            "reproduce",
            "train_one",
            "finished_run",
            "validation_note",
            "fit_data",
            "model_kind",
        ),
        "rnnlab.experiments.runner",
    ),
    **dict.fromkeys(
        ("resolve_config", "shipped_configs", "reproduced_configs", "config_names"),
        "rnnlab.experiments.catalog",
    ),
    **dict.fromkeys(
        (
            "classification_metrics",
            "per_class_table",
            "confusion",
            "majority_baseline",
            "bag_of_words_baseline",
        ),
        "rnnlab.experiments.evaluation",
    ),
    **dict.fromkeys(("write_report", "summarize"), "rnnlab.experiments.report"),
    "strongest_linear_baseline": "rnnlab.experiments.baselines",
    "stratified_split": "rnnlab.experiments.splits",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnlab.experiments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
