"""The shipped configs: package data found by name from anywhere, every one valid and documented."""

import json
import os
import statistics
from importlib import resources
from pathlib import Path

import pytest

from rnnlab.errors import ConfigError, DataFileError
from rnnlab.experiments import catalog
from rnnlab.experiments.catalog import (
    config_names,
    reproduced_configs,
    resolve_config,
    shipped_configs,
)
from rnnlab.experiments.config import load_config

CONFIGS = shipped_configs()


def test_configs_are_shipped_for_both_tutorials_and_variants():
    names = {f"{p.parent.name}/{p.stem}" for p in CONFIGS}
    assert {
        "reuters/simple_rnn",
        "reuters/stacked_simple_rnn",
        "reuters/lstm",
        "reuters/stacked_lstm",
        "reuters/embedding_bilstm",
        "imdb/lstm",
        "imdb/gru_400",
        "imdb/bilstm_400",
        "imdb/raw_text_gru",
        "text/gru",
    } <= names
    # Inside the package, as package data: a wheel carries them, whatever the working directory.
    assert all(p.is_relative_to(resources.files("rnnlab")) for p in CONFIGS)


def test_reproduce_runs_the_tutorials_not_the_templates():
    datasets = {p.parent.name for p in reproduced_configs()}
    assert datasets == {"reuters", "imdb"}
    templates = [p for p in CONFIGS if p.parent.name == "text"]
    assert len(reproduced_configs()) == len(CONFIGS) - len(templates) and templates


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_config_has_a_header_that_runs_it_by_name_and_validates(path):
    text = path.read_text()
    assert text.startswith("#") and "# Gives:" in text and "# Runs on:" in text
    run = next(line for line in text.splitlines() if line.startswith("# Run:"))
    name = f"{path.parent.name}/{path.stem}"
    assert run.split(maxsplit=2)[2].startswith(f"rnnlab train --config {name}"), run
    cfg = load_config(path)
    assert cfg.name.replace("_", "/", 1) == name


def test_every_name_resolves_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for path in CONFIGS:
        slash, underscore = f"{path.parent.name}/{path.stem}", f"{path.parent.name}_{path.stem}"
        assert resolve_config(slash) == resolve_config(underscore) == path
    assert set(config_names().values()) == set(CONFIGS)


def test_a_yaml_path_is_read_as_given(tmp_path, monkeypatch):
    own = tmp_path / "mine.yml"
    own.write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_config("mine.yml") == own.relative_to(tmp_path)
    assert resolve_config(own) == own


def test_a_typo_suggests_the_nearest_names_in_the_same_spelling():
    with pytest.raises(
        ConfigError,
        match=r"unknown experiment 'imdb/lstn' \(did you mean "
        r"`imdb/lstm`.*\?\); known: .*reuters/lstm",
    ):
        resolve_config("imdb/lstn")
    with pytest.raises(ConfigError, match=r"\(did you mean `reuters_lstm`"):
        resolve_config("reuters_lstn")
    with pytest.raises(ConfigError, match=r"known: .*text/gru, or the path of a .yaml file$"):
        resolve_config("nothing-like-it")


def test_a_missing_yaml_path_names_the_shipped_config_it_meant(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        DataFileError,
        match=r"'configs/imdb/lstm.yaml' does not exist; the "
        r"shipped config .* `imdb/lstm`",
    ):
        resolve_config("configs/imdb/lstm.yaml")
    with pytest.raises(DataFileError, match=r"'other.yaml' does not exist$"):
        resolve_config("other.yaml")


def test_an_install_without_its_configs_is_an_error_not_an_empty_list(tmp_path, monkeypatch):
    (tmp_path / "rnnlab").mkdir()  # a package directory whose configs/ did not ship
    monkeypatch.setattr(catalog.resources, "files", lambda package: tmp_path / package)
    with pytest.raises(ConfigError, match="holds no experiment configs .* reinstall"):
        shipped_configs()
    with pytest.raises(ConfigError, match="holds no experiment configs"):
        resolve_config("imdb/lstm")
    assert os.path.isfile(CONFIGS[0])  # the real ones are untouched


RESULTS = Path(__file__).parents[2] / "docs" / "results" / "results.json"


@pytest.mark.parametrize("path", reproduced_configs(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_header_gives_the_accuracy_of_the_committed_results(path):
    # A header says what the config really gives: the mean and spread of the committed run.
    cfg = load_config(path)
    runs = {r["name"]: r["runs"] for r in json.loads(RESULTS.read_text(encoding="utf-8"))}
    accuracies = [run["test"]["accuracy"] for run in runs[cfg.name]]
    gives = f"{statistics.mean(accuracies):.3f} ± {statistics.stdev(accuracies):.3f}"
    header = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    assert f"test accuracy {gives} over seeds 0-2" in header, (cfg.name, gives)
