"""The HTTP edge of a running `openprofiles serve`, driven over raw sockets and boto3: idle and slow
connections are closed after their timeouts, connections past --max-connections are closed at once,
and a request that cannot be authentic is answered before its body is read (so refused uploads cost
no memory), while the body of a signed one is hashed as it streams and checked against its signature."""

from __future__ import annotations

import contextlib
import hashlib
import json
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError

from openprofiles.api.dispatch import MAX_BODY, READ_AHEAD
from openprofiles.http_protocol import SPARE_DESCRIPTORS
from tests.harness import Credentials, Server, sign_request

KEEP_ALIVE = 1.0
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 230
#: Seconds a timeout may fire late on a busy test machine.
SLACK = 2.0
UNKNOWN_KEY = Credentials("AKIAUNKNOWNUNKNOWN00", "s" * 40, "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Credentials]]:
    """A signed (sigv4) server on SQLite with short edge timeouts, started with a soft open-files
    limit below its hard one (the server raises it)."""
    server = Server(tmp_path_factory.mktemp("edge"), None, args=(
        "--keep-alive-timeout", str(KEEP_ALIVE), "--header-timeout", str(HEADER_TIMEOUT),
        "--body-timeout", str(BODY_TIMEOUT), "--max-connections", str(MAX_CONNECTIONS)))
    creds = server.create_key()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
    try:
        server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    yield server, creds
    server.stop()


# --- helpers ----------------------------------------------------------------------------------


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _wait_closed(socks: list[socket.socket], within: float) -> dict[socket.socket, tuple[float, bytes]]:
    """Wait (at most `within` seconds) for the server to close each socket: when it did (seconds from
    now) and what it sent before; sockets still open are left out."""
    start = time.monotonic()
    received = {s: b"" for s in socks}
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    while len(closed) < len(socks):
        remaining = start + within - time.monotonic()
        if remaining <= 0:
            break
        waiting = [s for s in socks if s not in closed]
        for sock in select.select(waiting, [], [], remaining)[0]:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data:
                received[sock] += data
            else:
                closed[sock] = (time.monotonic() - start, received[sock])
    return closed


def _head(prepared: AWSPreparedRequest, length: int | None = None) -> bytes:
    """A signed request's head as it goes on the wire, declaring `length` body bytes (default: its own)."""
    url = urlsplit(prepared.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    lines = [f"{prepared.method} {target} HTTP/1.1", f"Host: {url.netloc}"]
    for name, value in prepared.headers.items():
        if name.lower() != "content-length":
            lines.append(f"{name}: {value.decode() if isinstance(value, bytes) else value}")
    body = prepared.body or b""
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _unsigned_head(server: Server, path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One response read from `sock`: status, headers (lower-case names), JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, json.loads(body)


def _status(pid: int, field: str) -> int:
    """A field of /proc/PID/status, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _padded_domain() -> bytes:
    """A CreateDomain body longer than READ_AHEAD (unknown members are ignored)."""
    return json.dumps({"DefaultExpirationDays": 5, "Padding": "x" * (2 * READ_AHEAD)}).encode()


# --- timeouts and the connection cap ------------------------------------------------------------


def test_idle_connections_do_not_delay_requests_and_are_closed(server: tuple[Server, Credentials]) -> None:
    srv, creds = server
    idle = [_connect(srv) for _ in range(200)]
    try:
        started = time.monotonic()
        assert "Items" in srv.client("customer-profiles", creds).list_domains()
        assert time.monotonic() - started < 1.0
        # A connection that made a request and then idles is closed too.
        with _connect(srv) as used:
            used.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
            assert _response(used)[0] == 200
            closed = _wait_closed([*idle, used], KEEP_ALIVE + SLACK)
        assert len(closed) == 201, f"{201 - len(closed)} connections still open"
        assert min(when for when, _ in closed.values()) > KEEP_ALIVE / 2
        assert all(data == b"" for _, data in closed.values())  # idle: closed without a word
    finally:
        for sock in idle:
            sock.close()


def test_a_slow_request_head_is_cut_after_the_header_timeout(server: tuple[Server, Credentials]) -> None:
    srv, _ = server
    with _connect(srv) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Slow: ".encode())
        closed = _wait_closed([sock], HEADER_TIMEOUT + SLACK)
    assert sock in closed, "a half-sent head kept its connection"
    when, data = closed[sock]
    assert when > HEADER_TIMEOUT - 0.5  # not the keep-alive timeout: the head had begun
    assert data.startswith(b"HTTP/1.1 408")


def test_a_slow_body_is_cut_after_the_body_timeout(server: tuple[Server, Credentials]) -> None:
    srv, creds = server
    body = b'{"DefaultExpirationDays": 5}'
    prepared = sign_request(creds, "POST", f"{srv.endpoint}/domains/slowbody", body=body,
                            headers={"Content-Type": "application/json"})
    with _connect(srv) as sock:
        sock.sendall(_head(prepared) + body[:5])
        closed = _wait_closed([sock], BODY_TIMEOUT + SLACK)
    assert sock in closed, "a half-sent body kept its connection"
    when, data = closed[sock]
    assert when > BODY_TIMEOUT - 0.5
    assert data.startswith(b"HTTP/1.1 408")


def test_connections_past_the_cap_are_closed_at_once_and_others_served_after(
        server: tuple[Server, Credentials]) -> None:
    srv, creds = server
    assert srv.process is not None
    pid = srv.process.pid
    baseline = _open_files(pid)
    socks = [_connect(srv) for _ in range(MAX_CONNECTIONS + 70)]
    try:
        at_once = _wait_closed(socks, KEEP_ALIVE / 2)
        assert len(at_once) >= 70 and len(socks) - len(at_once) <= MAX_CONNECTIONS
        assert _open_files(pid) <= baseline + MAX_CONNECTIONS + 5
        held = [s for s in socks if s not in at_once]
        assert len(_wait_closed(held, KEEP_ALIVE + SLACK)) == len(held)  # the idle ones go in time
        assert "Items" in srv.client("customer-profiles", creds).list_domains()
    finally:
        for sock in socks:
            sock.close()
    assert "--max-connections" in (srv.data_dir / f"server-{srv.port}.log").read_text()


def test_slow_connections_do_not_exhaust_descriptors_under_a_low_limit(tmp_path: Path) -> None:
    """A server allowed 300 open files, and 300 connections that never finish their head: the cap
    shrinks to what fits (300 less SPARE_DESCRIPTORS), the rest are closed at once, the server keeps
    its descriptors, and once the header timeout cuts the slow ones it serves again."""
    limit = 300
    cap = limit - SPARE_DESCRIPTORS
    srv = Server(tmp_path, None, auth="open", args=("--keep-alive-timeout", "1", "--header-timeout", "2"))
    log = tmp_path / "limited.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "openprofiles", "serve", "--port", str(srv.port), "--auth", "open",
             "--log-level", "warning", *srv.storage_args(), *srv.args],
            stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
        socks: list[socket.socket] = []
        try:
            _wait_healthy(srv, process)
            assert f"serving at most {cap} connections" in log.read_text()
            for _ in range(limit):
                sock = _connect(srv)
                sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Slow: ".encode())
                socks.append(sock)
            at_once = _wait_closed(socks, 0.5)
            assert len(at_once) >= limit - cap
            assert _open_files(process.pid) < limit
            held = [s for s in socks if s not in at_once]
            assert len(_wait_closed(held, 2 + SLACK)) == len(held)
            assert httpx.get(srv.endpoint + "/health", timeout=5).status_code == 200
        finally:
            for sock in socks:
                sock.close()
            process.terminate()
            process.wait(10)


def _wait_healthy(srv: Server, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(srv.endpoint + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not become healthy")


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(server: tuple[Server, Credentials]) -> None:
    srv, _ = server
    assert srv.process is not None
    line = next(line for line in Path(f"/proc/{srv.process.pid}/limits").read_text().splitlines()
                if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard


# --- authentication before the body ---------------------------------------------------------------


def test_requests_that_cannot_be_authentic_are_answered_before_their_body(server: tuple[Server, Credentials]) -> None:
    """Each head declares an 8 MiB body and none is sent: the answer comes without it."""
    srv, creds = server
    url = f"{srv.endpoint}/domains/early"
    body = _padded_domain()
    wrong_secret = Credentials(creds.access_key_id, "w" * 40, creds.account_id)
    heads = {
        "unsigned": (_unsigned_head(srv, "/domains/early", MAX_BODY), "Missing Authentication Token"),
        "unsigned flow push": (_unsigned_head(srv, "/_openprofiles/flows/f/events", MAX_BODY),
                               "Missing Authentication Token"),
        "unknown key": (_head(sign_request(UNKNOWN_KEY, "POST", url, body=body), MAX_BODY), "unknown or revoked"),
        "unknown key, flow push": (_head(sign_request(UNKNOWN_KEY, "POST", f"{srv.endpoint}/_openprofiles/flows/f/"
                                                      "events", service="appflow", body=body), MAX_BODY),
                                   "unknown or revoked"),
        "expired": (_head(sign_request(creds, "POST", url, body=body, when=datetime.now(UTC) - timedelta(hours=1)), MAX_BODY),
                    "Signature expired"),
        "wrong secret, declared hash": (
            _head(sign_request(wrong_secret, "POST", url, body=body,
                               headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}), MAX_BODY),
            "signature we calculated does not match"),
        "over 8 MiB": (_head(sign_request(creds, "POST", url, body=body), MAX_BODY + 1), "larger than 8 MiB"),
    }
    failures = []
    for name, (head, message) in heads.items():
        with _connect(srv) as sock:
            sock.settimeout(5)
            sock.sendall(head)
            try:
                status, _, answer = _response(sock)
            except TimeoutError:
                failures.append(f"{name}: no answer without the body")
                continue
            text = answer.get("Message") or answer.get("message", "")
            if status not in (400, 403, 413) or message not in text:
                failures.append(f"{name}: {status} {text}")
    assert failures == []


def test_an_upload_refused_before_its_body_leaves_the_connection_usable(
        server: tuple[Server, Credentials]) -> None:
    """The refusal comes first; the body sent after it is read and dropped, and the next request on
    the connection is served."""
    srv, _ = server
    with _connect(srv) as sock:
        sock.sendall(_unsigned_head(srv, "/domains/dropped", 2**20))
        assert _response(sock)[0] == 403
        sock.sendall(b"x" * 2**20 + f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
        status, _, answer = _response(sock)
    assert (status, answer["status"]) == (200, "ok")


def test_refused_uploads_cost_no_memory(server: tuple[Server, Credentials]) -> None:
    """64 uploads of 8 MiB at once, unsigned or signed with an unknown key: the server's peak
    resident memory grows by far less than the bodies' 512 MiB."""
    srv, _ = server
    assert srv.process is not None
    pid = srv.process.pid
    body = b"x" * MAX_BODY
    heads = [_unsigned_head(srv, "/domains/upload", MAX_BODY),
             _head(sign_request(UNKNOWN_KEY, "POST", f"{srv.endpoint}/domains/upload", body=body))]

    def upload(n: int) -> int:
        with _connect(srv) as sock:
            sock.sendall(heads[n % 2])
            with contextlib.suppress(OSError):  # the server may stop reading once it has answered
                sock.sendall(body)
            return _response(sock)[0]

    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = _status(pid, "VmHWM")
    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(upload, range(64)))
    grown_mib = (_status(pid, "VmHWM") - before) / 1024
    assert statuses == [403] * 64
    assert grown_mib < 64, f"peak RSS grew by {grown_mib:.0f} MiB"


# --- the body against its signature -------------------------------------------------------------------


@pytest.mark.parametrize("size", ["small", "large"])
def test_a_body_other_than_its_declared_hash_is_rejected(server: tuple[Server, Credentials], size: str,
                                                         unique: str) -> None:
    srv, creds = server
    body = _padded_domain() if size == "large" else b'{"DefaultExpirationDays": 5}'
    url = f"{srv.endpoint}/domains/{unique}"
    declared = {"Content-Type": "application/json", "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    tampered = body.replace(b"5", b"6", 1)
    with _connect(srv) as sock:
        sock.sendall(_head(sign_request(creds, "POST", url, body=body, headers=declared)) + tampered)
        status, headers, answer = _response(sock)
        assert (status, headers["x-amzn-errortype"]) == (403, "AccessDeniedException")
        assert "x-amz-content-sha256" in answer["Message"]
        # The same request untampered succeeds, on the same connection.
        sock.sendall(_head(sign_request(creds, "POST", url, body=body, headers=declared)) + body)
        status, _, answer = _response(sock)
        assert (status, answer["DomainName"]) == (200, unique)


@pytest.mark.parametrize("size", ["small", "large"])
def test_a_boto3_request_with_a_tampered_body_is_rejected(server: tuple[Server, Credentials], size: str,
                                                          unique: str) -> None:
    """boto3 signs the body's hash without sending it (no X-Amz-Content-SHA256 for these services):
    the signature is checked once the body has streamed in."""
    srv, creds = server
    client = srv.client("customer-profiles", creds)
    client.create_domain(DomainName=unique, DefaultExpirationDays=5)
    value = "x" * (2 * READ_AHEAD if size == "large" else 10)

    def tamper(request: AWSPreparedRequest, **_: Any) -> None:
        assert "X-Amz-Content-SHA256" not in request.headers
        assert isinstance(request.body, bytes)
        request.body = request.body.replace(b"xxx", b"yyy", 1)

    # Passing authentication, the call fails on the missing object type: the body was good.
    with pytest.raises(ClientError) as error:
        client.put_profile_object(DomainName=unique, ObjectTypeName="none", Object=json.dumps({"v": value}))
    assert error.value.response["Error"]["Code"] != "AccessDeniedException"
    client.meta.events.register("before-send", tamper)
    with pytest.raises(ClientError) as error:
        client.put_profile_object(DomainName=unique, ObjectTypeName="none", Object=json.dumps({"v": value}))
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "signature" in error.value.response["Error"]["Message"]
