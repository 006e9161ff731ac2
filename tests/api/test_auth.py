"""SigV4 authentication: our verifier against botocore's signer, and the live server in both modes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from botocore.utils import percent_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprofiles.api.auth import Authenticator, BodyCheck, Caller, parse_authorization, signature_for
from openprofiles.api.errors import AuthFailed
from openprofiles.clock import FixedClock
from openprofiles.services.access_keys import AccessKey
from openprofiles.settings import is_loopback
from tests.conftest import LiveServer
from tests.harness import (
    Credentials,
    Server,
    SigV4At,
    cli,
    cli_in_process,
    free_port,
    send,
    sign_request,
)

WHEN = datetime(2026, 3, 1, 12, 30, 45, tzinfo=UTC)
KEY = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "123456789012")
BASE = "http://127.0.0.1:8000"


def _lookup(access_key_id: str) -> AccessKey | None:
    if access_key_id == KEY.access_key_id:
        return AccessKey(KEY.access_key_id, KEY.secret_access_key, KEY.account_id, True)
    return None


def _verify(prepared: AWSPreparedRequest, now: datetime = WHEN, mode: str = "sigv4") -> Caller:
    """Run a botocore-prepared request, as it goes over the wire, through our authenticator."""
    url = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()]
    if not any(k == "host" for k, _ in headers):
        headers.append(("host", url.netloc))  # what the HTTP client adds
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    scope = parse_authorization(dict(headers).get("authorization"))
    return Authenticator(mode, _lookup, FixedClock(now)).authenticate(
        scope, prepared.method, url.path or "/", url.query, headers, body
    )


def _status_and_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.headers.get("x-amzn-ErrorType", "")


def _profile_arn(account: str, name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:profile:{region}:{account}:domains/{name}"


# --- our verifier computes exactly what botocore signs ---------------------------------------

ARN_PATH = "/tags/" + percent_encode(_profile_arn("123456789012", "my-domain"))


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        pytest.param("GET", "/domains", {}, id="plain"),
        pytest.param("GET", "", {}, id="empty-path"),
        pytest.param(
            "GET",
            "/domains?next-token=a%2Bb%2Fc%3Dd%20e%26f~%C3%A9%2A&max-results=5",
            {},
            id="encoded-query",
        ),
        pytest.param(
            "GET",
            "/domains",
            {"params": {"next-token": "a+b/c=d e&f~é*!'()", "max-results": "5", "": "empty-key"}},
            id="params-query-form-encoded",
        ),
        pytest.param("GET", "/domains?k=b&k=a&a=&flag", {}, id="repeated-and-blank-query"),
        pytest.param("GET", ARN_PATH, {}, id="arn-encoded"),
        pytest.param("GET", ARN_PATH + "?tagKeys=a%3Ab&tagKeys=c%2Fd", {}, id="arn-with-query"),
        pytest.param(
            "GET",
            "/tags/arn:aws:appflow:eu-west-1:123456789012:flow/my-flow",
            {"service": "appflow", "region": "eu-west-1"},
            id="arn-raw-colons-and-slash",
        ),
        pytest.param("GET", "/domains/./a//b/../c/", {}, id="dot-segments-and-double-slash"),
        pytest.param("GET", "/domains/a%20b%C3%A9~x%2A", {}, id="encoded-path-segment"),
        pytest.param(
            "POST",
            "/domains/my-domain",
            {
                "body": b'{"DefaultExpirationDays": 5, "Tags": {"k": "v \\u00e9"}}',
                "headers": {"Content-Type": "application/x-amz-json-1.1", "X-Custom": "  a   b\t c  "},
            },
            id="body-and-folded-header",
        ),
        pytest.param(
            "PUT",
            "/domains/my-domain",
            {"headers": {"Date": "Sun, 01 Mar 2026 12:30:45 GMT"}},
            id="date-header-instead-of-x-amz-date",
        ),
    ],
)
def test_verifier_agrees_with_botocore(method: str, url: str, kwargs: dict[str, Any]) -> None:
    prepared = sign_request(KEY, method, BASE + url, when=WHEN, **kwargs)
    caller = _verify(prepared)
    assert caller == Caller(KEY.account_id, kwargs.get("region", "us-east-1"), KEY.access_key_id)


def test_repeated_headers_are_joined_like_botocore() -> None:
    # botocore's header map keeps a repeated header; both values are signed, joined by ','.
    request = AWSRequest(method="GET", url=BASE + "/domains")
    request.headers["X-Multi"] = "one"
    request.headers["X-Multi"] = " two  three "
    SigV4At(BotoCredentials(KEY.access_key_id, KEY.secret_access_key), "profile", "us-east-1", WHEN).add_auth(request)
    headers = [(k.lower(), v) for k, v in request.headers.items()] + [("host", "127.0.0.1:8000")]
    scope = parse_authorization(request.headers["Authorization"])
    assert scope is not None
    assert "x-multi" in scope.signed_headers
    authenticator = Authenticator("sigv4", _lookup, FixedClock(WHEN))
    assert authenticator.authenticate(scope, "GET", "/domains", "", headers, b"").account_id == KEY.account_id


def test_signature_for_reproduces_botocore() -> None:
    prepared = sign_request(KEY, "GET", BASE + ARN_PATH + "?x=%2F", when=WHEN)
    url = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()] + [("host", url.netloc)]
    scope = parse_authorization(prepared.headers["Authorization"])
    assert scope is not None
    assert (scope.access_key_id, scope.region, scope.service) == (KEY.access_key_id, "us-east-1", "profile")
    amz_date = WHEN.strftime("%Y%m%dT%H%M%SZ")
    assert signature_for(KEY.secret_access_key, scope, amz_date, "GET", url.path, url.query, headers, b"") == (
        scope.signature
    )


_text = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(_text.filter(lambda s: s not in (".", "..")), min_size=1, max_size=4),
    params=st.dictionaries(_text, _text, max_size=4),
    in_url=st.booleans(),
)
def test_verifier_agrees_with_botocore_on_any_path_and_query(
    segments: list[str], params: dict[str, str], in_url: bool
) -> None:
    # The path as botocore's rest-json serializer encodes labels; the query either as the
    # serializer writes it into the URL or as `params` (form-encoded on the wire).
    path = "/" + "/".join(percent_encode(s) for s in segments)
    if in_url and params:
        query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        prepared = sign_request(KEY, "GET", BASE + path + "?" + query, when=WHEN)
    else:
        prepared = sign_request(KEY, "GET", BASE + path, params=params, when=WHEN)
    assert _verify(prepared).account_id == KEY.account_id


def test_tampered_query_value_is_rejected() -> None:
    # '+' means a space to the parser; the signature must cover what the handler will see.
    prepared = sign_request(KEY, "GET", BASE + "/domains?next-token=a%2Bb", when=WHEN)
    prepared.url = prepared.url.replace("a%2Bb", "a+b")
    with pytest.raises(AuthFailed, match="signature"):
        _verify(prepared)


# --- the head before the body ------------------------------------------------------------------

BODY = b'{"DefaultExpirationDays": 5, "Tags": {"k": "v"}}'


def _begin(prepared: AWSPreparedRequest, lookup: Callable[[str], AccessKey | None] = _lookup) -> BodyCheck:
    """The checks of `prepared`'s head (`check_head`, then `begin`), with no body read."""
    url = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()] + [("host", url.netloc)]
    authenticator = Authenticator("sigv4", lookup, FixedClock(WHEN))
    head = authenticator.check_head(parse_authorization(prepared.headers.get("Authorization")), headers)
    return authenticator.begin(head, prepared.method, url.path, url.query, headers)


