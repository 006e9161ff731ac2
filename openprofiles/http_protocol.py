"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, with each response's
writes reaching the socket together, and the edge limits (`EdgeLimits`) a public server needs.

uvicorn writes a response's head as soon as the application starts the response and its body
when the body comes, so a small response costs two writes: two trips through the kernel's TCP
stack and two wake-ups of the client. Here the writes made during one turn of the event loop are
joined and written once at the end of that turn. An application that sends head and body without
waiting in between (every response of ours) goes out in one write. Order is kept, a large write
goes out at once (flow control sees it as before), and closing the connection writes what is
pending first.

The limits (docs/security.md, "The HTTP edge"): a connection with no request under way is closed
after the keep-alive timeout, from its opening as after a response; a request's head must be
complete within the header timeout of the server starting to wait for it (opening or previous
response), its body within the body timeout of its head; past either the client gets 408 and the
connection closes. At most `max_connections` connections are open: one more is closed as soon as
it is accepted, so descriptors stay bounded. When the application answers before reading the whole
body (a refusal), the rest is read and dropped (at most DROP_AT_MOST bytes, within the body
timeout) so that the client, still sending, gets the answer rather than a reset.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
from asyncio import TimerHandle
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Pending bytes at which a write goes out at once instead of at the end of the turn.
FLUSH_AT = 64 * 1024
#: Bytes of a request body read and dropped after an early answer, at most; then the connection closes.
DROP_AT_MOST = 8 * 1024 * 1024
#: Seconds between two warnings that connections are being refused.
WARN_EVERY = 60.0
#: Descriptors a server needs besides its client connections (database, log, listening socket, ...).
SPARE_DESCRIPTORS = 128

log = logging.getLogger(__name__)


class CoalescingTransport:
    """Wraps a transport: writes within one turn of the event loop become one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in chunks:
            self.write(data)

    def flush(self) -> None:
        """Write what is pending (nothing once the connection is closing)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, get_extra_info, pause_reading, set_protocol, ...) as the
        # wrapped transport has it.
        return getattr(self._transport, name)


@dataclass(frozen=True)
class EdgeLimits:
    """Timeouts (seconds) and the connection cap of the HTTP edge."""

    keep_alive_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `CoalescingTransport`, within `limits`."""

    limits: ClassVar[EdgeLimits] = EdgeLimits()
    _warned_at: ClassVar[float] = -math.inf

    @classmethod
    def configured(cls, limits: EdgeLimits) -> type[HttpProtocol]:
        """This protocol with other limits (uvicorn takes a protocol class)."""
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
        self._deadline: TimerHandle | None = None  # the head's or the body's
        self._head_started = False  # a byte of the awaited head has come
        self._in_body = False  # the parser is inside a request's body
        self._dropped = 0  # body bytes dropped after an early answer
        self._refused = False

    # --- connections ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refuse(transport)
            return
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._await_head()

    def _refuse(self, transport: asyncio.Transport) -> None:
        self._refused = True
        self.transport = transport
        transport.close()
        now = self.loop.time()
        if now - HttpProtocol._warned_at >= WARN_EVERY:
            HttpProtocol._warned_at = now
            log.warning("%d client connections are open (--max-connections): new ones are closed at once",
                        len(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._set_deadline(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_body and self._deadline is None and not self.transport.is_closing():
            self._set_deadline(self.limits.body_timeout, self._body_expired)

    def handle_websocket_upgrade(self) -> None:
        self._set_deadline(None)  # the connection is the WebSocket protocol's from here
        self._unset_keepalive_if_required()
        super().handle_websocket_upgrade()

    # --- parser and response events ------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True

    def on_headers_complete(self) -> None:
        self._head_started = False
        self._in_body = True
        self._set_deadline(None)  # the body's deadline is set once this read is done, if it is not all here
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and self.cycle.response_complete:  # answered already: drop the rest
            self._dropped += len(body)
            if self._dropped > DROP_AT_MOST:
                self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        self._dropped = 0
        self._set_deadline(None)
        if self.cycle is not None and self.cycle.response_complete:  # answered before its body ended
            self._await_head()

    def on_response_complete(self) -> None:
        awaits_head = not self.pipeline and not self._in_body
        super().on_response_complete()
        if awaits_head and not self.transport.is_closing():
            self._await_head()

    # --- deadlines -----------------------------------------------------------------------

    def _await_head(self) -> None:
        """Wait for a request's head: idle until its first byte, complete within the header timeout."""
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        self._set_deadline(self.limits.header_timeout, self._head_expired)

    def _set_deadline(self, seconds: float | None, expired: Callable[[], None] | None = None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if seconds is not None and expired is not None:
            self._deadline = self.loop.call_later(seconds, expired)

    def _head_expired(self) -> None:
        self._deadline = None
        if self._head_started:
            self._time_out()
        else:
            self.transport.close()

    def _body_expired(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_started:
            self._time_out()
        else:
            self.transport.close()

    def _time_out(self) -> None:
        """408 and close: the client was too slow to send its request."""
        if self.transport.is_closing():
            return
        message = b"The request was not received in time"
        self.transport.write(b"".join([
            STATUS_LINE[408], b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: ", str(len(message)).encode(), b"\r\n", b"connection: close\r\n\r\n", message,
        ]))
        self.transport.close()


def connections_within_open_files_limit(max_connections: int) -> int:
    """Raise the soft limit on open descriptors to the hard one; the client connections that fit
    under it beside the server's own descriptors: `max_connections`, or fewer (with a warning)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft - SPARE_DESCRIPTORS >= max_connections:
        return max_connections
    fitting = max(1, soft - SPARE_DESCRIPTORS)
    log.warning("at most %d open files: serving at most %d connections, not --max-connections %d "
                "(raise the limit, e.g. `ulimit -n`, to serve more)", soft, fitting, max_connections)
    return fitting
