"""POST /v1/explain: `rnnlab.explain`'s JSON over HTTP, its bad requests, and its schema."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rnnlab
from rnnlab.serving.schema import ExplainResponse

LIMITS = {"max_text_chars": 50, "max_explain_steps": 32}
REVIEW = "a good fun film"


def check(response, status, error, *words):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == error and "Traceback" not in response.text
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


def same(served, direct):
    """The served JSON is `rnnlab.explain`'s, key for key; floats to float64 rounding."""
    served = {k: v for k, v in served.items() if k != "model"}
    assert set(served) == set(direct), set(served) ^ set(direct)
    for key, value in direct.items():
        if key == "tokens":
            assert [t["token"] for t in served[key]] == [t["token"] for t in value]
            assert [t["position"] for t in served[key]] == [t["position"] for t in value]
            got = [t["attribution"] for t in served[key]]
            want = [t["attribution"] for t in value]
            assert [g is None for g in got] == [w is None for w in want]
            np.testing.assert_allclose(
                [g for g in got if g is not None], [w for w in want if w is not None], atol=1e-6
            )
        elif isinstance(value, dict):
            assert served[key] == pytest.approx(value, abs=1e-6), key
        elif isinstance(value, float):
            assert served[key] == pytest.approx(value, abs=1e-6), key
        else:
            assert served[key] == value, key


def test_the_answer_is_rnnlab_explain_and_matches_the_schema(text_model, serve_client):
    pipeline = rnnlab.load(text_model)
    client = serve_client(text_model)
    response = client.post("/v1/explain", json={"text": REVIEW})
    assert response.status_code == 200, response.text
    ExplainResponse.model_validate_json(response.content)
    served = response.json()
    assert served["model"] == pipeline.name == "toy_reviews"
    direct = rnnlab.explain(pipeline, REVIEW)
    same(served, direct)
    assert served["label"] == "pos" and served["method"] == "integrated_gradients"
    assert [t["token"] for t in served["tokens"]] == ["a", "good", "fun", "film"]
    # Completeness holds for what is served, too: the attributions sum to F(x) - F(b).
    total = sum(t["attribution"] for t in served["tokens"])
    assert total == pytest.approx(served["completeness"]["difference"], rel=1e-4, abs=1e-5)


def test_target_steps_and_method_are_passed_on(text_model, serve_client):
    pipeline = rnnlab.load(text_model)
    client = serve_client(text_model)
    asked = {"text": REVIEW, "target": "neg", "steps": 8}
    served = client.post("/v1/explain", json=asked).json()
    same(served, rnnlab.explain(pipeline, REVIEW, target="neg", steps=8))
    assert served["target"] == "neg" and served["steps"] == 8
    # 8.0 is a JSON Schema integer (Schemathesis sent 14.0): the same as 8.
    assert client.post("/v1/explain", json={**asked, "steps": 8.0}).json() == served
    # Explaining the other class of a one-logit model flips every sign.
    pos = client.post("/v1/explain", json={**asked, "target": "pos"}).json()
    flipped = [-t["attribution"] for t in served["tokens"]]
    np.testing.assert_allclose([t["attribution"] for t in pos["tokens"]], flipped, atol=1e-6)
    occluded = client.post("/v1/explain", json={"text": REVIEW, "method": "occlusion"}).json()
    assert occluded["method"] == "occlusion" and "steps" not in occluded
    same(occluded, rnnlab.explain(pipeline, REVIEW, method="occlusion"))


def test_only_ascii_blanks_are_refused_as_blank(text_model, serve_client):
    # The schema's pattern refuses ASCII blanks only: U+0085 is a word to this tokenizer
    # (an unknown one, the oov id), and punctuation leaves nothing to attribute.
    client = serve_client(text_model)
    (token,) = client.post("/v1/explain", json={"text": "\u0085\u0085"}).json()["tokens"]
    assert token["token"] == "\x85\x85" and token["id"] == 2  # the oov id
    served = client.post("/v1/explain", json={"text": "!!!"})
    assert served.status_code == 200, served.text
    assert served.json()["tokens"] == [] and served.json()["completeness"]["sum"] == 0


def test_id_models_are_explained_and_unknown_ids_refused(ids_model, serve_client):
    pipeline = rnnlab.load(ids_model)
    client = serve_client(ids_model)
    served = client.post("/v1/explain", json={"text": "1 2 3"}).json()
    same(served, rnnlab.explain(pipeline, "1 2 3"))
    check(client.post("/v1/explain", json={"text": "1 99"}), 422, "unreadable_input", "token id 99")
    check(client.post("/v1/explain", json={"text": "1 x"}), 422, "unreadable_input")


