"""Shared pieces of the fuzzers: the bounds of a property, and which errors count as clean."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from rnnlab.errors import RnnlabError

SCALE = max(1, int(os.environ.get("RNNLAB_FUZZ_SCALE", "1")))


def bounded(max_examples: int, deadline_ms: int = 2000) -> settings:
    """Settings of one property: at most ``max_examples`` (times the scale), each under the deadline.

    The deadline is generous on purpose (two cores shared by several test
    processes): it is there to catch a hang or a quadratic blow-up, not to time code.
    """
    return settings(
        max_examples=max_examples * SCALE,
        deadline=deadline_ms,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def clean_outcome(call):
    """Run ``call``: its result, or the `RnnlabError` it raised; any other exception propagates."""
    try:
        return call()
    except RnnlabError as exc:
        return exc