def _declared(body: bytes) -> dict[str, str]:
    return {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}


def test_a_declared_payload_hash_is_checked_with_the_signature_before_the_body() -> None:
    wrong = Credentials(KEY.access_key_id, "w" * 40, KEY.account_id)
    with pytest.raises(AuthFailed, match="signature we calculated"):
        _begin(sign_request(wrong, "POST", BASE + "/domains/d", body=BODY, headers=_declared(BODY), when=WHEN))
    unsigned_payload = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    with pytest.raises(AuthFailed, match="hex SHA-256"):
        _begin(sign_request(KEY, "POST", BASE + "/domains/d", body=BODY, headers=unsigned_payload, when=WHEN))
    # A good head: the body, as it streams in, must match the declared hash.
    good = sign_request(KEY, "POST", BASE + "/domains/d", body=BODY, headers=_declared(BODY), when=WHEN)
    check = _begin(good)
    for i in range(0, len(BODY), 7):
        check.update(BODY[i:i + 7])
    assert check.finish() == Caller(KEY.account_id, "us-east-1", KEY.access_key_id)
    check = _begin(good)
    check.update(BODY.replace(b"5", b"6"))
    with pytest.raises(AuthFailed, match="x-amz-content-sha256 header does not match"):
        check.finish()


def test_without_a_declared_hash_the_signature_is_checked_over_the_streamed_body() -> None:
    """As botocore signs customer-profiles and appflow requests: the body's hash signed, not sent."""
    prepared = sign_request(KEY, "POST", BASE + "/domains/d", body=BODY, when=WHEN)
    assert "X-Amz-Content-SHA256" not in prepared.headers
    check = _begin(prepared)
    check.update(BODY[:10])
    check.update(BODY[10:])
    assert check.finish().account_id == KEY.account_id
    check = _begin(prepared)
    check.update(BODY.replace(b"v", b"w"))
    with pytest.raises(AuthFailed, match="signature we calculated"):
        check.finish()


