"""Fuzzing `apply_overrides`: random dotted keys and YAML values apply, or fail with a ConfigError.

The property: for any list of ``key=value`` strings, `apply_overrides` either
returns a valid `ExperimentConfig` (it survives `to_dict` / `from_dict`, and a
scalar override of a known key is what the config then holds), or raises
`ConfigError`; an unknown key one typo away from a real one is answered with
the suggestion ("did you mean ...").
"""

import dataclasses

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rnnlab.errors import ConfigError
from rnnlab.experiments.config import ExperimentConfig, apply_overrides
from rnnlab.experiments.runner import make_trainer
from rnnlab.models import RecurrentClassifier
from tests.reliability.fuzzing import bounded

BASE = ExperimentConfig.from_dict({"name": "fuzz", "model": {"units": [8]}})
SECTIONS = {
    f.name: [g.name for g in dataclasses.fields(getattr(BASE, f.name))]
    for f in dataclasses.fields(BASE)
    if dataclasses.is_dataclass(getattr(BASE, f.name))
}
TOP = [f.name for f in dataclasses.fields(BASE)]
NAME_CHARS = st.sampled_from(list("abcdeilmnorstu_.0 ") + ["é", "\x00", "="])


def _typo(draw, word):
    i = draw(st.integers(0, max(len(word) - 1, 0)))
    kind = draw(st.sampled_from(["drop", "swap", "add"]))
    if kind == "drop" or len(word) < 2:
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + draw(st.sampled_from("aeiou")) + word[i:]


@st.composite
def keys(draw):
    kind = draw(st.sampled_from(["known", "known", "typo", "section", "deep", "random"]))
    section = draw(st.sampled_from(sorted(SECTIONS)))
    if kind == "known":
        return f"{section}.{draw(st.sampled_from(SECTIONS[section]))}"
    if kind == "typo":
        return f"{section}.{_typo(draw, draw(st.sampled_from(SECTIONS[section])))}"
    if kind == "section":
        return draw(st.sampled_from(TOP + [_typo(draw, section), ""]))
    if kind == "deep":
        return f"{section}.{draw(st.sampled_from(SECTIONS[section]))}.{draw(st.text(NAME_CHARS, max_size=4))}"
    return draw(st.text(NAME_CHARS, max_size=16))


YAML_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "null", "~", "yes", "NO", ".nan", "-.inf", "0x1F", "1e3"]),
    st.sampled_from(["lstm", "gru", "post", "adam", "2020-01-01", "12:30", "'quoted'", '"q"']),
    st.text(max_size=12),
)
YAML_BROKEN = st.sampled_from(
    [
        "[",
        "{a",
        "a: b: c",
        "!!python/object/apply:os.system ['true']",
        "&a [*a]",
        "*nope",
        "\t- x",
        "{a: 1, a: 2}",
        "[1, [2, [3",
        "'",
        '"\\x"',
        "- - -",
        "? a",
        "%YAML 9.9",
        "@x",
    ]
)


@st.composite
def values(draw):
    kind = draw(st.sampled_from(["scalar", "scalar", "list", "dict", "broken", "deep"]))
    if kind == "scalar":
        return draw(YAML_SCALARS)
    if kind == "list":
        return "[" + ", ".join(draw(st.lists(YAML_SCALARS, max_size=4))) + "]"
    if kind == "dict":
        items = draw(
            st.dictionaries(st.sampled_from(TOP + ["units", "x"]), YAML_SCALARS, max_size=3)
        )
        return "{" + ", ".join(f"{k}: {v}" for k, v in items.items()) + "}"
    if kind == "deep":
        depth = draw(st.sampled_from([50, 1_200]))  # past the interpreter's recursion limit
        if draw(st.booleans()):
            return "- " * depth + "1"  # block nesting
        return "[" * depth + "1" + "]" * depth
    return draw(YAML_BROKEN)


OVERRIDE = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", keys(), values()),
    st.text(NAME_CHARS, max_size=10),  # no '=' at all, or several
)


@bounded(500)
@given(overrides=st.lists(OVERRIDE, min_size=1, max_size=4))
def test_random_overrides_apply_or_give_a_config_error(overrides):
    try:
        cfg = apply_overrides(BASE, overrides)
    except ConfigError:
        return
    assert isinstance(cfg, ExperimentConfig)
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg


@bounded(300)
@given(data=st.data())
def test_a_known_key_with_a_valid_scalar_is_applied(data):
    section = data.draw(st.sampled_from(sorted(SECTIONS)))
    key = data.draw(st.sampled_from(SECTIONS[section]))
    text = data.draw(YAML_SCALARS)
    try:
        cfg = apply_overrides(BASE, [f"{section}.{key}={text}"])
    except ConfigError:
        return
    value = yaml.safe_load(text) if text.strip() else None
    got = getattr(getattr(cfg, section), key)
    if isinstance(value, bool) and isinstance(got, str):
        value = "true" if value else "false"  # YAML's `true` for a string field
    if isinstance(got, tuple):
        value = tuple(value) if isinstance(value, list) else (value,)
    if isinstance(got, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # a float field takes an integer (2**53 + 1 rounds)
    assert got == value or (got != got and value != value)  # NaN stays NaN


@bounded(200)
@given(data=st.data())
def test_a_typo_of_a_known_key_is_answered_with_the_suggestion(data):
    section = data.draw(st.sampled_from(sorted(SECTIONS)))
    key = data.draw(st.sampled_from([k for k in SECTIONS[section] if len(k) >= 5]))
    typo = _typo(data.draw, key)
    if typo in SECTIONS[section]:
        return
    with pytest.raises(ConfigError, match=r"unknown key .* \(did you mean `"):
        apply_overrides(BASE, [f"{section}.{typo}=1"])


# Regressions: what the fuzzer found (each escaped as a non-project exception).


@pytest.mark.parametrize(
    "value, message",
    [
        ("\x1b", "not valid YAML .*unacceptable character"),
        ("a: b: c", "not valid YAML .*mapping values are not allowed"),
        ("!!python/object/apply:os.system ['true']", "not valid YAML .*could not determine"),
        ("[" * 1200 + "1" + "]" * 1200, "nested too deeply"),
        ("- " * 1200 + "1", "nested too deeply"),
    ],
)
def test_regression_a_value_yaml_cannot_read_is_a_config_error(value, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(BASE, [f"model.units={value}"])


def test_regression_a_non_string_override_is_a_config_error():
    with pytest.raises(ConfigError, match="must look like `section.key=value`"):
        apply_overrides(BASE, [5])


@bounded(200)
@given(key=st.sampled_from(SECTIONS["train"]), text=YAML_SCALARS)
def test_a_train_setting_that_applies_builds_its_trainer(key, text):
    try:
        cfg = apply_overrides(BASE, [f"train.{key}={text}"])
    except ConfigError:
        return
    model = RecurrentClassifier(cfg.model, vocab_size=5, num_classes=3)
    make_trainer(cfg, model, seed=0, verbose=0)  # no error at all: the config was checked


@pytest.mark.parametrize(
    "override", ["train.epsilon=-1", "train.weight_decay=-1", "train.epsilon=.nan", "train.lr=.inf"]
)
def test_regression_optimiser_settings_are_checked_with_the_config(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        apply_overrides(BASE, [override])
