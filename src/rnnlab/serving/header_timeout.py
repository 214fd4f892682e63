"""`header_timeout_protocol`: uvicorn's HTTP protocol, closing connections whose headers stall.

uvicorn closes an idle keep-alive connection between requests, but not one that
has sent nothing yet or half of a request's headers: such a client could hold
its connection, and a file descriptor, for ever (slowloris). The protocol here,
uvicorn's own httptools protocol (the `[serve]` extra installs httptools), arms a
timer when a connection opens and when a request begins, and disarms it once the
request's headers are complete; a connection still without them when it fires is
closed. The body's own deadline is `BodyLimit`'s (a 408).
"""

from __future__ import annotations

import asyncio
from typing import Any


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol] | str:
    """A protocol class for ``uvicorn.Config(http=...)``; 'auto' where httptools is missing
    (uvicorn's default protocol then, without this timeout)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _headers_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._headers_timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._headers_timer is not None:
                self._headers_timer.cancel()
                self._headers_timer = None

        def _expire(self) -> None:
            self._headers_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