def test_an_unknown_key_or_bad_time_is_refused_before_the_body() -> None:
    with pytest.raises(AuthFailed, match="unknown or revoked"):
        _begin(sign_request(Credentials("AKIAUNKNOWN", "x" * 40, ""), "POST", BASE + "/d", body=BODY, when=WHEN))
    with pytest.raises(AuthFailed, match="revoked"):
        _begin(sign_request(KEY, "POST", BASE + "/d", body=BODY, when=WHEN),
               lambda k: AccessKey(k, KEY.secret_access_key, KEY.account_id, False))
    with pytest.raises(AuthFailed, match="expired"):
        _begin(sign_request(KEY, "POST", BASE + "/d", body=BODY, when=WHEN - timedelta(hours=1)))
    authenticator = Authenticator("sigv4", _lookup, FixedClock(WHEN))
    with pytest.raises(AuthFailed, match="Missing Authentication Token"):
        authenticator.check_head(None, [("host", "localhost")])
    assert Authenticator("open", _lookup, FixedClock(WHEN)).check_head(None, []) == Caller(
        "000000000000", "us-east-1", None
    )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=-16), False),
        (timedelta(minutes=16), False),
        (timedelta(minutes=-14), True),
        (timedelta(minutes=14), True),
    ],
)
def test_clock_skew_in_process(offset: timedelta, accepted: bool) -> None:
    prepared = sign_request(KEY, "GET", BASE + "/domains", when=WHEN + offset)
    if accepted:
        assert _verify(prepared).account_id == KEY.account_id
    else:
        with pytest.raises(AuthFailed, match="15 minutes"):
            _verify(prepared)


def test_open_mode_accepts_anything_as_the_default_account() -> None:
    prepared = sign_request(
        Credentials("AKIAUNKNOWN", "nope", ""), "GET", BASE + "/domains", region="ap-south-1", when=WHEN
    )
    assert _verify(prepared, mode="open") == Caller("000000000000", "ap-south-1", "AKIAUNKNOWN")
    assert Authenticator("open", _lookup, FixedClock(WHEN)).authenticate(None, "GET", "/", "", [], b"") == Caller(
        "000000000000", "us-east-1", None
    )


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.0.0.53", "::1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com", ""):
        assert not is_loopback(host), host


# --- the live server, signed (sigv4 mode) ------------------------------------------------------


def _new_key(live: LiveServer, account_id: str) -> Credentials:
    """`keys create --json`, run in this process next to the running server."""
    data = json.loads(
        cli_in_process("keys", "create", "--account-id", account_id, "--json", *live.server.storage_args()).stdout
    )
    return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["AccountId"])


def _creds_client(live: LiveServer, access_key_id: str, secret: str, service: str = "customer-profiles") -> Any:
    return live.server.client(service, Credentials(access_key_id, secret, ""))


def test_valid_signature_accepted(live: LiveServer, unique: str) -> None:
    cp = live.client()
    cp.create_domain(DomainName=unique, DefaultExpirationDays=3)
    assert unique in [d["DomainName"] for d in cp.list_domains()["Items"]]
    response = send(sign_request(live.creds, "GET", f"{live.endpoint}/domains/{unique}"))
    assert response.status_code == 200, response.text
    assert response.json()["DomainName"] == unique


