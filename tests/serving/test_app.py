"""The served API: predictions equal `rnnlab.load(dir).predict_proba`; /health, /v1/model, docs."""

import math

import numpy as np
import pytest

import rnnlab
from rnnlab.serving.schema import ModelInfo, PredictResponse

TEXTS = ["a good fun film", "a bad dull film", "an unseen word salad", "", "fun"]


def test_predictions_are_the_saved_models_labels_and_probabilities(text_model, serve_client):
    expected = rnnlab.load(text_model).predict_proba(TEXTS)
    client = serve_client(text_model)
    response = client.post("/v1/predict", json={"texts": TEXTS})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = PredictResponse.model_validate_json(response.content)  # the documented shape
    labels = rnnlab.load(text_model).labels
    assert body.model == "toy_reviews" and len(body.predictions) == len(TEXTS)
    for prediction, row in zip(body.predictions, expected):
        assert list(prediction.probabilities) == labels
        got = np.array([prediction.probabilities[name] for name in labels])
        np.testing.assert_allclose(got, row, rtol=0, atol=1e-12)
        assert prediction.label == labels[int(row.argmax())]
        assert math.isclose(sum(got), 1.0, abs_tol=1e-9)


def test_the_one_logit_binary_model_answers_both_classes_and_the_label_follows_them(
    text_model, serve_client
):
    # Two classes are one logit (class 1's); the answer must still name both.
    client = serve_client(text_model)
    (prediction,) = client.post("/v1/predict", json={"texts": ["good"]}).json()["predictions"]
    assert set(prediction["probabilities"]) == {"neg", "pos"}
    p = prediction["probabilities"]
    assert prediction["label"] == ("pos" if p["pos"] > p["neg"] else "neg")


@pytest.mark.parametrize(
    "fixture, texts, n_classes",
    [
        ("ids_model", ["1 2 3", "4 5", "7,1", ""], 2),
        ("numbers_model", ["0.5 1.5", "2.5, 1.0, 3.0", "0.1"], 3),
        ("array_model", ["0.1 0.2 0.3 0.4", "1,1,1,1"], 3),
    ],
)
def test_id_and_number_models_read_strings_of_numbers(
    fixture, texts, n_classes, request, serve_client
):
    model = request.getfixturevalue(fixture)
    expected = rnnlab.load(model).predict_proba(texts)
    response = serve_client(model).post("/v1/predict", json={"texts": texts})
    assert response.status_code == 200, response.text
    rows = [list(p["probabilities"].values()) for p in response.json()["predictions"]]
    assert np.array(rows).shape == (len(texts), n_classes)
    np.testing.assert_allclose(rows, expected, rtol=0, atol=1e-12)


def test_health_is_ok_once_loaded_and_counts_the_batches(text_model, serve_client):
    client = serve_client(text_model)
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "model": "toy_reviews",
        "batches": 0,
        "texts": 0,
        "largest_batch": 0,
    }
    client.post("/v1/predict", json={"texts": TEXTS})
    assert client.get("/health").json()["texts"] == len(TEXTS)


def test_health_is_503_before_the_lifespan_has_loaded_the_model(text_model):
    from fastapi.testclient import TestClient

    from rnnlab.serving.app import create_app

    client = TestClient(create_app(text_model))  # not entered: no lifespan, no model
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["error"] == "not_ready"


def test_the_model_description_has_the_training_config_and_test_metrics(text_model, serve_client):
    info = serve_client(text_model, max_texts=7).get("/v1/model").json()
    ModelInfo.model_validate(info)
    assert info["name"] == "toy_reviews" and info["labels"] == ["neg", "pos"]
    assert info["rnnlab_version"] == rnnlab.__version__
    assert info["input"] == {"kind": "text", "maxlen": rnnlab.load(text_model).inputs.maxlen}
    assert info["training_config"]["model"] == {"cell": "lstm", "units": [8]}
    # NaN has no JSON form: strict JSON clients get null.
    assert info["test_metrics"] == {"accuracy": 0.75, "loss": 0.5, "macro_f1": None}
    assert info["limits"]["max_texts"] == 7


def test_a_model_without_a_training_part_says_so(ids_model, serve_client):
    info = serve_client(ids_model).get("/v1/model").json()
    assert info["training_config"] is None and info["test_metrics"] is None
    assert info["input"]["kind"] == "ids"


def test_the_openapi_schema_states_the_real_limits_and_shapes(text_model, serve_client):
    client = serve_client(text_model, max_texts=9, max_text_chars=123)
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/health"} <= set(schema["paths"])
    post = schema["paths"]["/v1/predict"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    texts = body["properties"]["texts"]
    assert body["required"] == ["texts"] and body["additionalProperties"] is False
    assert (texts["minItems"], texts["maxItems"], texts["items"]["maxLength"]) == (1, 9, 123)
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PredictResponse"
    )
    assert {"400", "413", "422"} <= set(post["responses"])
    assert {"PredictResponse", "Prediction", "ModelInfo", "ErrorResponse"} <= set(
        schema["components"]["schemas"]
    )


def test_the_documented_route_and_the_one_that_answers_share_the_handler(text_model):
    from fastapi.routing import APIRoute

    from rnnlab.serving.app import create_app

    routes = [
        r for r in create_app(text_model).router.routes if getattr(r, "path", None) == "/v1/predict"
    ]
    # The first match answers (a plain route, no dependency solving); FastAPI documents
    # the second; both call the one handler.
    assert [isinstance(r, APIRoute) for r in routes] == [False, True]
    assert routes[0].endpoint is routes[1].endpoint


def test_the_interactive_docs_and_the_page_are_served(text_model, serve_client):
    client = serve_client(text_model)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/v1/predict" in page.text


def test_unknown_routes_and_methods_are_json_errors(text_model, serve_client):
    client = serve_client(text_model)
    missing = client.get("/v2/predict")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "GET /v2/predict" in missing.json()["message"]
    wrong = client.get("/v1/predict")
    assert wrong.status_code == 405 and "GET" in wrong.json()["message"]


def test_a_bug_is_a_500_json_error_without_the_traceback(
    text_model, serve_client, monkeypatch, caplog
):
    client = serve_client(text_model)
    pipeline = client.app.state.pipeline

    def broken(*tensors, batch_size=256):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(pipeline, "predict_proba_encoded", broken)
    response = client.post("/v1/predict", json={"texts": ["good"]})
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "secret internal detail" in caplog.text  # the log has it
    # The batcher survived: the next request is answered.
    monkeypatch.undo()
    assert client.post("/v1/predict", json={"texts": ["good"]}).status_code == 200