def test_number_models_are_explained_by_occlusion_and_array_models_refused(
    numbers_model, array_model, serve_client
):
    served = serve_client(numbers_model).post("/v1/explain", json={"text": "0.5 1.5"})
    assert served.status_code == 200, served.text
    ExplainResponse.model_validate_json(served.content)
    assert served.json()["method"] == "occlusion"
    same(served.json(), rnnlab.explain(rnnlab.load(numbers_model), "0.5 1.5"))
    refused = serve_client(array_model).post("/v1/explain", json={"text": "0.1 0.2 0.3 0.4"})
    check(refused, 422, "unreadable_input", "nothing to attribute per token")


@pytest.mark.parametrize(
    "body, status, error, words",
    [
        (b'{"text": "good"', 400, "invalid_json", ["not valid JSON"]),
        (b"", 400, "invalid_json", ["no body", '"text"']),
        (b"[1]", 422, "invalid_request", ["JSON object", "got an array"]),
        (b"{}", 422, "invalid_request", ["`text` is missing"]),
        (b'{"text": 3}', 422, "invalid_request", ["text must be a string", "a number"]),
        (b'{"text": ""}', 422, "invalid_request", ["`text` is empty"]),
        (b'{"text": "  \\n "}', 422, "invalid_request", ["only spaces"]),
        (json.dumps({"text": "x" * 51}).encode(), 422, "invalid_request", ["--max-text-chars"]),
        (b'{"text": "good", "target": "nope"}', 422, "unknown_label", ["'nope'", "neg, pos"]),
        (b'{"text": "good", "target": 1}', 422, "invalid_request", ["target must be a string"]),
        (b'{"text": "good", "steps": 0}', 422, "invalid_request", ["at least 1"]),
        (b'{"text": "good", "steps": 33}', 422, "invalid_request", ["--max-explain-steps"]),
        (b'{"text": "good", "steps": 2.5}', 422, "invalid_request", ["whole number"]),
        (b'{"text": "good", "steps": "8"}', 422, "invalid_request", ["whole number"]),
        (b'{"text": "good", "method": "shap"}', 422, "invalid_request", ["'occlusion'", "shap"]),
        (b'{"text": "good", "texts": ["x"]}', 422, "invalid_request", ["unknown field `texts`"]),
    ],
)
def test_bad_requests_get_a_4xx_that_names_the_problem(
    text_model, serve_client, body, status, error, words
):
    client = serve_client(text_model, **LIMITS)
    response = client.post(
        "/v1/explain", content=body, headers={"content-type": "application/json"}
    )
    check(response, status, error, *words)


def test_explanations_and_predictions_at_once_are_all_answered_exactly(text_model, live_server):
    import http.client
    from urllib.parse import urlparse

    server = live_server(text_model, max_explains=2)
    parsed = urlparse(server.url)

    def post(path, payload):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        try:
            connection.request("POST", path, json.dumps(payload).encode())
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    pipeline = rnnlab.load(text_model)
    jobs = [("/v1/explain", {"text": REVIEW, "steps": 32})] * 6 + [
        ("/v1/predict", {"texts": [REVIEW]})
    ] * 12
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: post(*job), jobs))
    assert all(status == 200 for status, _ in answers), answers
    direct = rnnlab.explain(pipeline, REVIEW, steps=32)
    for (path, _), (_, body) in zip(jobs, answers):
        if path == "/v1/explain":
            same(body, direct)
        else:
            p = pipeline.predict_proba([REVIEW])[0]
            assert body["predictions"][0]["probabilities"]["pos"] == pytest.approx(p[1], abs=1e-6)


def test_the_schema_documents_the_route_and_its_limits(text_model, serve_client):
    schema = serve_client(text_model, **LIMITS).get("/openapi.json").json()
    post = schema["paths"]["/v1/explain"]["post"]
    request = post["requestBody"]["content"]["application/json"]["schema"]
    assert request["required"] == ["text"]
    assert request["properties"]["text"]["maxLength"] == 50
    assert request["properties"]["steps"]["maximum"] == 32
    assert request["properties"]["target"]["anyOf"] == [
        {"type": "string", "enum": ["neg", "pos"]},
        {"type": "null"},
    ]
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExplainResponse"
    }
    assert {"400", "413", "422"} <= set(post["responses"])
