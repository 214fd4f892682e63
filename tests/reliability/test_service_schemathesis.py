"""Schemathesis against a real `rnnlab serve`'s OpenAPI schema: no 5xx, every answer as documented.

The schema is the server's own `/openapi.json`; Schemathesis generates requests
from it, valid ones (positive) and ones that break it (negative), sends them over
HTTP to a `python -m rnnlab serve` process on 127.0.0.1, and runs its checks on
each answer: not a server error, a status and content type the schema lists, a
body that matches the schema of that status. Bounded: a fixed number of examples
per operation and mode, no example database, no deadline (two busy cores).
"""

import json
import urllib.request

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
pytest.importorskip("fastapi", reason="the service tests need the `serve` extra")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from tests.reliability.fuzzing import SCALE  # noqa: E402
from tests.reliability.service import Server, post, train_model  # noqa: E402

EXAMPLES = {"POST /v1/predict": 40, "POST /v1/explain": 25, "GET /v1/model": 3, "GET /health": 3}
# Negative cases (requests that break the schema) exist only where there is a body to break.
RUNS = [(name, GenerationMode.POSITIVE) for name in sorted(EXAMPLES)] + [
    (name, GenerationMode.NEGATIVE) for name in sorted(EXAMPLES) if name.startswith("POST")
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = train_model(tmp_path_factory.mktemp("schemathesis"))
    # Small limits, so that generated texts and lists reach them; few explain steps.
    options = ["--max-texts", "8", "--max-text-chars", "300", "--max-explain-steps", "16"]
    with Server(model, options) as running:
        yield running


def operations(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def test_the_schema_lists_the_api(server):
    assert set(operations(server)) == set(EXAMPLES)


def test_a_hybrid_is_offered_only_the_explanations_it_has(server):
    # The served model is a hybrid (TextClassifier's default): its n-gram part has no
    # gradient, so the schema offers occlusion only, and asking for gradients is a 422.
    with urllib.request.urlopen(server.url + "/openapi.json", timeout=30) as answer:
        schema = json.load(answer)
    body = schema["paths"]["/v1/explain"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["method"]["enum"] == ["auto", "occlusion"]
    status, answer = post(
        server.url, "/v1/explain", {"text": "good", "method": "integrated_gradients"}
    )
    assert status == 422 and "n-gram part has no gradient" in answer["message"]


@pytest.mark.parametrize("name, mode", RUNS, ids=[f"{n}-{m.value}" for n, m in RUNS])
def test_generated_requests_get_documented_answers_and_no_5xx(server, name, mode):
    operation = operations(server)[name]
    statuses = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[name] * SCALE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call(base_url=server.url, timeout=30)
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.body, response.text[:500])
        case.validate_response(response)

    check()
    assert statuses
    if mode == GenerationMode.POSITIVE:
        assert 200 in statuses, statuses
    else:
        assert all(400 <= status < 500 for status in statuses), statuses
    print(name, mode.value, sorted(set(statuses)))