@pytest.mark.parametrize("service", ["customer-profiles", "appflow"])
def test_wrong_secret_is_access_denied(live: LiveServer, service: str) -> None:
    client = _creds_client(live, live.creds.access_key_id, "WRONG" + live.creds.secret_access_key[5:], service)
    with pytest.raises(ClientError) as error:
        client.list_tags_for_resource(resourceArn=_profile_arn(live.creds.account_id, "x"))
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "signature" in error.value.response["Error"]["Message"]


def test_unknown_key_is_access_denied(live: LiveServer) -> None:
    client = _creds_client(live, "AKIAAAAAAAAAAAAAAAAA", live.creds.secret_access_key)
    with pytest.raises(client.exceptions.AccessDeniedException) as error:
        client.list_domains()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_key_created_and_revoked_while_running(live: LiveServer, unique: str) -> None:
    creds = _new_key(live, "345678901234")
    client = live.client(creds=creds)
    client.create_domain(DomainName=unique, DefaultExpirationDays=3)  # usable at once
    out = cli("keys", "revoke", creds.access_key_id, *live.server.storage_args())
    assert creds.access_key_id in out.stdout
    with pytest.raises(client.exceptions.AccessDeniedException) as error:
        client.get_domain(DomainName=unique)
    assert "revoked" in error.value.response["Error"]["Message"]
    # The server's own key still works.
    live.client().list_domains()


