"""`BodyLimit`: an ASGI middleware that answers 413 to a body over the size limit, 408 to a slow one.

It checks twice: a Content-Length over the limit is refused before a byte of the
body is read, and a body that streams past the limit (chunked, or longer than it
claimed) is refused as soon as it does, so a client can never make the server
buffer more than ``max_bytes``. A body that has not fully arrived ``timeout_s``
after its headers (a client that sent half of it and stalled) is answered 408 and
its connection closed, so it holds nothing for longer (uvicorn has no such
timeout: it waits for a body as long as the connection stays open). The body
read here is handed on to the app as one message, so the app reads it as usual.

Plain ASGI, no framework import: it wraps any ASGI app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Wrap ``app`` so that request bodies over ``max_bytes`` get a 413 JSON answer."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        flag: str = "--max-body-bytes",
        timeout_s: float | None = None,
        timeout_flag: str = "--body-timeout-s",
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.flag = flag
        self.timeout_s = timeout_s
        self.timeout_flag = timeout_flag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == "invalid":
            await _answer(
                send,
                400,
                "invalid_request",
                "the Content-Length header is not a non-negative whole number",
            )
            return
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send, f"declares {declared:,} bytes, over")
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive, send)
        except TimeoutError:
            await _answer(
                send,
                408,
                "request_timeout",
                f"the request body did not arrive within {self.timeout_s:g} s of its "
                f"headers (the server's {self.timeout_flag})",
            )
            return
        if body is None:
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when it was refused (413) or its client went away."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client went away mid-body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, "is longer than")
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send, what: str) -> None:
        await _answer(
            send,
            413,
            "body_too_large",
            f"the request body {what} the limit of {self.max_bytes:,} bytes "
            f"(the server's {self.flag})",
        )


def _content_length(scope: Scope) -> int | None | str:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else "invalid"
    return None


async def _answer(send: Send, status: int, error: str, message: str) -> None:
    """A JSON error of the shape every other error of the server has (see `errors.py`)."""
    body = json.dumps({"error": error, "message": message, "details": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
