"""Exception classes and the validation helpers that give every message one shape.

Messages name the argument, the rule and the value, and where it helps, the fix:
"`units` must be a positive integer, got 0".
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable
from typing import Any, Literal, overload


class RnnlabError(Exception):
    """Base class of every error rnnlab raises on purpose.

    Each subclass also derives from the built-in type a caller expects (ValueError,
    TypeError, OSError, KeyError), so scikit-learn and plain `except ValueError` see the
    same types as ever, while the command line can tell rnnlab's own errors (one line,
    exit 2) from a bug (a traceback).
    """


class InvalidValueError(RnnlabError, ValueError):
    """An argument or setting has the right type but a value outside its rule."""


class InvalidTypeError(RnnlabError, TypeError):
    """An argument or setting has the wrong type."""


class UnknownKeyError(RnnlabError, KeyError):
    """A name looked up in a mapping (a logged metric, a state entry) is not there."""

    def __str__(self) -> str:
        # KeyError's own str() quotes its argument, which suits a key, not a sentence.
        return str(self.args[0]) if self.args else ""


class DataError(RnnlabError, ValueError):
    """The contents of a data set, file or array are unusable (empty, malformed, ...)."""


class DataFileError(RnnlabError, OSError):
    """A data file is missing, unreadable, corrupt, truncated or fails its checksum."""


class ConfigError(RnnlabError, ValueError):
    """A configuration is invalid: an unknown key, a wrong type or a bad value."""


class ModelFileError(RnnlabError, OSError):
    """A saved model is missing, damaged, tampered with or from an incompatible version."""


class WorkersFailedError(RnnlabError, RuntimeError):
    """A worker of a multi-process run failed, after the launcher's restarts.

    ``exit_code`` is the failed worker's own exit status, which the command line exits with.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _repr(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def suggest(name: str, candidates: Iterable[str], n: int = 1) -> str:
    """' (did you mean `x`?)' for the nearest candidates (up to ``n``), or '' if none is close.

    >>> suggest("lstn", ["lstm", "gru"])
    ' (did you mean `lstm`?)'
    >>> suggest("imdb/lstn", ["imdb/lstm", "imdb/gru_400", "imdb/bilstm_400"], n=3)
    ' (did you mean `imdb/lstm` or `imdb/bilstm_400`?)'
    """
    close = difflib.get_close_matches(str(name), list(candidates), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"`{c}`" for c in close) + "?)"


def check_type(
    name: str, value: Any, types: type | tuple[type, ...], what: str | None = None
) -> Any:
    """Raise `InvalidTypeError` unless ``value`` is an instance of ``types``; return it."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        if what is None:
            names = [t.__name__ for t in (types if isinstance(types, tuple) else (types,))]
            what = " or ".join(names)
        raise InvalidTypeError(
            f"`{name}` must be {what}, got {type(value).__name__} {_repr(value)}"
        )
    return value


@overload
def check_int(
    name: str, value: Any, minimum: int | None = None, allow_none: Literal[False] = False
) -> int: ...


@overload
def check_int(
    name: str, value: Any, minimum: int | None = None, *, allow_none: bool
) -> int | None: ...


@overload
def check_int(name: str, value: Any, minimum: int | None, allow_none: bool) -> int | None: ...


def check_int(
    name: str, value: Any, minimum: int | None = None, allow_none: bool = False
) -> int | None:
    """Validate an integer (numpy integers allowed, bools refused) with an optional lower bound."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        rule = "an integer" if minimum is None else f"an integer >= {minimum}"
        if allow_none:
            rule += " or None"
        raise InvalidTypeError(
            f"`{name}` must be {rule}, got {type(value).__name__} {_repr(value)}"
        )
    value = int(value)
    if minimum is not None and value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidValueError(f"`{name}` must be {rule}, got {value}")
    return value


def check_positive(name: str, value: Any, integer: bool = True, allow_zero: bool = False) -> Any:
    """Validate a positive (or non-negative) number; integers by default."""
    if integer:
        return check_int(name, value, minimum=0 if allow_zero else 1)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(
            f"`{name}` must be a number, got {type(value).__name__} {_repr(value)}"
        )
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        rule = "non-negative" if allow_zero else "positive"
        raise InvalidValueError(f"`{name}` must be {rule}, got {value}")
    return float(value)


def check_fraction(name: str, value: Any, low_open: bool = False, high_open: bool = True) -> float:
    """Validate a number in [0, 1) by default (a dropout rate, a split fraction)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(
            f"`{name}` must be a number, got {type(value).__name__} {_repr(value)}"
        )
    v = float(value)
    ok_low = v > 0 if low_open else v >= 0
    ok_high = v < 1 if high_open else v <= 1
    if not (ok_low and ok_high):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise InvalidValueError(f"`{name}` must be in {interval}, got {value}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Raise `InvalidValueError` unless ``value`` is in ``choices``; list them, suggest one."""
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(_repr(c) for c in choices)
        named = [c for c in choices if isinstance(c, str)]
        hint = suggest(value, named) if isinstance(value, str) else ""
        raise InvalidValueError(f"`{name}` must be one of {listed}, got {_repr(value)}{hint}")
    return value
