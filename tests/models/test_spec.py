"""One model spec: the config's model section, the classifier's settings and the estimators' routes."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.estimators.recurrent import RecurrentEstimator
from rnnlab.experiments.config import ExperimentConfig, apply_overrides
from rnnlab.models import ModelSpec, RecurrentClassifier

DATA_GIVEN = {"vocab_size", "num_classes", "padding"}


def test_config_model_section_and_constructor_carry_the_same_fields_and_defaults():
    config_type = {f.name: f for f in dataclasses.fields(ExperimentConfig)}["model"].type
    assert config_type in (ModelSpec, "ModelSpec")
    params = inspect.signature(RecurrentClassifier).parameters
    assert set(params) - DATA_GIVEN == set(ModelSpec.field_names())
    for f in dataclasses.fields(ModelSpec):
        assert params[f.name].default == f.default, f.name


def test_every_spec_field_set_in_a_config_reaches_the_module():
    changed = {
        "cell": "gru",
        "input": "embedding",
        "embedding_dim": 6,
        "units": [5, 3],
        "bidirectional": True,
        "dropout": 0.1,
        "recurrent_dropout": 0.2,
        "mask": True,
        "output_dropout": 0.3,
        "pooling": "max",
    }
    assert set(changed) == set(ModelSpec.field_names())  # a new field must be added here
    defaults = ModelSpec()
    assert all(
        getattr(defaults, k) != (tuple(v) if isinstance(v, list) else v)
        for k, v in changed.items()
        if k != "input"
    )
    cfg = apply_overrides(ExperimentConfig(), [f"model.{k}={v}" for k, v in changed.items()])
    model = RecurrentClassifier(cfg.model, vocab_size=30, num_classes=4, padding="pre")
    assert model.spec == cfg.model
    assert {k: model.config[k] for k in changed} == changed
    assert model.embedding.weight.shape == (30, 6) and model.head.in_features == 6
    assert model.head.out_features == 4 and model.recurrent[1].forward_layer.cell.dropout == 0.1
    rebuilt = RecurrentClassifier(**model.config)
    assert rebuilt.config == model.config
    assert rebuilt(torch.randint(1, 30, (2, 4)), torch.tensor([4, 2])).shape == (2, 4)


def test_the_spec_checks_its_fields_once_for_configs_constructors_and_estimators():
    with pytest.raises(ConfigError, match=r"`model.pooling` must be one of 'last', 'max', 'mean'"):
        ExperimentConfig.from_dict({"model": {"pooling": "top"}})
    with pytest.raises(ValueError, match=r"`pooling` must be one of 'last', 'max', 'mean'"):
        RecurrentClassifier(vocab_size=3, num_classes=2, pooling="top")
    with pytest.raises(TypeError, match=r"unexpected argument `unit` \(did you mean `units`\?\)"):
        RecurrentClassifier(vocab_size=3, num_classes=2, unit=4)
    routed = RecurrentEstimator._routed_names(
        RecurrentEstimator.__new__(RecurrentEstimator), "module"
    )
    assert set(routed) == set(ModelSpec.field_names())