@pytest.mark.parametrize("minutes", [-16, 16, -14, 14])
def test_clock_skew(live: LiveServer, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    response = send(sign_request(live.creds, "GET", f"{live.endpoint}/domains", when=when))
    if abs(minutes) > 15:
        assert _status_and_code(response) == (403, "AccessDeniedException")
        assert "15 minutes" in response.json()["Message"]
    else:
        assert response.status_code == 200, response.text


def test_unsigned_request_is_access_denied(live: LiveServer) -> None:
    response = httpx.get(f"{live.endpoint}/domains")
    assert _status_and_code(response) == (403, "AccessDeniedException")
    assert "Message" in response.json()
    unsigned = live.server.client("customer-profiles", None, signature_version=UNSIGNED)
    with pytest.raises(unsigned.exceptions.AccessDeniedException):
        unsigned.list_domains()
    # AppFlow's paths answer in AppFlow's error shape ('message').
    response = httpx.post(f"{live.endpoint}/list-flows", json={})
    assert _status_and_code(response) == (403, "AccessDeniedException")
    assert "message" in response.json()


def _malformed(creds: Credentials, now: datetime) -> list[tuple[str, dict[str, str | bytes]]]:
    date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{creds.access_key_id}/{date[:8]}/us-east-1/profile/aws4_request"
    good = {"x-amz-date": date}
    return [
        ("garbage after the algorithm", {"Authorization": "AWS4-HMAC-SHA256 nonsense"}),
        ("bare algorithm", {"Authorization": "AWS4-HMAC-SHA256"}),
        ("other scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
        ("empty", {"Authorization": ""}),
        (
            "short credential",
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/profile, "
                "SignedHeaders=host, Signature=00"
            },
        ),
        (
            "empty credential parts",
            {**good, "Authorization": "AWS4-HMAC-SHA256 Credential=////aws4_request, SignedHeaders=host, Signature=0"},
        ),
        ("no signature", {**good, "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host"}),
        (
            "no date",
            {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={'0' * 64}"},
        ),
        (
            "bad date",
            {
                "x-amz-date": "2026-13-45",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={'0' * 64}",
            },
        ),
        (
            "date header at the edge of time",
            {
                "Date": "Fri, 31 Dec 9999 23:59:59 -0100",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;date, Signature={'0' * 64}",
            },
        ),
        (
            "unparseable date header",
            {
                "Date": "Mon, 99 Foo 2026 99:99:99 GMT",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;date, Signature={'0' * 64}",
            },
        ),
        (
            "scope date differs",
            {
                **good,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={creds.access_key_id}/19990101/us-east-1/profile/"
                f"aws4_request, SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
            },
        ),
        (
            "host not signed",
            {**good, "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=x-amz-date, Signature=00"},
        ),
        (
            "signed header missing",
            {
                **good,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-absent, "
                f"Signature={'0' * 64}",
            },
        ),
        (
            "non-ascii signature",
            {
                **good,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, ".encode()
                + b"Signature="
                + b"\xe9" * 64,
            },
        ),
        (
            "non-ascii key id",
            {
                **good,
                "Authorization": b"AWS4-HMAC-SHA256 Credential=AKIA\xe9/"
                + date[:8].encode()
                + b"/us-east-1/profile/aws4_request, SignedHeaders=host;x-amz-date, Signature="
                + b"0" * 64,
            },
        ),
        (
            "overlong key id",
            {
                **good,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={'A' * 500}/{date[:8]}/us-east-1/profile/aws4_request, "
                f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
            },
        ),
        (
            "body hash mismatch",
            {
                **good,
                "x-amz-content-sha256": "0" * 64,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, "
                f"Signature={'0' * 64}",
            },
        ),
    ]


def test_malformed_authorization_is_403_not_500(live: LiveServer) -> None:
    failures = []
    for name, headers in _malformed(live.creds, datetime.now(UTC)):
        raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
        response = httpx.get(f"{live.endpoint}/domains", headers=raw)
        if _status_and_code(response) != (403, "AccessDeniedException"):
            failures.append((name, response.status_code, response.text))
    assert failures == []


def test_body_is_covered_by_the_signature(live: LiveServer, unique: str) -> None:
    prepared = sign_request(
        live.creds,
        "POST",
        f"{live.endpoint}/domains/{unique}",
        body=b'{"DefaultExpirationDays": 5}',
        headers={"Content-Type": "application/json"},
    )
    prepared.body = b'{"DefaultExpirationDays": 9}'
    assert _status_and_code(send(prepared)) == (403, "AccessDeniedException")


def test_query_string_special_characters_end_to_end(live: LiveServer) -> None:
    # Signature checks pass; the (bogus) token is then rejected by the service, not by auth.
    with pytest.raises(ClientError) as error:
        live.client().list_domains(NextToken="a+b/c=d e&f~é*%2F", MaxResults=5)
    assert error.value.response["Error"]["Code"] == "BadRequestException"


def test_other_accounts_domains_are_invisible(live: LiveServer, unique: str) -> None:
    mine = live.client()
    mine.create_domain(DomainName=unique, DefaultExpirationDays=5, Tags={"owner": "me"})
    other_creds = _new_key(live, "456789012345")
    other = live.client(creds=other_creds)
    calls: list[Callable[[], Any]] = [
        lambda: other.get_domain(DomainName=unique),
        lambda: other.update_domain(DomainName=unique, DefaultExpirationDays=9),
        lambda: other.delete_domain(DomainName=unique),
        lambda: other.list_tags_for_resource(resourceArn=_profile_arn(live.creds.account_id, unique)),
        lambda: other.tag_resource(resourceArn=_profile_arn(live.creds.account_id, unique), tags={"x": "y"}),
    ]
    for call in calls:
        with pytest.raises(other.exceptions.ResourceNotFoundException) as error:
            call()
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert unique not in [d["DomainName"] for d in other.list_domains()["Items"]]
    assert mine.get_domain(DomainName=unique)["DefaultExpirationDays"] == 5
    assert mine.get_domain(DomainName=unique)["Tags"] == {"owner": "me"}
    # The account comes from the key: the other caller's ARNs carry its own account id.
    other.create_domain(DomainName=unique, DefaultExpirationDays=7)
    other.tag_resource(resourceArn=_profile_arn("456789012345", unique), tags={"k": "v"})
    assert other.get_domain(DomainName=unique)["Tags"] == {"k": "v"}
    # The region comes from the credential scope.
    west = live.client(region="eu-west-1")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_domain(DomainName=unique)
    west.create_domain(DomainName=unique, DefaultExpirationDays=2, Tags={"r": "west"})
    assert west.list_tags_for_resource(resourceArn=_profile_arn(live.creds.account_id, unique, "eu-west-1"))[
        "tags"
    ] == {"r": "west"}


def test_routing_by_scope_service(live: LiveServer, unique: str) -> None:
    live.client().create_domain(DomainName=unique, DefaultExpirationDays=5, Tags={"a": "1"})
    url = f"{live.endpoint}/tags/{percent_encode(_profile_arn(live.creds.account_id, unique))}"
    as_profile = send(sign_request(live.creds, "GET", url, service="profile"))
    assert as_profile.status_code == 200, as_profile.text
    assert as_profile.json() == {"tags": {"a": "1"}}
    # The same path signed for AppFlow reaches AppFlow, which owns no such ARN.
    as_appflow = send(sign_request(live.creds, "GET", url, service="appflow"))
    assert as_appflow.status_code == 400, as_appflow.text
    assert as_appflow.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "message" in as_appflow.json()  # AppFlow's casing
    # AppFlow's own operations are reached by its scope.
    appflow = live.client("appflow")
    try:
        assert "flows" in appflow.list_flows()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotImplemented"
        assert "ListFlows" in error.response["Error"]["Message"]


# --- open mode -----------------------------------------------------------------------------------


def test_open_mode_warns_and_creates_no_key(open_server: Server) -> None:
    assert "WARNING" in open_server.output
    assert "--auth open" in open_server.output
    assert "SecretAccessKey" not in open_server.output
    listed = json.loads(cli_in_process("keys", "list", "--json", *open_server.storage_args()).stdout)
    assert listed == []


def test_open_mode_accepts_unsigned_and_signed(open_server: Server, unique: str) -> None:
    response = httpx.post(
        f"{open_server.endpoint}/domains/{unique}",
        content=orjson.dumps({"DefaultExpirationDays": 4}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    unsigned = open_server.client("customer-profiles", None, signature_version=UNSIGNED)
    assert unsigned.get_domain(DomainName=unique)["DefaultExpirationDays"] == 4
    unsigned.tag_resource(resourceArn=_profile_arn("000000000000", unique), tags={"via": "unsigned"})
    # Any signature, even by an unknown key, is accepted as account 000000000000 ...
    signed = open_server.client("customer-profiles", Credentials("AKIAWHATEVER", "whatever", ""))
    assert signed.get_domain(DomainName=unique)["Tags"] == {"via": "unsigned"}
    # ... in the region of its scope.
    west = open_server.client("customer-profiles", Credentials("AKIAWHATEVER", "whatever", ""), region="eu-west-1")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_domain(DomainName=unique)
    west.create_domain(DomainName=unique + "w", DefaultExpirationDays=1)
    west.tag_resource(resourceArn=_profile_arn("000000000000", unique + "w", "eu-west-1"), tags={"r": "w"})
    assert unique + "w" not in [d["DomainName"] for d in unsigned.list_domains()["Items"]]


def test_open_mode_routes_unsigned_tags_by_arn(open_server: Server, unique: str) -> None:
    httpx.post(f"{open_server.endpoint}/domains/{unique}", json={"DefaultExpirationDays": 4, "Tags": {"t": "1"}})
    profile = httpx.get(f"{open_server.endpoint}/tags/{percent_encode(_profile_arn('000000000000', unique))}")
    assert profile.status_code == 200, profile.text
    assert profile.json() == {"tags": {"t": "1"}}
    flow_arn = "arn:aws:appflow:us-east-1:000000000000:flow/" + unique
    appflow = httpx.get(f"{open_server.endpoint}/tags/{quote(flow_arn, safe='')}")
    assert _status_and_code(appflow) == (404, "ResourceNotFoundException")
    assert "message" in appflow.json()  # answered by AppFlow
    # A request whose path fits neither service is an unknown operation, not a crash.
    assert httpx.get(f"{open_server.endpoint}/no/such/route").status_code == 404


@pytest.mark.parametrize("how", ["flag", "env"])
def test_open_mode_refuses_non_loopback(tmp_path: Path, how: str) -> None:
    port = str(free_port())
    if how == "flag":
        args = ["serve", "--auth", "open", "--host", "0.0.0.0", "--port", port, "--data-dir", str(tmp_path)]
        env: dict[str, str] = {}
    else:
        args = ["serve", "--port", port, "--data-dir", str(tmp_path)]
        env = {"OPENPROFILES_AUTH": "open", "OPENPROFILES_HOST": "0.0.0.0"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "openprofiles", *args],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, **env},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`serve --auth open --host 0.0.0.0` started instead of refusing")
    assert result.returncode != 0
    assert "loopback" in result.stderr
    assert "0.0.0.0" in result.stderr
