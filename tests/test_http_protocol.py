"""The server's HTTP protocol: writes within one turn of the event loop go out as one write, in order,
and nothing pending is lost when the connection closes; the running server still speaks HTTP/1.1
(keep-alive, pipelining, Connection: close, HEAD) over it, and drops a refused body only so far.
Timeouts and the connection cap: tests/test_http_edge.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from openprofiles.api.dispatch import MAX_BODY
from openprofiles.http_protocol import DROP_AT_MOST, FLUSH_AT, CoalescingTransport
from tests.harness import Server


class RecordingTransport(asyncio.Transport):
    """A stand-in for the socket transport that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def _wrapped() -> tuple[RecordingTransport, CoalescingTransport]:
    """A recording transport and the coalescing transport around it (inside a running loop)."""
    inner = RecordingTransport()
    return inner, CoalescingTransport(inner, asyncio.get_running_loop())


async def _turn() -> None:
    """Let the event loop finish its current turn."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_writes_in_one_turn_go_out_as_one_write_in_order() -> None:
    async def scenario() -> None:
        inner, transport = _wrapped()
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(bytearray(b"{"))
        transport.write(memoryview(b'"a": 1}'))
        transport.write(b"")
        assert inner.writes == []
        assert transport.get_write_buffer_size() == 27 + 7
        await _turn()
        assert inner.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a": 1}']
        transport.write(b"next")
        await _turn()
        assert inner.writes[1:] == [b"next"]
        assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)

    asyncio.run(scenario())


def test_writelines_joins_the_same_write_in_order() -> None:
    async def scenario() -> None:
        inner, transport = _wrapped()
        transport.write(b"a")
        transport.writelines([b"b", bytearray(b"c")])
        transport.write(b"d")
        await _turn()
        assert inner.writes == [b"abcd"]

    asyncio.run(scenario())


def test_a_large_write_goes_out_at_once() -> None:
    async def scenario() -> None:
        inner, transport = _wrapped()
        transport.write(b"head")
        transport.write(b"x" * FLUSH_AT)
        assert inner.writes == [b"head" + b"x" * FLUSH_AT]
        transport.write(b"tail")
        await _turn()
        assert inner.writes[1:] == [b"tail"]

    asyncio.run(scenario())


def test_close_and_write_eof_write_what_is_pending_first_abort_drops_it() -> None:
    async def scenario() -> None:
        inner, transport = _wrapped()
        transport.write(b"last words")
        transport.close()
        assert inner.writes == [b"last words"] and inner.events == ["write", "close"]
        await _turn()
        assert inner.writes == [b"last words"]

        inner, transport = _wrapped()
        transport.write(b"then eof")
        transport.write_eof()
        assert inner.events == ["write", "eof"]

        inner, transport = _wrapped()
        transport.write(b"never sent")
        transport.abort()
        await _turn()
        assert inner.writes == [] and inner.events == ["abort"]

    asyncio.run(scenario())


def test_nothing_is_written_to_a_connection_already_closing() -> None:
    async def scenario() -> None:
        inner, transport = _wrapped()
        transport.write(b"too late")
        inner.closing = True  # the peer went away
        await _turn()
        assert inner.writes == []

    asyncio.run(scenario())


# --- the running server ---------------------------------------------------------------------


def _read_response(sock: socket.socket, buffer: bytearray, head_only: bool = False) -> tuple[bytes, bytes]:
    """One response from `sock` (bytes already read are in `buffer`): its head and body."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head: {bytes(buffer)!r}"
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    length = 0 if head_only else next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(buffer) < end + length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        buffer += chunk
    body = bytes(buffer[end:end + length])
    del buffer[:end + length]
    return head, body


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_keep_alive_and_pipelined_requests_get_whole_responses_in_order(open_server: Server) -> None:
    with _connect(open_server) as sock:
        buffer = bytearray()
        for _ in range(3):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head, body = _read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["status"] == "ok"
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"POST /domains/none/profiles/search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n{}"
        )
        first = _read_response(sock, buffer)
        second = _read_response(sock, buffer)
        assert json.loads(first[1])["status"] == "ok"
        assert second[0].startswith(b"HTTP/1.1 400") and b"x-amzn-errortype: badrequestexception" in second[0].lower()
        assert "KeyName" in json.loads(second[1])["Message"]
        assert buffer == b""


def test_connection_close_delivers_the_whole_response_before_closing(open_server: Server) -> None:
    with _connect(open_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower()
    assert json.loads(body)["status"] == "ok"


def test_head_request_gets_the_head_alone(open_server: Server) -> None:
    with _connect(open_server) as sock:
        buffer = bytearray()
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, body = _read_response(sock, buffer, head_only=True)
        assert head.startswith(b"HTTP/1.1 ") and body == b""
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, body = _read_response(sock, buffer)
        assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["status"] == "ok"


def test_a_websocket_upgrade_is_refused_whole_and_closed(open_server: Server) -> None:
    """The upgrade path hands the transport to uvicorn's WebSocket protocol: its refusal still
    arrives whole before the connection closes."""
    with _connect(open_server) as sock:
        sock.sendall(b"GET /console/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 403") and received.endswith(b"\r\n\r\n")


def test_a_body_over_the_limit_is_refused_before_it_is_read_and_its_connection_closed(open_server: Server) -> None:
    """The refusal comes at once; of the body sent after it the server drops DROP_AT_MOST bytes at
    most, then closes the connection."""
    declared = 64 * MAX_BODY
    with _connect(open_server) as sock:
        sock.sendall(b"POST /domains/big HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % declared)
        head, body = _read_response(sock, bytearray())
        assert head.startswith(b"HTTP/1.1 400") and "larger than 8 MiB" in json.loads(body)["Message"]
        sent, chunk = 0, b"x" * 2**16
        with contextlib.suppress(OSError):
            while sent < declared:
                sock.sendall(chunk)
                sent += len(chunk)
    # What the socket buffers on both ends hold besides what the server read: a few MiB.
    assert sent < DROP_AT_MOST + 16 * 2**20
