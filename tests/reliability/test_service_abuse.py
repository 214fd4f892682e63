"""Clients that stall or go away, against a real `rnnlab serve` process: others are still answered.

Raw sockets on 127.0.0.1, every wait bounded by a socket timeout. A body that
stalls gets a 408 after ``--body-timeout-s`` and its connection is closed;
headers that stall (or a connection that sends nothing) are closed after
``--header-timeout-s``; a client that disconnects mid-body, or after sending a
whole request and before reading the answer, leaves the batcher answering
everyone else, and exactly.
"""

import json
import socket
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service tests need the `serve` extra")

import rnnlab
from tests.reliability.service import Server, address, post, texts, train_model

WAIT = 30  # the bound of every socket wait: a hang fails the test instead of hanging it


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train_model(tmp_path_factory.mktemp("abuse"))


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by WAIT)."""
    sock.settimeout(WAIT)
    raw = b""
    try:
        while chunk := sock.recv(65536):
            raw += chunk
    except ConnectionResetError:
        pass
    return raw


def predict_all(url: str, reviews: list[str], threads: int = 8) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda t: post(url, "/v1/predict", {"texts": [t]}, WAIT), reviews))


def assert_right(answers, reviews, pipeline):
    expected = pipeline.predict_proba(reviews)
    for (status, body), want in zip(answers, expected):
        assert status == 200, body
        got = [body["predictions"][0]["probabilities"][name] for name in pipeline.labels]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_stalled_clients_do_not_block_others_and_are_cut_off(model):
    pipeline = rnnlab.load(model)
    reviews = texts(40, seed=1)
    options = ["--body-timeout-s", "2", "--header-timeout-s", "2", "--max-wait-ms", "5"]
    with Server(model, options) as server:
        host, port = address(server.url)
        body = json.dumps({"texts": ["a good fun film"]}).encode()
        head = (
            f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        half_body, half_head, silent = [], [], []
        for _ in range(6):
            sock = socket.create_connection((host, port), timeout=WAIT)
            sock.sendall(head + body[: len(body) // 2])
            half_body.append(sock)
            sock = socket.create_connection((host, port), timeout=WAIT)
            sock.sendall(head[: len(head) // 2])
            half_head.append(sock)
            silent.append(socket.create_connection((host, port), timeout=WAIT))

        # While 18 connections stall, everyone else is answered, and exactly.
        assert_right(predict_all(server.url, reviews), reviews, pipeline)

        # A stalled body gets the 408 in the one error shape, then the connection closes.
        for sock in half_body:
            raw = read_to_close(sock)
            head_of, _, answer = raw.partition(b"\r\n\r\n")
            assert head_of.split(b" ", 2)[1] == b"408", raw[:300]
            error = json.loads(answer)
            assert error["error"] == "request_timeout" and "--body-timeout-s" in error["message"]
        # Stalled headers and silent connections are closed (uvicorn alone keeps them).
        for sock in half_head + silent:
            assert read_to_close(sock) == b""
        for sock in half_body + half_head + silent:
            sock.close()

        # And the server goes on answering.
        assert_right(predict_all(server.url, reviews[:8]), reviews[:8], pipeline)
        assert server.health()["status"] == "ok"
    assert "Traceback" not in "".join(server.log), "".join(server.log)[-2000:]


def test_clients_that_disconnect_mid_request_do_not_break_the_batcher(model):
    pipeline = rnnlab.load(model)
    reviews = texts(60, seed=2)
    with Server(model, ["--max-wait-ms", "20"]) as server:
        host, port = address(server.url)

        def vanish(k: int) -> None:
            """Send a request, or half of it, and go away before the answer."""
            body = json.dumps({"texts": reviews[k % 10 : k % 10 + 3]}).encode()
            path = "/v1/explain" if k % 5 == 4 else "/v1/predict"
            if path == "/v1/explain":
                body = json.dumps({"text": reviews[k], "steps": 16}).encode()
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sent = [head[:10], head, head + body[:3], head + body, head + body][k % 5]
            with socket.create_connection((host, port), timeout=WAIT) as sock:
                sock.sendall(sent)
                if k % 2:  # a reset instead of a clean close
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def good(k: int) -> tuple[int, dict]:
            return post(server.url, "/v1/predict", {"texts": [reviews[k]]}, WAIT)

        with ThreadPoolExecutor(12) as pool:
            gone = [pool.submit(vanish, k) for k in range(60)]
            answers = list(pool.map(good, range(60)))
            for future in gone:
                future.result()
        assert_right(answers, reviews, pipeline)
        # Later requests, batched together, are still answered in order and exactly.
        assert_right(predict_all(server.url, reviews, threads=16), reviews, pipeline)
        health = server.health()
        assert health["status"] == "ok" and health["largest_batch"] > 1, health
    assert "Traceback" not in "".join(server.log), "".join(server.log)[-2000:]
