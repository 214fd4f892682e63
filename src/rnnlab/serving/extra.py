"""The `[serve]` extra: what a missing fastapi / uvicorn / pydantic turns into.

The serving modules import these packages at their top, inside a ``try``; a
missing one becomes `MissingExtraError`, which names the extra to install, and the
command line prints it as one line. The rest of rnnlab never imports them.
"""

from __future__ import annotations

from rnnlab.errors import RnnlabError

INSTALL = "pip install 'rnnlab[serve]'"


class MissingExtraError(RnnlabError, ImportError):
    """A package of the `[serve]` extra is not installed."""


def missing_extra(exc: ImportError) -> MissingExtraError:
    """The error to raise for ``exc``, an ImportError of one of the extra's packages."""
    name = getattr(exc, "name", None) or str(exc)
    return MissingExtraError(
        f"serving a model needs the `serve` extra ({name} is not installed): {INSTALL}"
    )
