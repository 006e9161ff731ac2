"""The console's sessions, CSRF checks and sign-in throttling, through raw HTTP (httpx) against a
live server on SQLite and PostgreSQL: a signed-out or revoked session's cookie no longer works,
every POST needs this host's Origin and the form's CSRF token, and repeated sign-in failures per
access key id and per client address get 429."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, LiveServer, live_server
from tests.harness import Credentials, cli

SESSION = "openprofiles_console"
TOO_MANY = re.compile(r"Too many sign-in attempts; try again in (\d+) s\.")
#: The clients the helpers below open, closed after each test (an unclosed socket is a ResourceWarning).
_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


@pytest.fixture(params=BACKENDS)
def own(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A server of the test's own: the sign-in attempts it counts from 127.0.0.1 are its alone."""
    with live_server(request, tmp_path, args=("--session-ttl", "3600", "--trusted-proxy", "127.0.0.1")) as server:
        yield server


@pytest.fixture(params=["sqlite"])
def no_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A server that trusts no proxy (the default)."""
    with live_server(request, tmp_path) as server:
        yield server


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in_form(endpoint: str) -> tuple[httpx.Client, str]:
    """A client holding the sign-in page's pre-session cookie, and the form's CSRF token."""
    client = httpx.Client(base_url=endpoint)
    _CLIENTS.append(client)
    return client, csrf_of(client.get("/console/signin"))


def try_sign_in(endpoint: str, key_id: str, secret: str, **headers: str) -> httpx.Response:
    client, csrf = sign_in_form(endpoint)
    try:
        return client.post("/console/signin", headers={"Origin": endpoint, **headers},
                           data={"csrf": csrf, "access_key_id": key_id, "secret_access_key": secret})
    finally:
        client.close()


def signed_in(endpoint: str, creds: Credentials) -> httpx.Client:
    """A client with a console session."""
    client, csrf = sign_in_form(endpoint)
    response = client.post("/console/signin", headers={"Origin": endpoint}, data={
        "csrf": csrf, "access_key_id": creds.access_key_id, "secret_access_key": creds.secret_access_key})
    assert response.status_code == 303 and SESSION in client.cookies, response.text
    return client


def works(endpoint: str, cookie: str) -> bool:
    """Whether a session cookie, sent by itself, opens a console page."""
    response = httpx.get(endpoint + "/console/", cookies={SESSION: cookie})
    return response.status_code == 200 and "Sign out" in response.text


def sign_out_token(client: httpx.Client) -> str:
    return csrf_of(client.get("/console/"))


def test_a_cookie_copied_before_sign_out_does_not_work_after(live: LiveServer) -> None:
    client = signed_in(live.endpoint, live.creds)
    copied = client.cookies[SESSION]
    assert works(live.endpoint, copied)
    out = client.post("/console/signout", headers={"Origin": live.endpoint}, data={"csrf": sign_out_token(client)})
    assert out.status_code == 303 and out.headers["location"] == "/console/signin"
    assert not works(live.endpoint, copied)
    # Another session of the same key is untouched.
    assert works(live.endpoint, signed_in(live.endpoint, live.creds).cookies[SESSION])


def test_a_post_without_origin_is_refused(live: LiveServer) -> None:
    client, csrf = sign_in_form(live.endpoint)
    form = {"csrf": csrf, "access_key_id": live.creds.access_key_id, "secret_access_key": live.creds.secret_access_key}
    for headers in ({}, {"Origin": "null"}, {"Referer": live.endpoint + "/console/signin"}):
        refused = client.post("/console/signin", data=form, headers=headers)
        assert refused.status_code == 403 and "no Origin header naming this host" in refused.text
        assert SESSION not in refused.cookies
    session = signed_in(live.endpoint, live.creds)
    refused = session.post("/console/signout", data={"csrf": sign_out_token(session)})
    assert refused.status_code == 403 and "Sign-out refused" in refused.text
    assert works(live.endpoint, session.cookies[SESSION])


def test_a_cross_site_origin_is_refused(live: LiveServer) -> None:
    client, csrf = sign_in_form(live.endpoint)
    form = {"csrf": csrf, "access_key_id": live.creds.access_key_id, "secret_access_key": live.creds.secret_access_key}
    for origin in ("https://evil.example", live.endpoint.replace("127.0.0.1", "localhost"),
                   live.endpoint.rsplit(":", 1)[0] + ":1"):
        refused = client.post("/console/signin", data=form, headers={"Origin": origin})
        assert refused.status_code == 403 and "Refused" in refused.text and SESSION not in refused.cookies
    session = signed_in(live.endpoint, live.creds)
    refused = session.post("/console/signout", headers={"Origin": "https://evil.example"},
                           data={"csrf": sign_out_token(session)})
    assert refused.status_code == 403
    assert works(live.endpoint, session.cookies[SESSION])


def test_a_wrong_or_missing_csrf_token_is_refused(live: LiveServer) -> None:
    origin = {"Origin": live.endpoint}
    creds = {"access_key_id": live.creds.access_key_id, "secret_access_key": live.creds.secret_access_key}
    client, csrf = sign_in_form(live.endpoint)
    _, other_csrf = sign_in_form(live.endpoint)  # a token bound to another client's pre-session cookie
    for form in (creds, {**creds, "csrf": ""}, {**creds, "csrf": csrf[:-2] + "AA"}, {**creds, "csrf": other_csrf}):
        refused = client.post("/console/signin", data=form, headers=origin)
        assert refused.status_code == 403 and "CSRF token is missing or does not match" in refused.text
        assert SESSION not in refused.cookies
    # Without the pre-session cookie, the form's own token is refused too.
    refused = httpx.post(live.endpoint + "/console/signin", data={**creds, "csrf": csrf}, headers=origin)
    assert refused.status_code == 403
    assert client.post("/console/signin", data={**creds, "csrf": csrf}, headers=origin).status_code == 303

    session = signed_in(live.endpoint, live.creds)
    other = signed_in(live.endpoint, live.creds)
    for form in ({}, {"csrf": "x"}, {"csrf": sign_out_token(other)}):
        refused = session.post("/console/signout", data=form, headers=origin)
        assert refused.status_code == 403 and "CSRF token is missing or does not match" in refused.text
    assert works(live.endpoint, session.cookies[SESSION])


def test_the_sixth_wrong_secret_for_a_key_id_is_throttled(own: LiveServer) -> None:
    endpoint, creds = own.endpoint, own.creds
    wrong = creds.secret_access_key[:-1] + ("x" if creds.secret_access_key[-1] != "x" else "y")
    # Concurrent guesses are all counted: 12 at once, 5 are checked and the rest throttled.
    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(lambda _: try_sign_in(endpoint, creds.access_key_id, wrong).status_code, range(12)))
    assert statuses == [401] * 5 + [429] * 7
    throttled = try_sign_in(endpoint, creds.access_key_id, wrong)
    found = TOO_MANY.search(throttled.text)
    assert throttled.status_code == 429 and found and 0 < int(found.group(1)) <= 15 * 60
    assert throttled.headers["retry-after"] == found.group(1)
    # During the window even the right secret is refused for this key id...
    right = try_sign_in(endpoint, creds.access_key_id, creds.secret_access_key)
    assert right.status_code == 429 and TOO_MANY.search(right.text) and SESSION not in right.cookies
    # ...while another key id from the same address signs in, and a success resets its own count.
    other = own.server.create_key()
    for _ in range(4):
        assert try_sign_in(endpoint, other.access_key_id, wrong).status_code == 401
    assert try_sign_in(endpoint, other.access_key_id, other.secret_access_key).status_code == 303
    for _ in range(5):
        assert try_sign_in(endpoint, other.access_key_id, wrong).status_code == 401
    assert try_sign_in(endpoint, other.access_key_id, other.secret_access_key).status_code == 429


def test_one_address_trying_many_key_ids_is_throttled(own: LiveServer) -> None:
    endpoint, creds = own.endpoint, own.creds
    for n in range(20):
        assert try_sign_in(endpoint, f"AKIAGUESS{n:011d}", "wrong").status_code == 401
    throttled = try_sign_in(endpoint, "AKIAGUESS99999999999", "wrong")
    assert throttled.status_code == 429 and TOO_MANY.search(throttled.text)
    # The address is throttled for every key id, the right secret of a real one too.
    assert try_sign_in(endpoint, creds.access_key_id, creds.secret_access_key).status_code == 429


def test_sessions_survive_a_restart_and_end_when_their_key_is_revoked(own: LiveServer) -> None:
    key = own.server.create_key()
    client = signed_in(own.endpoint, key)
    cookie = client.cookies.jar
    [session_cookie] = [c for c in cookie if c.name == SESSION]
    assert session_cookie.path == "/console" and session_cookie.has_nonstandard_attr("HttpOnly")
    assert session_cookie.expires is not None
    own.server.stop()
    own.server.start()
    assert works(own.endpoint, client.cookies[SESSION])
    cli("keys", "revoke", key.access_key_id, *own.server.storage_args())
    assert not works(own.endpoint, client.cookies[SESSION])
    assert works(own.endpoint, signed_in(own.endpoint, own.creds).cookies[SESSION])


def test_behind_a_trusted_proxy_each_client_address_counts_alone(own: LiveServer) -> None:
    """A proxy the operator trusts (--trusted-proxy 127.0.0.1): the address it puts in
    X-Forwarded-For is the one counted, and X-Forwarded-Proto: https makes the cookie Secure."""
    endpoint, creds = own.endpoint, own.creds
    for n in range(20):
        assert try_sign_in(endpoint, f"AKIAGUESS{n:011d}", "wrong", **{"X-Forwarded-For": "198.51.100.7"}
                           ).status_code == 401
    assert try_sign_in(endpoint, "AKIAGUESS99999999999", "wrong",
                       **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    behind = try_sign_in(endpoint, creds.access_key_id, creds.secret_access_key,
                         **{"X-Forwarded-For": "198.51.100.8", "X-Forwarded-Proto": "https"})
    assert behind.status_code == 303
    [cookie] = [c for c in behind.headers.get_list("set-cookie") if c.startswith(SESSION + "=")]
    assert "secure" in cookie.lower().split("; ")
    assert try_sign_in(endpoint, creds.access_key_id, creds.secret_access_key).status_code == 303


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(no_proxy: LiveServer) -> None:
    """By default a client cannot claim another address (or https) with X-Forwarded-* headers."""
    endpoint = no_proxy.endpoint
    for n in range(20):
        assert try_sign_in(endpoint, f"AKIAGUESS{n:011d}", "wrong",
                           **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code == 401
    assert try_sign_in(endpoint, "AKIAGUESS99999999999", "wrong",
                       **{"X-Forwarded-For": "198.51.100.99"}).status_code == 429
    other = no_proxy.server.create_key()
    signed = try_sign_in(endpoint, other.access_key_id, other.secret_access_key,
                         **{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"})
    assert signed.status_code == 429  # the peer's address (127.0.0.1) is the one throttled
