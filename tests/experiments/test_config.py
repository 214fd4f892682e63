"""Config loading: types checked, unknown keys suggested, overrides dotted."""

import pytest

from rnnlab.errors import ConfigError, DataFileError
from rnnlab.experiments.config import ExperimentConfig, apply_overrides, load_config


def test_defaults_and_round_trip():
    cfg = ExperimentConfig()
    assert cfg.train.epsilon == 1e-7
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg


def test_yaml_file_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: t\nmodel:\n  units: 64\n  cell: gru\ndata:\n  lower: true\n")
    cfg = load_config(path, ["train.epochs=7", "model.units=[8, 4]", "data.num_words=null"])
    assert cfg.model.units == (8, 4) and cfg.model.cell == "gru"
    assert cfg.train.epochs == 7 and cfg.data.num_words is None and cfg.data.lower == "true"


@pytest.mark.parametrize(
    "raw, text",
    [
        ({"modle": {}}, r"unknown key `modle` \(did you mean `model`\?\)"),
        ({"model": {"unit": [3]}}, r"unknown key `model.unit` \(did you mean `units`\?\)"),
        ({"train": {"epochs": "five"}}, r"`train.epochs` must be int, got str 'five'"),
        ({"train": {"lr": True}}, r"`train.lr` must be float"),
        ({"model": {"units": []}}, r"`model.units` must list at least one layer"),
    ],
)
def test_bad_values_name_the_key(raw, text):
    with pytest.raises(ConfigError, match=text):
        ExperimentConfig.from_dict(raw)


@pytest.mark.parametrize(
    "raw, text",
    [
        (
            {"model": {"cell": "lstn"}},
            r"`model.cell` must be one of .* got 'lstn' \(did you mean `lstm`\?\)",
        ),
        ({"model": {"dropout": 1.0}}, r"`model.dropout` must be in \[0, 1\), got 1.0"),
        ({"train": {"epochs": 0}}, r"`train.epochs` must be a positive integer, got 0"),
    ],
)
def test_bad_choices_and_ranges(raw, text):
    with pytest.raises(ValueError, match=text):
        ExperimentConfig.from_dict(raw)


def test_early_stopping_needs_validation_split():
    with pytest.raises(ConfigError, match="validation_split"):
        ExperimentConfig.from_dict({"train": {"early_stopping_patience": 2}})


def test_override_errors():
    cfg = ExperimentConfig()
    with pytest.raises(ConfigError, match=r"unknown section `trian` \(did you mean `train`\?\)"):
        apply_overrides(cfg, ["trian.epochs=1"])
    with pytest.raises(ConfigError, match="must look like `section.key=value`"):
        apply_overrides(cfg, ["epochs"])


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "e.yaml").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(tmp_path / "e.yaml")
    (tmp_path / "b.yaml").write_text("a: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "b.yaml")
