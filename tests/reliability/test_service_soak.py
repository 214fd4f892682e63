"""A bounded soak of a real `rnnlab serve`: good and bad requests mixed, zero 5xx, every answer right.

The small version of `benchmarks/soak.py` (10,000 requests there): a few hundred
requests from 16 connections, one of every kind of bad request in each cycle of
nine; no timing is asserted, only that every answer is the right one.
"""

import pytest

pytest.importorskip("fastapi", reason="the service tests need the `serve` extra")

import rnnlab
from tests.reliability.service import Server, soak_script, texts, train_model

LIMITS, cases, failures, soak = (
    soak_script.LIMITS,
    soak_script.cases,
    soak_script.failures,
    soak_script.soak,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train_model(tmp_path_factory.mktemp("soak"))


def test_the_cycle_holds_every_kind_of_bad_request():
    cycle = cases(texts(120))
    names = {case.name for case in cycle if case.error is not None}
    assert len(names) == 13 and "body_too_large" in names and "not_json" in names
    assert sum(case.error is None for case in cycle) == 8 * len(names)


def test_a_few_hundred_mixed_requests_get_no_5xx_and_only_right_answers(model):
    reviews = texts(120)
    pipeline = rnnlab.load(model)
    expected = pipeline.predict_proba(reviews)  # row k: review k predicted alone is this
    for k in (0, 7, 33):
        assert pipeline.predict_proba([reviews[k]])[0] == pytest.approx(expected[k], abs=1e-7)
    options = [f"--{k.replace('_', '-')}={v}" for k, v in LIMITS.items()]
    with Server(model, [*options, "--max-wait-ms", "5"]) as server:
        figures = soak(
            server.url,
            server.proc.pid,
            reviews,
            expected,
            pipeline.labels,
            requests=450,
            concurrency=16,
            max_seconds=120,
        )
        health = server.health()
    assert figures["requests"] == 450, figures
    assert figures["server_errors"] == 0 and figures["wrong_answers"] == 0, figures
    assert figures["bad_requests"] == 50 and set(figures["statuses"]) == {
        "200",
        "400",
        "404",
        "413",
        "422",
    }
    assert health["status"] == "ok" and health["largest_batch"] > 1, health
    assert failures({**figures, "rss_growth": 0.0}) == []
