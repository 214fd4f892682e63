"""Every bad request is a 4xx JSON error naming the problem: never a 500, never a traceback."""

import pytest

LIMITS = {"max_texts": 4, "max_text_chars": 50, "max_body_bytes": 2000}


def check(response, status, error, *words):
    """The status, the one JSON shape, the error code, and a message that names the problem."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == error
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


@pytest.fixture
def client(text_model, serve_client):
    return serve_client(text_model, **LIMITS)


@pytest.mark.parametrize(
    "content, words",
    [
        (b'{"texts": ["good"', ["not valid JSON", "EOF"]),
        (b"texts=good", ["not valid JSON"]),
        (b'{"texts": ["\xff"]}', ["not valid JSON"]),
    ],
)
def test_a_body_that_is_not_json_is_400(client, content, words):
    check(
        client.post("/v1/predict", content=content, headers={"content-type": "application/json"}),
        400,
        "invalid_json",
        *words,
    )


def test_an_empty_body_is_400_and_says_what_to_send(client):
    check(client.post("/v1/predict", content=b""), 400, "invalid_json", "no body", '"texts"')


def test_any_content_type_is_read_as_json(client):
    # curl -d sends application/x-www-form-urlencoded; the body is JSON all the same.
    response = client.post(
        "/v1/predict",
        content=b'{"texts": ["good"]}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body, words",
    [
        (["good"], ["must be a JSON object", "got an array"]),
        ("good", ["must be a JSON object", "got a string"]),
        ({}, ["`texts` is missing"]),
        ({"text": ["good"]}, ["`texts` is missing"]),
        ({"texts": "good"}, ["`texts` must be an array of strings", "got a string"]),
        ({"texts": None}, ["`texts` must be an array of strings", "got null"]),
        ({"texts": []}, ["`texts` is empty"]),
        ({"texts": ["good", 3]}, ["texts[1] must be a string", "got a number"]),
        ({"texts": [["good"]]}, ["texts[0] must be a string", "got an array"]),
        ({"texts": ["a"] * 5}, ["too many texts: 5", "limit is 4", "--max-texts"]),
        (
            {"texts": ["ok", "x" * 51]},
            ["texts[1] has 51 characters", "limit is 50", "--max-text-chars"],
        ),
    ],
)
def test_json_that_breaks_the_schema_is_422_naming_the_field(client, body, words):
    check(client.post("/v1/predict", json=body), 422, "invalid_request", *words)


def test_an_unknown_field_is_named(client):
    body = check(
        client.post("/v1/predict", json={"texts": ["good"], "top_k": 2}),
        422,
        "invalid_request",
        "unknown field `top_k`",
    )
    assert body["details"] == [
        {"field": "top_k", "problem": "unknown field `top_k`: the body takes only `texts`"}
    ]


def test_every_problem_is_listed_and_counted(client):
    body = check(
        client.post("/v1/predict", json={"texts": [1, "ok", None]}),
        422,
        "invalid_request",
        "texts[0]",
        "(and 1 more problem)",
    )
    assert [d["field"] for d in body["details"]] == ["texts[0]", "texts[2]"]


def test_a_huge_list_of_bad_items_gets_a_short_answer(text_model, serve_client):
    client = serve_client(text_model, max_texts=10_000)
    body = check(
        client.post("/v1/predict", json={"texts": [0] * 5000}),
        422,
        "invalid_request",
        "(and 4999 more problems)",
    )
    assert len(body["details"]) == 20


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(client):
    big = b'{"texts": ["' + b"a" * 3000 + b'"]}'
    check(
        client.post("/v1/predict", content=big),
        413,
        "body_too_large",
        f"declares {len(big):,} bytes",
        "2,000 bytes",
        "--max-body-bytes",
    )


def test_a_streamed_body_over_the_limit_is_413(client):
    def chunks():  # no Content-Length: chunked transfer, counted as it arrives
        yield b'{"texts": ["'
        for _ in range(10):
            yield b"a" * 500
        yield b'"]}'

    check(
        client.post("/v1/predict", content=chunks()),
        413,
        "body_too_large",
        "longer than",
        "2,000 bytes",
    )


def test_a_streamed_body_under_the_limit_is_read(client):
    def chunks():
        yield b'{"texts": '
        yield b'["good", "bad"]}'

    response = client.post("/v1/predict", content=chunks())
    assert response.status_code == 200 and len(response.json()["predictions"]) == 2


def test_a_content_length_that_is_not_a_number_is_400(text_model, serve_client):
    # TestClient passes the header through as written; uvicorn refuses it even earlier.
    client = serve_client(text_model)
    check(
        client.post(
            "/v1/predict", content=b'{"texts": ["a"]}', headers={"content-length": "12abc"}
        ),
        400,
        "invalid_request",
        "Content-Length",
    )


@pytest.mark.parametrize(
    "texts, words",
    [
        (["1 2", "one two"], ["input 1 must be numbers", "'one two'"]),
        (["1.5"], ["input 0 must hold non-negative whole-number token ids"]),
        (["-1"], ["non-negative"]),
        (["3 100 2"], ["input 0 holds token id 100", "ids 0 to 7"]),
    ],
)
def test_an_input_the_id_model_cannot_read_is_422_with_the_encoders_message(
    ids_model, serve_client, texts, words
):
    client = serve_client(ids_model)
    check(client.post("/v1/predict", json={"texts": texts}), 422, "unreadable_input", *words)


def test_a_sample_of_the_wrong_size_sent_to_an_array_model_is_422(array_model, serve_client):
    check(
        serve_client(array_model).post("/v1/predict", json={"texts": ["1 2 3"]}),
        422,
        "unreadable_input",
        "input 0 has 3 values",
        "shape (4,)",
    )


def test_letters_sent_to_a_numbers_model_are_422(numbers_model, serve_client):
    check(
        serve_client(numbers_model).post("/v1/predict", json={"texts": ["0.5", "abc"]}),
        422,
        "unreadable_input",
        "input 1",
        "reads numbers, not text",
    )


def test_fastapis_own_validation_errors_have_the_same_shape(text_model):
    # Routes that let FastAPI validate their parameters (none of the API's today) answer
    # in the one shape too.
    from fastapi.testclient import TestClient

    from rnnlab.serving.app import create_app

    app = create_app(text_model)

    @app.get("/probe")
    async def probe(n: int) -> dict:
        return {"n": n}

    with TestClient(app) as client:
        body = check(
            client.get("/probe", params={"n": "many"}),
            422,
            "invalid_request",
            "query.n",
            "valid integer",
        )
        assert body["details"][0]["field"] == "query.n"
        assert client.get("/probe", params={"n": "3"}).json() == {"n": 3}
