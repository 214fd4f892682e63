"""Fixtures of the serving tests: small saved models of each input kind, clients, a live server."""

import socket
import threading
import time
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi", reason="the serving tests need the `serve` extra")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

import rnnlab
from rnnlab.serving.app import create_app
from rnnlab.serving.settings import ServeSettings

# Starlette 1.x asks for `httpx2` and warns on `httpx`, which older Starlette needs.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient

POSITIVE = ["a good fun film", "great acting and a fun story", "good and great", "fun fun fun"]
NEGATIVE = ["a bad dull film", "dull acting and a bad story", "bad and boring", "boring dull"]


@pytest.fixture(scope="session")
def text_model(tmp_path_factory):
    """A tiny text model (TextClassifier) with a training part, saved: its directory."""
    texts, labels = POSITIVE + NEGATIVE, ["pos"] * 4 + ["neg"] * 4
    # Enough training to tell a positive review from a negative one (0.1 s).
    # The recurrent kind: the explanation tests are about integrated gradients over its
    # embedding (a hybrid is explained by occlusion; tests/interpret covers both).
    clf = rnnlab.TextClassifier(
        model_kind="recurrent",
        validation_split=None,
        patience=None,
        padding="pre",
        maxlen=None,
        epochs=10,
        batch_size=4,
        lr=0.05,
        module__units=(8,),
        module__embedding_dim=8,
        module__cell="lstm",
        module__bidirectional=False,
        module__mask=False,
        module__pooling="last",
        module__output_dropout=0.0,
        random_state=0,
    ).fit(texts, labels)
    directory = tmp_path_factory.mktemp("text_model")
    clf.save(directory / "plain")
    pipeline = rnnlab.load(directory / "plain")
    # What `rnnlab train` saves beside a model (shortened): the server reports it.
    pipeline.parts["training"] = {
        "name": "toy_reviews",
        "seed": 0,
        "epochs_run": 10,
        "config": {"name": "toy_reviews", "model": {"cell": "lstm", "units": [8]}},
        "test": {"accuracy": 0.75, "loss": 0.5, "macro_f1": float("nan")},
    }
    return pipeline.save(directory / "trained")


@pytest.fixture(scope="session")
def ids_model(tmp_path_factory):
    """A tiny SequenceClassifier on token ids (vocab_size 8), saved: its directory."""
    X = [[1, 2, 3], [4, 5], [1, 2], [4, 5, 6, 7]] * 2
    clf = rnnlab.SequenceClassifier(
        epochs=2, batch_size=4, module__units=(4,), module__embedding_dim=4, random_state=0
    )
    clf.fit(X, ["a", "b", "a", "b"] * 2)
    return clf.save(tmp_path_factory.mktemp("ids_model") / "model")


@pytest.fixture(scope="session")
def numbers_model(tmp_path_factory):
    """A tiny SequenceClassifier on one number per step, three classes, saved."""
    X = [[0.5, 1.5], [2.5, 1.0, 3.0], [0.1]] * 3
    clf = rnnlab.SequenceClassifier(epochs=2, module__units=(4,), random_state=0)
    clf.fit(X, ["x", "y", "z"] * 3)
    return clf.save(tmp_path_factory.mktemp("numbers_model") / "model")


@rnnlab.register_model("serving_tests_mlp")
def small_mlp(num_classes, input_shape, width=4):
    return torch.nn.Sequential(
        torch.nn.Linear(input_shape[-1], width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, num_classes),
    )


@pytest.fixture(scope="session")
def array_model(tmp_path_factory):
    """A ModelClassifier with a registered factory on samples of 4 numbers, saved."""
    X = np.random.RandomState(0).normal(size=(9, 4)).round(2)
    clf = rnnlab.ModelClassifier(small_mlp, epochs=2, batch_size=3, random_state=0)
    clf.fit(X, ["u", "v", "w"] * 3)
    return clf.save(tmp_path_factory.mktemp("array_model") / "model")


@pytest.fixture
def serve_client():
    """``serve_client(model_dir, **settings)``: a TestClient with the app's lifespan running."""
    clients = []

    def make(model, **settings):
        client = TestClient(
            create_app(model, ServeSettings(**settings)), raise_server_exceptions=False
        )
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


class LiveServer:
    """uvicorn serving an app on a free 127.0.0.1 port, in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live_server():
    """``live_server(model_dir, **settings)``: a started LiveServer, stopped at the end."""
    servers = []

    def start(model, **settings):
        server = LiveServer(create_app(model, ServeSettings(**settings))).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
