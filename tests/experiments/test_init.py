"""rnnlab.experiments: one place for the experiment API, loaded lazily, no old module paths."""

import importlib.util
import subprocess
import sys

import pytest

import rnnlab.experiments as experiments


@pytest.mark.parametrize("name", experiments.__all__)
def test_every_public_name_resolves_to_its_module(name):
    value = getattr(experiments, name)
    assert value.__module__ == experiments._LAZY[name]


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'resolve'"):
        experiments.resolve  # noqa: B018


def test_the_config_half_loads_without_torch():
    code = (
        "import sys; from rnnlab.experiments import load_config, resolve_config; "
        "load_config(resolve_config('imdb/lstm')); "
        "print(sorted({'torch', 'sklearn', 'matplotlib'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "old",
    ["rnnlab.config", "rnnlab.prepare", "rnnlab.experiment", "rnnlab.report", "rnnlab.evaluation"],
)
def test_the_old_module_paths_are_gone(old):
    assert importlib.util.find_spec(old) is None
