"""Under concurrency, a real `rnnlab serve` gives the answers it gives one request at a time.

The same 96 requests (1 to 4 texts each, predictions and explanations) go to
one server twice: one after another on a single connection, then from 16
threads at once in a shuffled order, so that every request is batched with
different company. Each answer must equal its one-at-a-time answer: the same
labels and tokens, probabilities and attributions within 1e-6.
"""

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service tests need the `serve` extra")

from tests.reliability.service import Server, post, texts, train_model

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train_model(tmp_path_factory.mktemp("concurrency"))


def requests() -> list[tuple[str, dict]]:
    reviews = texts(200, seed=3)
    out: list[tuple[str, dict]] = []
    for k in range(96):
        if k % 12 == 11:
            out.append(("/v1/explain", {"text": reviews[k], "steps": 16}))
        else:
            out.append(("/v1/predict", {"texts": reviews[k : k + 1 + k % 4]}))
    return out


def numbers(path: str, body: dict) -> tuple[list, np.ndarray]:
    """What must be equal exactly (labels, tokens) and what within the tolerance."""
    if path == "/v1/explain":
        exact = [body["label"], [t["token"] for t in body["tokens"]]]
        close = [t["attribution"] or 0.0 for t in body["tokens"]] + list(
            body["probabilities"].values()
        )
    else:
        exact = [p["label"] for p in body["predictions"]]
        close = [v for p in body["predictions"] for v in p["probabilities"].values()]
    return exact, np.array(close, dtype=float)


def test_answers_under_concurrency_equal_the_answers_one_at_a_time(model):
    asked = requests()
    with Server(model, ["--max-wait-ms", "10", "--max-explains", "2"]) as server:
        alone = [post(server.url, path, payload) for path, payload in asked]
        order = list(range(len(asked)))
        random.Random(0).shuffle(order)
        with ThreadPoolExecutor(16) as pool:
            together = dict(zip(order, pool.map(lambda k: post(server.url, *asked[k]), order)))
        health = server.health()
    worst = 0.0
    for k, (path, _) in enumerate(asked):
        (status_a, body_a), (status_t, body_t) = alone[k], together[k]
        assert status_a == status_t == 200, (body_a, body_t)
        exact_a, close_a = numbers(path, body_a)
        exact_t, close_t = numbers(path, body_t)
        assert exact_a == exact_t, (k, exact_a, exact_t)
        worst = max(worst, float(np.abs(close_a - close_t).max()))
    print(f"max |concurrent - one at a time| = {worst:.1e}")
    assert worst <= TOLERANCE
    # The concurrent round was really batched: some passes held several requests.
    assert health["largest_batch"] > 4, health
