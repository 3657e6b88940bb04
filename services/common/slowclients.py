"""uvicorn's h11 protocol with a request-header deadline (slowloris).

uvicorn times out idle keep-alive connections, but a connection that keeps sending a few bytes
of headers, or opens and sends nothing, stays open forever. Here every connection must deliver
complete request headers within ``header_timeout_s`` of opening (or of its previous response
finishing); otherwise it is closed. Bodies are bounded by the body-limit middleware.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineH11(H11Protocol):
    header_timeout_s: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # headers complete: the request is running
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:  # waiting for the next request's headers
            self._arm()


def protocol_with_deadline(header_timeout_s: float) -> type[HeaderDeadlineH11]:
    return type("HeaderDeadlineH11", (HeaderDeadlineH11,), {"header_timeout_s": header_timeout_s})


def uvicorn_options(header_timeout_s: float, keep_alive_s: int, max_connections: int,
                    max_header_bytes: int) -> dict[str, Any]:
    return {
        "http": protocol_with_deadline(header_timeout_s),
        "timeout_keep_alive": keep_alive_s,
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": max_header_bytes,
    }
