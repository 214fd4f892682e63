"""The shipped experiment configs (package data in `rnnlab/configs/`) and the names that find them.

A shipped config has two names: `<dataset>/<name>` (`imdb/lstm`) and its `name:`
key, `<dataset>_<name>` (`imdb_lstm`). Anything ending in `.yaml` / `.yml` is a
path, read as given. The configs are found through `importlib.resources`, so an
installed wheel finds them from any working directory, as a source checkout does.

>>> resolve_config("imdb/lstm") == resolve_config("imdb_lstm")
True
>>> resolve_config("imdb/lstn")
Traceback (most recent call last):
...
rnnlab.errors.ConfigError: unknown experiment 'imdb/lstn' (did you mean `imdb/lstm` or ...?); known: ...
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from rnnlab.errors import ConfigError, DataFileError, suggest

# What `reproduce` runs by default; the configs in text/ are templates for your own data.
REPRODUCED_DATASETS = ("reuters", "imdb")
SUFFIXES = (".yaml", ".yml")


def shipped_configs() -> list[Path]:
    """Every shipped config file, sorted by dataset and name.

    Raises:
        ConfigError: the install holds no configs (a build that left out the package data).
    """
    root = resources.files("rnnlab") / "configs"
    # rnnlab ships a compiled extension, so it is always installed as plain files (never
    # imported from a zip): the package data is a real directory.
    paths = sorted(root.glob("*/*.yaml")) if isinstance(root, Path) else []
    if not paths:
        raise ConfigError(
            f"this rnnlab install holds no experiment configs (looked in {root}): the package "
            "data `rnnlab/configs/*/*.yaml` is missing; reinstall rnnlab, or pass the path of "
            "a .yaml file"
        )
    return paths


def reproduced_configs() -> list[Path]:
    """What `reproduce` runs by default: the tutorial experiments and their variants."""
    return [p for p in shipped_configs() if p.parent.name in REPRODUCED_DATASETS]


def config_names() -> dict[str, Path]:
    """Every name a shipped config answers to ('imdb/lstm' and 'imdb_lstm') -> its file."""
    paths = shipped_configs()
    names = {f"{p.parent.name}/{p.stem}": p for p in paths}
    names.update({f"{p.parent.name}_{p.stem}": p for p in paths})
    return names


def resolve_config(name_or_path: str | os.PathLike[str]) -> Path:
    """'imdb/lstm', 'imdb_lstm' or a path to a .yaml file -> the config file to read.

    Raises:
        ConfigError: an unknown name; the message suggests the nearest shipped names.
        DataFileError: a .yaml path that does not exist.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix in SUFFIXES:
        if not path.is_file():
            raise DataFileError(f"config file {text!r} does not exist{_shipped_hint(path)}")
        return path
    names = config_names()
    if text in names:
        return names[text]
    # Suggest in the user's own spelling: 'imdb_lstn' -> imdb_lstm, 'imdb/lstn' -> imdb/lstm.
    spelled = [n for n in names if ("/" in n) == ("/" in text or "_" not in text)]
    raise ConfigError(
        f"unknown experiment {text!r}{suggest(text, spelled, n=3)}; known: "
        + ", ".join(n for n in names if "/" in n)
        + ", or the path of a .yaml file"
    )


def _shipped_hint(path: Path) -> str:
    """For a missing 'configs/imdb/lstm.yaml' (where a source checkout once kept it): its name."""
    name = f"{path.parent.name}/{path.stem}"
    try:
        known = name in config_names()
    except ConfigError:
        return ""
    return f"; the shipped config of that name is read by its name: `{name}`" if known else ""
