"""The console's side of sessions in process: CSRF tokens bound to the session cookie or to the
pre-session nonce, per purpose, and sessions carried through from the records (a fake service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from openprofiles.services.console_sessions import ConsoleSessionService, Throttled
from openprofiles.web.sessions import Session, Sessions


class Records:
    """The session records: one session, `good`, for account 111111111111."""

    lifetime = timedelta(hours=2)

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def sign_in(self, key_id: str, secret: str, address: str) -> str | Throttled | None:
        self.calls.append(("sign_in", (key_id, secret, address)))
        answers: dict[str, str | Throttled] = {"ok": "good", "busy": Throttled(7)}
        return answers.get(key_id)

    def sign_out(self, session_id: str | None) -> None:
        self.calls.append(("sign_out", session_id))

    def account_of(self, session_id: str | None) -> str | None:
        return "111111111111" if session_id == "good" else None


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def sessions(records: Records) -> Sessions:
    return Sessions(b"k" * 32, cast(ConsoleSessionService, records))


def test_a_session_carries_its_account_and_a_csrf_token_of_its_cookie(sessions: Sessions) -> None:
    session = sessions.current("good")
    assert isinstance(session, Session) and session.account_id == "111111111111"
    assert sessions.session_token_matches("good", session.csrf_token)
    assert not sessions.session_token_matches("other", session.csrf_token)
    assert sessions.current("unknown") is None and sessions.current(None) is None


def test_tokens_are_per_purpose_and_per_secret(sessions: Sessions, records: Records) -> None:
    nonce = sessions.new_nonce()
    token = sessions.sign_in_token(nonce)
    assert sessions.sign_in_token_matches(nonce, token)
    assert not sessions.session_token_matches(nonce, token)  # a sign-in token is no session token
    assert not Sessions(b"j" * 32, cast(ConsoleSessionService, records)).sign_in_token_matches(nonce, token)
    assert sessions.new_nonce() != nonce


@pytest.mark.parametrize(("value", "token"), [(None, "t"), ("", "t"), ("n", None), ("n", "")])
def test_missing_values_never_match(sessions: Sessions, value: str | None, token: str | None) -> None:
    assert not sessions.sign_in_token_matches(value, token)
    assert not sessions.session_token_matches(value, token)


def test_an_overlong_value_never_matches_even_its_own_token(sessions: Sessions) -> None:
    assert sessions.sign_in_token_matches("n" * 64, sessions.sign_in_token("n" * 64))
    assert not sessions.sign_in_token_matches("n" * 65, sessions.sign_in_token("n" * 65))


def test_sign_in_and_out_go_to_the_records(sessions: Sessions, records: Records) -> None:
    assert sessions.sign_in("ok", "secret", "192.0.2.1") == "good"
    assert sessions.sign_in("busy", "secret", "192.0.2.1") == Throttled(7)
    assert sessions.sign_in("bad", "secret", "192.0.2.1") is None
    sessions.sign_out("good")
    assert records.calls[-1] == ("sign_out", "good")
    assert sessions.lifetime == timedelta(hours=2)
