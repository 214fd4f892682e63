"""`BodyLimit`: an ASGI middleware that answers 413 to a request body over the size limit.

It checks twice: a Content-Length over the limit is refused before a byte of the
body is read, and a body that streams past the limit (chunked, or longer than it
claimed) is refused as soon as it does, so a client can never make the server
buffer more than ``max_bytes``. The body read here is handed on to the app as one
message, so the app reads it as usual.

Plain ASGI, no framework import: it wraps any ASGI app.
"""

from __future__ import annotations

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

    def __init__(self, app: ASGIApp, max_bytes: int, flag: str = "--max-body-bytes") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.flag = flag

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
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away mid-body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, "is longer than")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

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
