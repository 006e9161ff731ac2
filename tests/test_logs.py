"""The logging set-up of serve/worker: libraries that log URLs and bodies stay quiet at --log-level debug,
and every line (tracebacks included) is scrubbed of URL passwords, query strings and credential values."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from openprofiles import logs
from openprofiles.logs import scrub


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """`logs.configure("debug")` for one test, writing to the returned buffer; the logging set-up of
    the test run put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {name: logging.getLogger(name).level for name in logs.QUIET})
    raising = logging.raiseExceptions
    root.handlers[:] = []  # pytest's own, which configure(force) would close
    logs.configure("debug")
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level = saved[0], saved[1]
    logging.raiseExceptions = raising
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_request_logging_libraries_stay_quiet_at_debug(configured: io.StringIO) -> None:
    url = "http://127.0.0.1:1/identity/oauth/token?client_id=c&client_secret=SECRET-1"
    logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("botocore.parsers").debug("Response body: b'{\"SecretString\": \"SECRET-2\"}'")
    logging.getLogger("sqlalchemy.engine.Engine").info("[generated] ('SECRET-3',)")
    logging.getLogger("openprofiles.test").debug("our own debug line")
    err = configured.getvalue()
    assert "our own debug line" in err
    assert "SECRET" not in err


def test_lines_and_tracebacks_are_scrubbed(configured: io.StringIO) -> None:
    request = httpx.Request("GET", "https://mkto.example.com/identity/oauth/token?client_secret=SECRET-4")
    try:
        raise httpx.HTTPStatusError(f"Client error '401' for url '{request.url}'", request=request,
                                    response=httpx.Response(401, request=request))
    except httpx.HTTPError:
        logging.getLogger("openprofiles.test").exception("call to %s failed", "postgresql://u:SECRET-5@db/x")
    err = configured.getvalue()
    assert "Traceback" in err and "https://mkto.example.com/identity/oauth/token?***" in err
    assert "postgresql://u:***@db/x" in err
    assert "SECRET" not in err


@pytest.mark.parametrize(("line", "kept"), [
    ("GET http://h/p?client_secret=S&x=1 done", "GET http://h/p?*** done"),
    ("postgresql+psycopg://user:S@127.0.0.1:5432/db", "postgresql+psycopg://user:***@127.0.0.1:5432/db"),
    ("headers={'Authorization': 'Bearer S', 'Accept': 'json'}", "headers={'Authorization': '***', 'Accept': 'json'}"),
    ('{"clientSecret": "S", "clientId": "c"}', '{"clientSecret": "***", "clientId": "c"}'),
    ("password=S&user=u", "password=***&user=u"),
    ("flow execution abc: running on host-1", "flow execution abc: running on host-1"),
])
def test_scrub(line: str, kept: str) -> None:
    assert scrub(line) == kept
