"""rnnlab's exceptions: one base class, the built-in types callers expect, and no bare raises."""

import ast
from pathlib import Path

import pytest

from rnnlab import errors
from rnnlab.errors import (
    ConfigError,
    DataError,
    DataFileError,
    InvalidTypeError,
    InvalidValueError,
    ModelFileError,
    RnnlabError,
    UnknownKeyError,
    check_choice,
    check_fraction,
    check_int,
    check_positive,
    check_type,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnlab"


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (ConfigError, ValueError),
        (DataError, ValueError),
        (InvalidValueError, ValueError),
        (InvalidTypeError, TypeError),
        (DataFileError, OSError),
        (ModelFileError, OSError),
        (UnknownKeyError, KeyError),
    ],
)
def test_every_project_error_is_an_rnnlab_error_and_keeps_its_builtin_type(cls, builtin):
    assert issubclass(cls, RnnlabError) and issubclass(cls, builtin)


def test_every_exception_class_in_errors_derives_from_rnnlab_error():
    classes = [
        v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, BaseException)
    ]
    assert len(classes) >= 8
    assert all(issubclass(c, RnnlabError) for c in classes), classes


@pytest.mark.parametrize(
    "call, cls, message",
    [
        (lambda: check_type("path", 3, str), InvalidTypeError, "`path` must be str, got int 3"),
        (
            lambda: check_int("units", "4"),
            InvalidTypeError,
            "`units` must be an integer, got str '4'",
        ),
        (
            lambda: check_int("units", 0, minimum=1),
            InvalidValueError,
            "`units` must be a positive integer, got 0",
        ),
        (
            lambda: check_positive("lr", -1.0, integer=False),
            InvalidValueError,
            "`lr` must be positive, got -1.0",
        ),
        (
            lambda: check_fraction("dropout", 1.0),
            InvalidValueError,
            "`dropout` must be in [0, 1), got 1.0",
        ),
        (
            lambda: check_choice("cell", "lstn", ["lstm", "gru"]),
            InvalidValueError,
            "`cell` must be one of 'lstm', 'gru', got 'lstn' (did you mean `lstm`?)",
        ),
    ],
)
def test_the_check_helpers_raise_project_errors_with_the_same_messages(call, cls, message):
    with pytest.raises(cls) as caught:
        call()
    assert str(caught.value) == message


def test_unknown_key_error_reads_as_a_sentence_not_a_quoted_key():
    assert str(UnknownKeyError("`val_loss` is not in the logs")) == "`val_loss` is not in the logs"


# Every deliberate raise of a built-in ValueError / TypeError / KeyError in the package
# must be a project class instead, so the CLI can tell a user's error from a bug.
# datasets/npz.py is left out: its parse errors never leave read_npy, which wraps every
# one in a DataFileError naming the file.
OWNED = sorted(p for p in SRC.rglob("*.py") if p.name != "npz.py")


def test_no_bare_builtin_raises_where_a_cli_user_can_reach():
    bare = []
    for path in OWNED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            exc = node.exc if isinstance(node, ast.Raise) else None
            name = getattr(getattr(exc, "func", exc), "id", None)  # `raise X(...)` or `raise X`
            if name in ("ValueError", "TypeError", "KeyError", "LookupError"):
                bare.append(f"{path.relative_to(SRC)}:{node.lineno} raise {name}")
    assert len(OWNED) > 30 and not bare, bare
