"""The once-keyed HMAC gives exactly what hmac.digest gives."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from openprofiles.crypto.blind_index import HmacSha256


@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=500))
def test_matches_the_standard_library(key: bytes, message: bytes) -> None:
    assert HmacSha256(key).digest(message) == hmac.digest(key, message, "sha256")


def test_one_instance_serves_many_messages() -> None:
    mac = HmacSha256(b"k" * 32)
    for message in (b"", b"a@example.com", b"+15551234567", b"a@example.com"):
        assert mac.digest(message) == hmac.digest(b"k" * 32, message, "sha256")
