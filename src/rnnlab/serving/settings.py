"""`ServeSettings`: every knob of `rnnlab serve`, with its default, checked once.

The request limits protect the server from one client: a request holds at most
``max_texts`` texts of at most ``max_text_chars`` characters each, in a body of at
most ``max_body_bytes``. The batching settings are TorchServe's ``batch_size`` and
``max_batch_delay``: the server runs up to ``max_batch`` texts in one forward pass,
and waits at most ``max_wait_ms`` after the oldest waiting request for a batch to
fill.

>>> ServeSettings().max_texts, ServeSettings().max_body_bytes
(256, 1048576)
>>> ServeSettings(max_batch=0)
Traceback (most recent call last):
...
rnnlab.errors.InvalidValueError: `max_batch` must be a positive integer, got 0
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.errors import InvalidValueError, check_int, check_positive, check_type

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeSettings:
    """Where `rnnlab serve` listens, what one request may hold, and how requests are batched.

    Args:
        host: the address to bind; loopback unless told otherwise.
        port: the TCP port (0: any free port).
        max_texts: texts in one request.
        max_text_chars: characters in one text.
        max_body_bytes: bytes in one request body (checked before and while reading it).
        max_batch: texts in one forward pass (1: one pass per request, no batching).
        max_wait_ms: how long a waiting request may be held back for company (0: never).
        access_log: log one line per request (uvicorn's access log).
        header_timeout_s: seconds a connection may take to send a request's headers,
            from its opening or the request's first byte; then it is closed.
        body_timeout_s: seconds a request body may take to arrive after its headers
            (408 after that): a client that stalls mid-body holds its connection no longer.
        max_explain_steps: integration points one explanation may ask for (its cost
            grows with them: one forward and backward pass of that many inputs).
        max_explains: explanations computed at once; more wait their turn (each takes
            a CPU thread for a fraction of a second, and predictions go on meanwhile).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_texts: int = 256
    max_text_chars: int = 20_000
    max_body_bytes: int = 1 << 20
    max_batch: int = 64
    max_wait_ms: float = 2.0
    access_log: bool = True
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_explain_steps: int = 256
    max_explains: int = 1

    def __post_init__(self) -> None:
        check_type("host", self.host, str)
        if not self.host.strip():
            raise InvalidValueError("`host` must be an address such as 127.0.0.1, got ''")
        port = check_int("port", self.port, minimum=0)
        if port > 65535:
            raise InvalidValueError(f"`port` must be at most 65535, got {port}")
        check_int("max_texts", self.max_texts, minimum=1)
        check_int("max_text_chars", self.max_text_chars, minimum=1)
        check_int("max_body_bytes", self.max_body_bytes, minimum=1)
        check_int("max_batch", self.max_batch, minimum=1)
        # A frozen dataclass: the checked float goes back through object.__setattr__.
        object.__setattr__(
            self,
            "max_wait_ms",
            check_positive("max_wait_ms", self.max_wait_ms, integer=False, allow_zero=True),
        )
        check_type("access_log", self.access_log, bool)
        for name in ("header_timeout_s", "body_timeout_s"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name), integer=False))
        check_int("max_explain_steps", self.max_explain_steps, minimum=1)
        check_int("max_explains", self.max_explains, minimum=1)
