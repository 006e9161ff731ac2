"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, with each response's
writes reaching the socket together.

uvicorn writes a response's head as soon as the application starts the response and its body
when the body comes, so a small response costs two writes: two trips through the kernel's TCP
stack and two wake-ups of the client. Here the writes made during one turn of the event loop are
joined and written once at the end of that turn. An application that sends head and body without
waiting in between (every response of ours) goes out in one write. Order is kept, a large write
goes out at once (flow control sees it as before), and closing the connection writes what is
pending first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Pending bytes at which a write goes out at once instead of at the end of the turn.
FLUSH_AT = 64 * 1024


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


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
