"""A real `rnnlab serve` process for the service tests: a small saved model, texts, raw HTTP.

Imported, not collected. The server is `benchmarks/load_test.py`'s `Server`
(``python -m rnnlab serve`` on a free 127.0.0.1 port, a process of its own), so
the tests hit the same uvicorn, middleware and batcher a user runs.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np

import rnnlab

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import soak as soak_script  # noqa: E402  (benchmarks/soak.py)
from load_test import Server  # noqa: E402

WORDS = ["good", "bad", "fun", "dull", "great", "boring", "film", "story", "acting", "and"]
POSITIVE = ["a good fun film", "great acting and a fun story", "good and great", "fun fun fun"]
NEGATIVE = ["a bad dull film", "dull acting and a bad story", "bad and boring", "boring dull"]

__all__ = ["Server", "soak_script", "texts", "train_model", "post", "address"]


def train_model(directory: Path) -> Path:
    """A tiny TextClassifier that tells the toy reviews apart, saved in ``directory``."""
    clf = rnnlab.TextClassifier(
        epochs=10,
        batch_size=4,
        lr=0.05,
        module__units=(8,),
        module__embedding_dim=8,
        random_state=0,
    ).fit(POSITIVE + NEGATIVE, ["pos"] * 4 + ["neg"] * 4)
    return clf.save(directory / "model")


def texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct-ish random reviews of 1 to 12 words."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 13)))) for _ in range(n)]


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def post(url: str, path: str, payload: object, timeout: float = 30) -> tuple[int, dict]:
    """One POST on a new connection, read to its end (bounded by ``timeout``)."""
    body = json.dumps(payload).encode()
    host, port = address(url)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, content = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(content)
