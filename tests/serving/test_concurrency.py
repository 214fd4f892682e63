"""Concurrent requests against a real uvicorn on 127.0.0.1: batched, answered in order, exact."""

import http.client
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import numpy as np

import rnnlab

WORDS = ["good", "bad", "fun", "dull", "great", "boring", "film", "story", "acting", "and"]


def texts_of(request: int) -> list[str]:
    """1 to 3 distinct texts per request, so a mix-up between requests or rows shows."""
    rng = np.random.default_rng(request)
    return [
        " ".join(rng.choice(WORDS, size=int(rng.integers(1, 9)))) for _ in range(1 + request % 3)
    ]


def post(url: str, body: bytes) -> tuple[int, dict]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def get(url: str, path: str) -> dict:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def test_64_requests_from_16_threads_are_batched_and_each_gets_its_own_answers(
    text_model, live_server
):
    pipeline = rnnlab.load(text_model)
    requests = [texts_of(i) for i in range(64)]
    # What a server answering one text at a time would say.
    alone = {t: pipeline.predict_proba([t])[0] for texts in requests for t in texts}
    server = live_server(text_model, max_batch=32, max_wait_ms=20)

    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda texts: post(server.url, json.dumps({"texts": texts}).encode()), requests
            )
        )

    worst = 0.0
    for texts, (status, body) in zip(requests, answers):
        assert status == 200, body
        assert len(body["predictions"]) == len(texts)
        for text, prediction in zip(texts, body["predictions"]):
            got = np.array([prediction["probabilities"][name] for name in pipeline.labels])
            worst = max(worst, float(np.abs(got - alone[text]).max()))
            assert prediction["label"] == pipeline.labels[int(alone[text].argmax())]
    # Independent of batch company: float32 passes of different sizes may round
    # differently, but never by more than this (measured: about 1e-9 here).
    print(f"max |served - alone| = {worst:.2e}")
    assert worst <= 1e-6, worst
    health = get(server.url, "/health")
    assert health["texts"] == sum(len(t) for t in requests)
    assert health["largest_batch"] > 3 and health["batches"] < 64, health


def test_clients_that_go_away_do_not_break_the_server(text_model, live_server):
    server = live_server(text_model, max_wait_ms=50)
    host, port = urlparse(server.url).hostname, urlparse(server.url).port
    body = json.dumps({"texts": ["good fun"]}).encode()
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for sent in (head[:20], head, head + body[:5], head + body):
        # Gone mid-headers, mid-body, or before reading the answer it asked for.
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(sent)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server.url, body), range(16)))
    assert all(status == 200 for status, _ in answers)
    assert get(server.url, "/health")["status"] == "ok"


def test_an_unreadable_request_batched_with_good_ones_fails_alone(ids_model, live_server):
    server = live_server(ids_model, max_wait_ms=50)
    bodies = [["1 2 3"], ["1 99"], ["4 5"], ["1 x"], ["2"]] * 4
    with ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(lambda texts: post(server.url, json.dumps({"texts": texts}).encode()), bodies)
        )
    statuses = [status for status, _ in answers]
    assert statuses == [200, 422, 200, 422, 200] * 4
    assert "token id 99" in answers[1][1]["message"]
