"""`serve`: what `rnnlab serve MODEL` runs: load the model, bind the address, run uvicorn.

The model is loaded and the socket bound before uvicorn starts, so a damaged model
directory or a port in use is one line from the command line (exit 2), not a
traceback in uvicorn's log; the app's lifespan then starts the batcher on the
loaded model.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from rnnlab.serving.extra import missing_extra
from rnnlab.serving.header_timeout import header_timeout_protocol
from rnnlab.serving.settings import ServeSettings

try:
    import uvicorn
except ModuleNotFoundError as exc:  # the [serve] extra is not installed
    raise missing_extra(exc) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv4 or IPv6; port 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn binds: a restart may reuse the port while old connections linger.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    model: str | Path, settings: ServeSettings | None = None, log_level: str = "info"
) -> None:
    """Serve the saved model in ``model`` until interrupted (Ctrl-C or SIGTERM)."""
    from rnnlab.pipeline import load
    from rnnlab.serving.app import create_app

    settings = settings if settings is not None else ServeSettings()
    pipeline = load(model)
    sock = bind(settings.host, settings.port)
    app = create_app(pipeline, settings)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=settings.access_log,
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=header_timeout_protocol(settings.header_timeout_s),
    )
    print(
        f"rnnlab: serving {pipeline.name} ({pipeline.inputs.kind} input, "
        f"{len(pipeline.labels)} classes) at {url_of(sock)}  (page /, API docs /docs)",
        file=sys.stderr,
        flush=True,
    )
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
