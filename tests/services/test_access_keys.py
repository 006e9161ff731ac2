"""services/access_keys.py on SQLite and PostgreSQL: key pairs created for an account, listed without
their secrets, revoked, and looked up with the secret for the signature check (a revocation seen at
once)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from openprofiles import errors
from openprofiles.app import Runtime, build_runtime
from openprofiles.services.access_keys import AccessKeyService, valid_account_id
from openprofiles.settings import Settings


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    built = build_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    yield built
    built.close()


@pytest.fixture
def keys(runtime: Runtime) -> AccessKeyService:
    return runtime.access_keys


def test_a_new_key_pair(keys: AccessKeyService) -> None:
    key = keys.create("123456789012")
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", key.secret_access_key)
    assert (key.account_id, key.active) == ("123456789012", True)
    assert keys.lookup(key.access_key_id) == key
    assert keys.create("123456789012").access_key_id != key.access_key_id


@pytest.mark.parametrize("account_id", ["12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２", ""])
def test_an_account_id_is_twelve_ascii_digits(keys: AccessKeyService, account_id: str) -> None:
    assert not valid_account_id(account_id)
    with pytest.raises(errors.Invalid, match="must be 12 digits"):
        keys.create(account_id)


def test_listed_without_secrets_and_revoked(keys: AccessKeyService) -> None:
    first, second = keys.create("111111111111"), keys.create("222222222222")
    assert keys.count() == 2
    listed = {s.access_key_id: s for s in keys.list()}
    assert set(listed) == {first.access_key_id, second.access_key_id}
    assert not hasattr(listed[first.access_key_id], "secret_access_key")
    assert listed[first.access_key_id].revoked_at is None

    keys.revoke(first.access_key_id)
    revoked = keys.lookup(first.access_key_id)
    assert revoked is not None and not revoked.active  # seen at once by the next signature check
    assert {s.access_key_id: s.active for s in keys.list()} == {first.access_key_id: False,
                                                               second.access_key_id: True}
    assert next(s for s in keys.list() if s.access_key_id == first.access_key_id).revoked_at is not None
    with pytest.raises(errors.NotFound):
        keys.revoke("AKIANOSUCHKEY0000000")


def test_an_unknown_key_is_none(keys: AccessKeyService) -> None:
    assert keys.lookup("AKIANOSUCHKEY0000000") is None


def test_the_secret_is_stored_sealed(runtime: Runtime, keys: AccessKeyService) -> None:
    key = keys.create("111111111111")
    with runtime.db.read() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM access_keys"))
    assert key.access_key_id in dump and key.secret_access_key not in dump


def test_a_secret_is_decrypted_once(keys: AccessKeyService, monkeypatch: pytest.MonkeyPatch) -> None:
    key = keys.create("111111111111")
    opened: list[bytes] = []
    real_open = keys.envelope.open

    def counting_open(sealed: bytes, aad: bytes) -> bytes:
        opened.append(aad)
        return real_open(sealed, aad)

    monkeypatch.setattr(keys.envelope, "open", counting_open)
    assert keys.lookup(key.access_key_id) == key == keys.lookup(key.access_key_id)
    assert opened == [key.access_key_id.encode()]
